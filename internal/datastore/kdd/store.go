package kdd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// Config says which apiserver to use and how.
type Config struct {
	// Kubeconfig is the kubeconfig file; empty means in-cluster (the
	// pod's service account).
	Kubeconfig string
	// Context is the kubeconfig context (its current-context when empty).
	Context string
	// Namespace holds the ConfigMaps of keys no Calico kind holds
	// (DefaultNamespace when empty).
	Namespace string
}

// DefaultNamespace is where tortie keeps its own keys.
const DefaultNamespace = "kube-system"

// Store is the Kubernetes datastore: datastore.Store over kube-apiserver.
type Store struct {
	c    *client
	maps []*mapping // most specific first; the fallback last

	// snap is the last List's objects, which a Watch from that List's
	// revision uses instead of listing again (ListWatch does List, then
	// Watch): one slot, taken by the Watch.
	snapMu sync.Mutex
	snap   *snapshot

	// prefetched holds objects Prefetch read, each for the one Create of
	// its key that follows.
	prefetchMu sync.Mutex
	prefetched map[string]*object
	// lastRead is the last Get of a key held by a Kubernetes object
	// (a Pod, a Node), for a Delete of it at that revision to skip reading
	// it again (the CNI plugin's DEL reads the endpoint, then deletes it).
	lastRead lastRead
}

type lastRead struct {
	key string
	kv  datastore.KV
	obj *object
}

type snapshot struct {
	prefix string
	rev    int64
	objs   map[*mapping][]listed
}

// takeSnapshot returns the objects of the last List of prefix if it was
// taken at rev, and empties the slot.
func (s *Store) takeSnapshot(prefix string, rev int64) map[*mapping][]listed {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	sn := s.snap
	if sn == nil || sn.prefix != prefix || sn.rev != rev || rev == 0 {
		return nil
	}
	s.snap = nil
	return sn.objs
}

var _ datastore.Store = (*Store)(nil)

// Open connects as cfg says. It does not contact the apiserver.
func Open(cfg Config) (*Store, error) {
	var conn Conn
	var err error
	if cfg.Kubeconfig != "" {
		conn, err = LoadKubeconfig(cfg.Kubeconfig, cfg.Context)
	} else {
		conn, err = InCluster()
	}
	if err != nil {
		return nil, err
	}
	return New(conn, cfg.Namespace)
}

// New returns a Store on conn; namespace is Config.Namespace.
func New(conn Conn, namespace string) (*Store, error) {
	c, err := newClient(conn)
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = DefaultNamespace
	}
	s := &Store{c: c}
	for _, k := range v3.Kinds() {
		switch k.Kind {
		case "Node":
			s.maps = append(s.maps, nodeMapping())
		case "WorkloadEndpoint":
			s.maps = append(s.maps, wepMapping())
		case "Profile":
			s.maps = append(s.maps, profileMappings()...)
		default:
			s.maps = append(s.maps, v3Mapping(k))
		}
	}
	s.maps = append(s.maps, knpMapping(), blockMapping(), affinityMapping(), handleMapping(), configMapping(), kvMapping(namespace))
	return s, nil
}

// Close implements datastore.Store.
func (s *Store) Close() error {
	s.c.http.CloseIdleConnections()
	return nil
}

// find returns the mapping of key and its object's namespace and name.
// A key under one of Calico's prefixes that no mapping takes (a malformed
// one) is refused: the fallback holds only keys outside them.
func (s *Store) find(key string) (*mapping, string, string, error) {
	for _, m := range s.maps {
		if !strings.HasPrefix(key, m.prefix) {
			continue
		}
		if ns, name, ok := m.objName(key); ok {
			if m == s.fallback() && s.owned(key) {
				break
			}
			return m, ns, name, nil
		}
	}
	return nil, "", "", fmt.Errorf("%s: not a key the Kubernetes datastore can hold (malformed for its kind)", key)
}

// Calico's key spaces: a prefix under one of them is held by the Calico
// mappings alone.
var ownedPrefixes = []string{datastore.ResourcePrefix, ipamRoot}

func (s *Store) owned(prefix string) bool {
	for _, p := range ownedPrefixes {
		if strings.HasPrefix(prefix, p) {
			return true
		}
	}
	return false
}

func (s *Store) fallback() *mapping { return s.maps[len(s.maps)-1] }

