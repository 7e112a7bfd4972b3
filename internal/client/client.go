// Package client is tortie's typed access to projectcalico.org/v3 resources
// on top of a datastore.Store, playing the role of Calico's clientv3: it
// applies defaults and validation on every write, keeps the stored JSON
// exactly as Calico stores it (no resourceVersion; uid and
// creationTimestamp set on create), reports the store's revision as
// resourceVersion, and bootstraps the cluster objects on the first write.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// Client reads and writes v3 resources. It is safe for concurrent use.
type Client struct {
	store  datastore.Store
	now    func() time.Time
	newUID func() string

	initMu sync.Mutex
	inited bool
}

// Option configures a Client.
type Option func(*Client)

// WithClock replaces the clock used for creationTimestamp (tests).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithUIDs replaces the generator of metadata.uid (tests).
func WithUIDs(newUID func() string) Option { return func(c *Client) { c.newUID = newUID } }

// New wraps a Store.
func New(store datastore.Store, opts ...Option) *Client {
	c := &Client{store: store, now: time.Now, newUID: uuid.NewString}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Store returns the underlying store (for IPAM and watchers).
func (c *Client) Store() datastore.Store { return c.store }

// Close closes the underlying store.
func (c *Client) Close() error { return c.store.Close() }

// Key returns the etcd key of a resource.
func Key(r v3.Resource) string {
	ki := v3.KindOf(r)
	m := r.GetObjectMeta()
	return datastore.ResourceKey(ki.Plural, m.Namespace, m.Name)
}

// Get reads one resource. A missing resource gives an error wrapping
// datastore.ErrNotFound that names the kind and name.
func (c *Client) Get(ctx context.Context, kind v3.KindInfo, namespace, name string) (v3.Resource, error) {
	if !kind.Namespaced {
		namespace = ""
	}
	kv, err := c.store.Get(ctx, datastore.ResourceKey(kind.Plural, namespace, name))
	if err != nil {
		if errors.Is(err, datastore.ErrNotFound) {
			if r, ok := synthesized(kind, name); ok {
				return r, nil
			}
		}
		return nil, describe(kind.Kind, namespace, name, err)
	}
	return decode(kind, kv)
}

// List reads every resource of a kind; namespace "" lists all namespaces.
// It returns the store revision of the listing.
func (c *Client) List(ctx context.Context, kind v3.KindInfo, namespace string) ([]v3.Resource, int64, error) {
	prefix := datastore.ResourceListPrefix(kind.Plural, "")
	if kind.Namespaced && namespace != "" {
		prefix = datastore.ResourceListPrefix(kind.Plural, namespace)
	}
	kvs, rev, err := c.store.List(ctx, prefix)
	if err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", kind.Plural, err)
	}
	out := make([]v3.Resource, 0, len(kvs))
	for _, kv := range kvs {
		if _, _, ok := datastore.SplitResourceKey(kind.Plural, kv.Key, kind.Namespaced); !ok {
			continue
		}
		r, err := decode(kind, kv)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	out = appendSynthesized(kind, namespace, out)
	return out, rev, nil
}

// Create writes a new resource after defaulting and validating it.
func (c *Client) Create(ctx context.Context, r v3.Resource) (v3.Resource, error) {
	if err := c.prepare(ctx, r, nil); err != nil {
		return nil, err
	}
	if err := c.ensureInitialized(ctx); err != nil {
		return nil, err
	}
	return c.create(ctx, r)
}

// create stores a prepared resource.
func (c *Client) create(ctx context.Context, r v3.Resource) (v3.Resource, error) {
	m := r.GetObjectMeta()
	m.UID = c.newUID()
	m.CreationTimestamp = c.now().UTC().Format(time.RFC3339)
	val, err := encode(r)
	if err != nil {
		return nil, err
	}
	rev, err := c.store.Create(ctx, Key(r), val)
	if err != nil {
		return nil, describe(v3.KindOf(r).Kind, m.Namespace, m.Name, err)
	}
	m.ResourceVersion = strconv.FormatInt(rev, 10)
	return r, nil
}

// Update replaces an existing resource. When r carries a resourceVersion
// the write is compare-and-swap on it; otherwise it replaces whatever is
// stored. uid and creationTimestamp are kept from the stored object.
func (c *Client) Update(ctx context.Context, r v3.Resource) (v3.Resource, error) {
	ki := v3.KindOf(r)
	m := r.GetObjectMeta()
	var rev int64
	if m.ResourceVersion != "" {
		var err error
		if rev, err = strconv.ParseInt(m.ResourceVersion, 10, 64); err != nil || rev <= 0 {
			return nil, fmt.Errorf("%s %q: metadata.resourceVersion = %q: must be a positive integer", ki.Kind, m.Name, m.ResourceVersion)
		}
	}
	old, err := c.Get(ctx, ki, m.Namespace, m.Name)
	if err != nil {
		return nil, err
	}
	oldRev, _ := strconv.ParseInt(old.GetObjectMeta().ResourceVersion, 10, 64)
	if rev != 0 && rev != oldRev {
		return nil, describe(ki.Kind, m.Namespace, m.Name, datastore.ErrConflict)
	}
	return c.replace(ctx, r, old, oldRev)
}

// replace writes r over old (read at oldRev) with CAS on oldRev.
func (c *Client) replace(ctx context.Context, r, old v3.Resource, oldRev int64) (v3.Resource, error) {
	if err := c.prepare(ctx, r, old); err != nil {
		return nil, err
	}
	if err := c.ensureInitialized(ctx); err != nil {
		return nil, err
	}
	m, om := r.GetObjectMeta(), old.GetObjectMeta()
	m.UID, m.CreationTimestamp = om.UID, om.CreationTimestamp
	val, err := encode(r)
	if err != nil {
		return nil, err
	}
	rev, err := c.store.Update(ctx, Key(r), val, oldRev)
	if err != nil {
		return nil, describe(v3.KindOf(r).Kind, m.Namespace, m.Name, err)
	}
	m.ResourceVersion = strconv.FormatInt(rev, 10)
	return r, nil
}

// Apply creates the resource or replaces the stored one, retrying when
// someone else writes in between.
func (c *Client) Apply(ctx context.Context, r v3.Resource) (v3.Resource, error) {
	ki := v3.KindOf(r)
	m := r.GetObjectMeta()
	for attempt := 0; ; attempt++ {
		old, err := c.Get(ctx, ki, m.Namespace, m.Name)
		var out v3.Resource
		switch {
		case errors.Is(err, datastore.ErrNotFound):
			m.ResourceVersion = ""
			out, err = c.Create(ctx, r)
		case err != nil:
			return nil, err
		default:
			oldRev, _ := strconv.ParseInt(old.GetObjectMeta().ResourceVersion, 10, 64)
			m.ResourceVersion = ""
			out, err = c.replace(ctx, r, old, oldRev)
		}
		retry := errors.Is(err, datastore.ErrConflict) || errors.Is(err, datastore.ErrAlreadyExists) || errors.Is(err, datastore.ErrNotFound)
		if err == nil || !retry || attempt >= maxRetries {
			return out, err
		}
	}
}

// maxRetries bounds the read-modify-write loops under contention.
const maxRetries = 20

// Delete removes a resource. rev, when non-empty, makes it a
// compare-and-swap delete. It returns the deleted resource.
func (c *Client) Delete(ctx context.Context, kind v3.KindInfo, namespace, name, rev string) (v3.Resource, error) {
	if !kind.Namespaced {
		namespace = ""
	}
	var r int64
	if rev != "" {
		var err error
		if r, err = strconv.ParseInt(rev, 10, 64); err != nil {
			return nil, fmt.Errorf("%s %q: resourceVersion = %q: must be an integer", kind.Kind, name, rev)
		}
	}
	kv, err := c.store.Delete(ctx, datastore.ResourceKey(kind.Plural, namespace, name), r)
	if err != nil {
		return nil, describe(kind.Kind, namespace, name, err)
	}
	return decode(kind, kv)
}

// prepare defaults and validates r for a write over old (nil on create).
func (c *Client) prepare(ctx context.Context, r, old v3.Resource) error {
	ki := v3.KindOf(r)
	m := r.GetObjectMeta()
	if ki.Namespaced && m.Namespace == "" {
		m.Namespace = "default"
	}
	if !ki.Namespaced {
		m.Namespace = ""
	}
	v3.Default(r)
	if err := v3.Validate(r); err != nil {
		return err
	}
	if old != nil {
		if err := v3.ValidateUpdate(old, r); err != nil {
			return err
		}
	}
	switch o := r.(type) {
	case *v3.IPPool:
		return c.checkPoolOverlap(ctx, o)
	case *v3.NetworkPolicy:
		return c.checkTier(ctx, r, o.Spec.Tier)
	case *v3.GlobalNetworkPolicy:
		return c.checkTier(ctx, r, o.Spec.Tier)
	}
	return nil
}

func (c *Client) checkPoolOverlap(ctx context.Context, p *v3.IPPool) error {
	kind, _ := v3.LookupKind("IPPool")
	all, _, err := c.List(ctx, kind, "")
	if err != nil {
		return err
	}
	others := make([]*v3.IPPool, 0, len(all))
	for _, o := range all {
		if op := o.(*v3.IPPool); op.Name != p.Name {
			others = append(others, op)
		}
	}
	return v3.ValidatePoolOverlap(p, others)
}

// encode is the stored form: the whole object without resourceVersion.
func encode(r v3.Resource) ([]byte, error) {
	m := r.GetObjectMeta()
	rv := m.ResourceVersion
	m.ResourceVersion = ""
	defer func() { m.ResourceVersion = rv }()
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", v3.KindOf(r).Kind, m.Name, err)
	}
	return b, nil
}