// mappingsFor returns the mappings that may hold keys under prefix.
func (s *Store) mappingsFor(prefix string) []*mapping {
	var out []*mapping
	for _, m := range s.maps {
		if m.overlaps(prefix) && !(m == s.fallback() && s.owned(prefix)) {
			out = append(out, m)
		}
	}
	return out
}

// Get implements datastore.Store.
func (s *Store) Get(ctx context.Context, key string) (datastore.KV, error) {
	kv, _, err := s.get(ctx, key)
	return kv, err
}

// get returns key's KV and the object that holds it.
func (s *Store) get(ctx context.Context, key string) (datastore.KV, *object, error) {
	m, ns, name, err := s.find(key)
	if err != nil {
		return datastore.KV{}, nil, err
	}
	if m.fixed != nil {
		k, v := m.fixed()
		return datastore.KV{Key: k, Value: v, Revision: fixedRevision}, nil, nil
	}
	o, raw, err := s.c.get(ctx, m.res, ns, name)
	if err != nil {
		return datastore.KV{}, nil, s.wrap(key, m, err)
	}
	kv, ok, err := m.kvOf(o, raw)
	if err != nil {
		return datastore.KV{}, nil, fmt.Errorf("%s: %w", key, err)
	}
	if !ok || kv.Key != key {
		return datastore.KV{}, o, datastore.NewKeyError(key, datastore.ErrNotFound)
	}
	if m.style == stylePatch {
		s.prefetchMu.Lock()
		s.lastRead = lastRead{key: key, kv: kv, obj: o}
		s.prefetchMu.Unlock()
	}
	return kv, o, nil
}

// readAt returns the object of key as the last Get read it, if that was
// at revision rev.
func (s *Store) readAt(key string, rev int64) (datastore.KV, *object, bool) {
	s.prefetchMu.Lock()
	defer s.prefetchMu.Unlock()
	r := s.lastRead
	if rev == 0 || r.key != key || r.kv.Revision != rev {
		return datastore.KV{}, nil, false
	}
	s.lastRead = lastRead{}
	return r.kv, r.obj, true
}

// wrap names the key in a datastore sentinel error, and the CRD in a
// missing-resource error.
func (s *Store) wrap(key string, m *mapping, err error) error {
	switch {
	case errors.Is(err, ErrNotServed):
		return fmt.Errorf("%s: the apiserver does not serve %s: install tortie's CRDs (deploy/crds.yaml): %w", key, m.res, err)
	case errors.Is(err, datastore.ErrNotFound):
		return datastore.NewKeyError(key, datastore.ErrNotFound)
	case errors.Is(err, datastore.ErrAlreadyExists):
		return datastore.NewKeyError(key, datastore.ErrAlreadyExists)
	case errors.Is(err, datastore.ErrConflict):
		return datastore.NewKeyError(key, datastore.ErrConflict)
	case errors.Is(err, datastore.ErrCompacted):
		return datastore.NewKeyError(key, datastore.ErrCompacted)
	}
	return err
}

// List implements datastore.Store. Every resource under prefix is listed
// at one resourceVersion (the first list's; the others Exact at it), so
// the listing is one snapshot and a watch from its revision misses nothing.
func (s *Store) List(ctx context.Context, prefix string) ([]datastore.KV, int64, error) {
	var out []datastore.KV
	rv := ""
	objs := map[*mapping][]listed{}
	for _, m := range s.mappingsFor(prefix) {
		l, listRV, err := s.listObjects(ctx, m, prefix, listOpts{rv: rv, exact: rv != ""})
		if err != nil {
			return nil, 0, err
		}
		objs[m] = l
		for _, lo := range l {
			out = append(out, lo.kv)
		}
		if rv == "" {
			rv = listRV
		}
	}
	slices.SortFunc(out, func(a, b datastore.KV) int { return strings.Compare(a.Key, b.Key) })
	if rv == "" {
		return out, 0, fmt.Errorf("list %s: no resource holds keys under it", prefix)
	}
	s.snapMu.Lock()
	s.snap = &snapshot{prefix: prefix, rev: parseRV(rv), objs: objs}
	s.snapMu.Unlock()
	return out, parseRV(rv), nil
}

// listed is one listed object that holds a key under the listed prefix.
type listed struct {
	id string // namespace/name
	kv datastore.KV
}