// decode reads a stored value and reports the key's revision as resourceVersion.
// Decode turns a stored key/value of a kind into its resource, as Get
// and List do (for readers that take one listing of many kinds at once).
func Decode(kind v3.KindInfo, kv datastore.KV) (v3.Resource, error) { return decode(kind, kv) }

func decode(kind v3.KindInfo, kv datastore.KV) (v3.Resource, error) {
	r := kind.New()
	if err := json.Unmarshal(kv.Value, r); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
	}
	tm := r.GetTypeMeta()
	tm.Kind, tm.APIVersion = kind.Kind, v3.APIVersion
	r.GetObjectMeta().ResourceVersion = strconv.FormatInt(kv.Revision, 10)
	return r, nil
}

// describe turns a store error into one that names the resource, keeping
// the sentinel for errors.Is.
func describe(kind, namespace, name string, err error) error {
	id := fmt.Sprintf("%s(%s)", kind, name)
	if namespace != "" {
		id = fmt.Sprintf("%s(%s/%s)", kind, namespace, name)
	}
	for _, s := range []error{datastore.ErrNotFound, datastore.ErrAlreadyExists, datastore.ErrConflict} {
		if errors.Is(err, s) {
			return &ResourceError{ID: id, Err: s}
		}
	}
	return fmt.Errorf("%s: %w", id, err)
}

// ResourceError is a store error about one resource, worded as calicoctl
// words it ("resource does not exist: IPPool(pool1)").
type ResourceError struct {
	ID  string
	Err error
}

func (e *ResourceError) Error() string { return fmt.Sprintf("%v: %s", e.Err, e.ID) }
func (e *ResourceError) Unwrap() error { return e.Err }

// ListKinds lists every resource of the named kinds, in all namespaces.
func (c *Client) ListKinds(ctx context.Context, kinds ...string) ([]v3.Resource, error) {
	var out []v3.Resource
	for _, k := range kinds {
		ki, ok := v3.LookupKind(k)
		if !ok {
			return nil, fmt.Errorf("unknown kind %q", k)
		}
		rs, _, err := c.List(ctx, ki, "")
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}