// listObjects lists m's objects and returns those holding keys under prefix.
func (s *Store) listObjects(ctx context.Context, m *mapping, prefix string, o listOpts) ([]listed, string, error) {
	if m.fixed != nil {
		k, v := m.fixed()
		if !strings.HasPrefix(k, prefix) {
			return nil, "", nil
		}
		return []listed{{kv: datastore.KV{Key: k, Value: v, Revision: fixedRevision}}}, "", nil
	}
	o.labelSelector = m.selector
	if m.fieldSelector != nil {
		o.fieldSelector = m.fieldSelector(prefix)
	}
	items, rv, err := s.c.list(ctx, m.res, m.listNamespace(), o)
	if err != nil {
		return nil, "", s.wrap(prefix, m, err)
	}
	var out []listed
	for _, raw := range items {
		var obj object
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, "", fmt.Errorf("list %s: %w", m.res, err)
		}
		kv, ok, err := m.kvOf(&obj, raw)
		if err != nil {
			return nil, "", fmt.Errorf("list %s: %w", m.res, err)
		}
		if ok && strings.HasPrefix(kv.Key, prefix) {
			out = append(out, listed{id: obj.Metadata.Namespace + "/" + obj.Metadata.Name, kv: kv})
		}
	}
	return out, rv, nil
}

// ListKeys implements datastore.Store.
func (s *Store) ListKeys(ctx context.Context, prefix string) ([]datastore.KV, int64, error) {
	kvs, rev, err := s.List(ctx, prefix)
	for i := range kvs {
		kvs[i].Value = nil
	}
	return kvs, rev, err
}

// Create implements datastore.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	m, ns, name, err := s.find(key)
	if err != nil {
		return 0, err
	}
	switch m.style {
	case styleReadOnly:
		return 0, readOnly(key, m)
	case stylePatch:
		return s.patchCreate(ctx, key, value, m, ns, name)
	}
	obj, err := m.toObj(key, value)
	if err != nil {
		return 0, err
	}
	var out object
	if err := s.c.call(ctx, http.MethodPost, m.res.path(ns, ""), nil, obj, &out); err != nil {
		return 0, s.wrap(key, m, err)
	}
	return out.rev(), nil
}

func readOnly(key string, m *mapping) error {
	return fmt.Errorf("%s: read-only in the Kubernetes datastore: derived from %s", key, m.res)
}

// Update implements datastore.Store: a replace (or a patch) conditional
// on resourceVersion = rev.
func (s *Store) Update(ctx context.Context, key string, value []byte, rev int64) (int64, error) {
	for {
		n, err := s.update(ctx, key, value, rev)
		if rev != 0 || !errors.Is(err, datastore.ErrConflict) {
			return n, err
		}
	}
}

func (s *Store) update(ctx context.Context, key string, value []byte, rev int64) (int64, error) {
	m, ns, name, err := s.find(key)
	if err != nil {
		return 0, err
	}
	if m.style == styleReadOnly {
		return 0, readOnly(key, m)
	}
	var out object
	if m.style == styleObject && rev != 0 {
		// One request: the replace's resourceVersion is the condition.
		obj, err := m.toObj(key, value)
		if err != nil {
			return 0, err
		}
		obj.Metadata.ResourceVersion = strconv.FormatInt(rev, 10)
		err = s.c.call(ctx, http.MethodPut, m.res.path(ns, name), nil, obj, &out)
		return out.rev(), s.wrap(key, m, err)
	}
	cur, o, err := s.get(ctx, key)
	if err != nil {
		return 0, err
	}
	if rev != 0 && cur.Revision != rev {
		return 0, datastore.NewKeyError(key, datastore.ErrConflict)
	}
	if m.style == stylePatch {
		p, err := m.patch(key, value, o)
		if err != nil {
			return 0, err
		}
		withRV(p, o.Metadata.ResourceVersion)
		err = s.c.call(ctx, http.MethodPatch, m.res.path(ns, name), nil, p, &out)
		return out.rev(), s.wrap(key, m, err)
	}
	obj, err := m.toObj(key, value)
	if err != nil {
		return 0, err
	}
	obj.Metadata.ResourceVersion = o.Metadata.ResourceVersion
	err = s.c.call(ctx, http.MethodPut, m.res.path(ns, name), nil, obj, &out)
	return out.rev(), s.wrap(key, m, err)
}

// withRV makes a merge patch conditional on the object's resourceVersion.
func withRV(p map[string]any, rv string) {
	md, _ := p["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		p["metadata"] = md
	}
	md["resourceVersion"] = rv
}

// Delete implements datastore.Store.
func (s *Store) Delete(ctx context.Context, key string, rev int64) (datastore.KV, error) {
	for {
		kv, err := s.delete(ctx, key, rev)
		if rev != 0 || !errors.Is(err, datastore.ErrConflict) {
			return kv, err
		}
	}
}

func (s *Store) delete(ctx context.Context, key string, rev int64) (datastore.KV, error) {
	m, ns, name, err := s.find(key)
	if err != nil {
		return datastore.KV{}, err
	}
	if m.style == styleReadOnly {
		return datastore.KV{}, readOnly(key, m)
	}
	// A Pod's or Node's key read at rev just before: the PATCH below is
	// conditional on that resourceVersion, so it need not be read again.
	cur, o, ok := s.readAt(key, rev)
	if !ok {
		cur, o, err = s.get(ctx, key)
	}
	if err != nil {
		return datastore.KV{}, err
	}
	if rev != 0 && cur.Revision != rev {
		return datastore.KV{}, datastore.NewKeyError(key, datastore.ErrConflict)
	}
	if m.style == stylePatch {
		p := m.clear(key, o)
		withRV(p, o.Metadata.ResourceVersion)
		err = s.c.call(ctx, http.MethodPatch, m.res.path(ns, name), nil, p, nil)
	} else {
		err = s.c.call(ctx, http.MethodDelete, m.res.path(ns, name), nil, deleteAt(o.Metadata.ResourceVersion), nil)
	}
	if err != nil {
		return datastore.KV{}, s.wrap(key, m, err)
	}
	return cur, nil
}

func deleteAt(rv string) map[string]any {
	return map[string]any{"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": map[string]any{"resourceVersion": rv}}
}

// patchCreate "creates" a key held by an object tortie does not own (a
// Node, a Pod): the object must exist and hold no value for the key yet.
func (s *Store) patchCreate(ctx context.Context, key string, value []byte, m *mapping, ns, name string) (int64, error) {
	if o := s.takePrefetched(key); o != nil {
		rev, err := s.patchAt(ctx, key, value, m, ns, name, o)
		if !errors.Is(err, datastore.ErrConflict) {
			return rev, err
		}
		// Changed since it was read: read it again.
	}
	_, o, err := s.get(ctx, key)
	if err == nil {
		return 0, datastore.NewKeyError(key, datastore.ErrAlreadyExists)
	}
	if o == nil {
		if errors.Is(err, datastore.ErrNotFound) {
			return 0, fmt.Errorf("%s: the Kubernetes %s %s does not exist (in the Kubernetes datastore, Kubernetes creates it)", key, m.res.kind, name)
		}
		return 0, err
	}
	return s.patchAt(ctx, key, value, m, ns, name, o)
}

// patchAt writes value into o's annotations, on condition that o is
// unchanged (its resourceVersion).
func (s *Store) patchAt(ctx context.Context, key string, value []byte, m *mapping, ns, name string, o *object) (int64, error) {
	p, err := m.patch(key, value, o)
	if err != nil {
		return 0, err
	}
	withRV(p, o.Metadata.ResourceVersion)
	var out object
	err = s.c.call(ctx, http.MethodPatch, m.res.path(ns, name), nil, p, &out)
	return out.rev(), s.wrap(key, m, err)
}

// Prefetch reads, ahead of time, the Kubernetes object (a Pod, a Node)
// that a Create of key writes into, for a caller that knows what it will
// write and has other work to do meanwhile (the CNI plugin, while it
// sets up the interfaces). The Create that follows then patches at the
// resourceVersion read here instead of reading it first; if the object
// has changed since, it reads it again. Keys of other kinds, and a key
// whose resource is not there, are not kept.
func (s *Store) Prefetch(ctx context.Context, key string) error {
	m, _, _, err := s.find(key)
	if err != nil || m.style != stylePatch {
		return err
	}
	_, o, err := s.get(ctx, key)
	switch {
	case o == nil && errors.Is(err, datastore.ErrNotFound):
		return nil // no such Pod: the Create says so
	case o == nil:
		return err
	case err == nil:
		return nil // the key exists already: the Create fails
	}
	s.prefetchMu.Lock()
	defer s.prefetchMu.Unlock()
	if s.prefetched == nil {
		s.prefetched = map[string]*object{}
	}
	s.prefetched[key] = o
	return nil
}

// takePrefetched returns what Prefetch read for key, once.
func (s *Store) takePrefetched(key string) *object {
	s.prefetchMu.Lock()
	defer s.prefetchMu.Unlock()
	o := s.prefetched[key]
	delete(s.prefetched, key)
	return o
}
