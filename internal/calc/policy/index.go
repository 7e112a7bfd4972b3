package policy

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
)

// Index keeps what selectors match (endpoints and network sets) as the
// resources come, change and go, and for every selector in use its
// members. A change to one entity evaluates only the selectors that may
// match it before or after (found by the label each selector requires,
// selector.Required); a selector new to the Index is evaluated over the
// entities that carry its required label (see byLabel), and is kept up
// to date from then on. The node agent feeds it every endpoint change and
// compiles the Program with it (Builder.BuildIndexed), so a change costs
// in proportion to the selectors it touches.
//
// The members a Program gets (Members, NamedPort) are never changed in
// place: a selector whose members change gets new slices, so a dataplane
// may keep what it derived from a slice while it gets the same one.
// Pure and deterministic; not safe for concurrent use.
type Index struct {
	node string
	// entities are the entities by id (see workloadID), each with the
	// resource it was derived from, to derive it again when a profile
	// changes.
	entities map[string]indexed
	// byLabel holds the entities by label, for the label keys selectors
	// have required (indexed from the first such selector on: an index of
	// every label would cost about 40 MB at 100,000 endpoints).
	byLabel map[string]map[string]idSet
	// byProfile holds the entities by profile, but for the compact
	// workloads of a Shared value (most of them, in a large cluster): a
	// profile of theirs that changes is found in shared, and they are
	// found among all the entities then (a profile's labels change
	// rarely; two entries per endpoint would cost about 7 MB at 100,000).
	byProfile map[string]idSet
	profiles  map[string]map[string]string // labelsToApply by profile name
	// shared holds, by WorkloadInfo.Shared, what the compact workloads of
	// one Shared value share (see PutCompactWorkload).
	shared map[any]*sharedAttrs
	local  map[string]*Entity // the entities on node that have an interface

	sels     map[string]*selState // by EntitySelector.Key
	selByKV  map[string]map[string]idSet
	selByKey map[string]idSet // selectors requiring a key with any value
	selAny   idSet            // selectors requiring no label
	rev      uint64           // bumped on every change of a selector's members
	round    uint64           // see Sweep
}

type idSet = map[string]struct{}

// indexed is an entity and the resource it was derived from.
type indexed struct {
	e *Entity
	r any
}

// selState is a selector in use and its members.
type selState struct {
	sel     *EntitySelector
	members map[string]*Entity // by entity id
	rev     uint64             // the Index's rev when the members last changed
	// addrs are the members' nets, sorted, each once (count says how many
	// members hold it); a change makes a new slice, patched from the last.
	addrs []netip.Prefix
	count map[netip.Prefix]int
	named map[string][]AddrPort // named-port members by port name, while rev stands
	used  uint64                // the round it was last used in
}

// patch takes nets del out of s.addrs and adds nets add, in a new slice.
func (s *selState) patch(del, add []netip.Prefix) {
	var out, in []netip.Prefix
	for _, n := range del {
		if s.count[n]--; s.count[n] <= 0 {
			delete(s.count, n)
			out = append(out, n)
		}
	}
	for _, n := range add {
		if s.count[n]++; s.count[n] == 1 {
			in = append(in, n)
		}
	}
	if len(out) == 0 && len(in) == 0 {
		return
	}
	gone := make(map[netip.Prefix]bool, len(out))
	for _, n := range out {
		gone[n] = !slices.Contains(in, n)
	}
	in = slices.DeleteFunc(in, func(n netip.Prefix) bool { _, ok := gone[n]; return ok && !gone[n] })
	slices.SortFunc(in, comparePrefix)
	next := make([]netip.Prefix, 0, len(s.addrs)+len(in))
	j := 0
	for _, a := range s.addrs {
		if gone[a] {
			continue
		}
		for j < len(in) && comparePrefix(in[j], a) < 0 {
			next = append(next, in[j])
			j++
		}
		next = append(next, a)
	}
	s.addrs = append(next, in[j:]...)
}

// NewIndex is an empty Index; Local lists the entities on node.
func NewIndex(node string) *Index {
	return &Index{node: node, entities: map[string]indexed{},
		byLabel: map[string]map[string]idSet{}, byProfile: map[string]idSet{}, profiles: map[string]map[string]string{},
		shared: map[any]*sharedAttrs{}, local: map[string]*Entity{}, sels: map[string]*selState{}, selByKV: map[string]map[string]idSet{},
		selByKey: map[string]idSet{}, selAny: idSet{}}
}

// PutWorkload adds or replaces a WorkloadEndpoint.
func (x *Index) PutWorkload(w *v3.WorkloadEndpoint) {
	x.put(workloadID(w.Namespace+"/"+w.Name), w)
}

// DeleteWorkload removes a WorkloadEndpoint.
func (x *Index) DeleteWorkload(namespace, name string) {
	x.set(workloadID(namespace+"/"+name), nil, nil, false)
}

// workloadID is the id of the workload of a key: the key itself (no
// copy), unless it starts with a NUL. The ids of the other kinds start
// with one ("\x00h/", "\x00s/", "\x00g/"), as those of such
// workloads do ("\x00w/"): no two entities share an id.
func workloadID(key string) string {
	if strings.HasPrefix(key, "\x00") {
		return "\x00w/" + key
	}
	return key
}

// sharedAttrs are the effective labels, named ports and signature the
// compact workloads of one Shared value have in common; n counts them.
type sharedAttrs struct {
	like     *Entity  // its EntityAttrs only (see workloadInfoEntity)
	profiles []string // theirs
	n        int
}

// PutCompactWorkload adds or replaces a workload endpoint kept in a
// compact form (read through WorkloadInfo; a changed one is a new value,
// as in Input.Workloads). The Index keeps w itself, not its
// WorkloadInfo, and workloads of one Shared value share their effective
// labels, as in Build: a replica costs its entity, not a copy of its
// labels.
func (x *Index) PutCompactWorkload(w Workload) {
	wi := w.WorkloadInfo()
	x.set(workloadID(workloadKey(wi)), x.compactEntity(wi), w, wi.Shared == nil)
}

// DeleteWorkloadKey removes a workload endpoint by its key,
// "<namespace>/<name>", however it was put.
func (x *Index) DeleteWorkloadKey(key string) { x.set(workloadID(key), nil, nil, false) }

// compactEntity is the entity of w, sharing what its Shared value's
// workloads share; it counts w as one of them (set releases it).
func (x *Index) compactEntity(w WorkloadInfo) *Entity {
	if w.Shared == nil {
		return workloadInfoEntity(w, x.profileLabels, nil)
	}
	sh := x.shared[w.Shared]
	if sh == nil {
		sh = &sharedAttrs{profiles: w.Profiles}
		x.shared[w.Shared] = sh
	}
	e := workloadInfoEntity(w, x.profileLabels, sh.like)
	if sh.like == nil {
		sh.like = &Entity{EntityAttrs: e.EntityAttrs}
	}
	sh.n++
	return e
}

// release uncounts the resource r of an entity replaced or removed.
func (x *Index) release(r any) {
	w, ok := r.(Workload)
	if !ok {
		return
	}
	key := w.WorkloadInfo().Shared
	if sh := x.shared[key]; sh != nil {
		if sh.n--; sh.n <= 0 {
			delete(x.shared, key)
		}
	}
}

// PutHost adds or replaces a HostEndpoint.
func (x *Index) PutHost(h *v3.HostEndpoint) { x.put("\x00h/"+h.Name, h) }

// DeleteHost removes a HostEndpoint.
func (x *Index) DeleteHost(name string) { x.set("\x00h/"+name, nil, nil, false) }

// PutNetworkSet adds or replaces a NetworkSet.
func (x *Index) PutNetworkSet(s *v3.NetworkSet) { x.put("\x00s/"+s.Namespace+"/"+s.Name, s) }

// DeleteNetworkSet removes a NetworkSet.
func (x *Index) DeleteNetworkSet(namespace, name string) {
	x.set("\x00s/"+namespace+"/"+name, nil, nil, false)
}

// PutGlobalNetworkSet adds or replaces a GlobalNetworkSet.
func (x *Index) PutGlobalNetworkSet(s *v3.GlobalNetworkSet) { x.put("\x00g/"+s.Name, s) }

// DeleteGlobalNetworkSet removes a GlobalNetworkSet.
func (x *Index) DeleteGlobalNetworkSet(name string) { x.set("\x00g/"+name, nil, nil, false) }

// PutProfile sets a profile's labelsToApply (nil: none), deriving again
// the entities that have the profile when they changed.
func (x *Index) PutProfile(name string, labels map[string]string) {
	if maps.Equal(x.profiles[name], labels) && (labels != nil) == (x.profiles[name] != nil) {
		return
	}
	if labels == nil {
		delete(x.profiles, name)
	} else {
		x.profiles[name] = maps.Clone(labels)
	}
	ids := maps.Clone(x.byProfile[name])
	if ids == nil {
		ids = idSet{}
	}
	shared := false
	for _, sh := range x.shared {
		if slices.Contains(sh.profiles, name) {
			sh.like, shared = nil, true // worked out again by the first put below
		}
	}
	if shared {
		for id, ix := range x.entities {
			if slices.Contains(ix.e.Profiles, name) {
				ids[id] = struct{}{}
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		x.put(id, x.entities[id].r)
	}
}

// DeleteProfile removes a profile's labelsToApply.
func (x *Index) DeleteProfile(name string) { x.PutProfile(name, nil) }

func (x *Index) profileLabels(name string) map[string]string { return x.profiles[name] }

// put derives the entity of resource r and sets it.
func (x *Index) put(id string, r any) {
	var e *Entity
	byProfile := true
	switch r := r.(type) {
	case *v3.WorkloadEndpoint:
		e = workloadEntity(r, x.profileLabels)
	case *v3.HostEndpoint:
		e = hostEntity(r, x.profileLabels)
	case *v3.NetworkSet:
		e = netSetEntity(r)
	case *v3.GlobalNetworkSet:
		e = globalSetEntity(r)
	case Workload:
		wi := r.WorkloadInfo()
		e, byProfile = x.compactEntity(wi), wi.Shared == nil
	default:
		return
	}
	x.set(id, e, r, byProfile)
}

// set replaces the entity id (e nil: removes it) and updates the members
// of the selectors that may match it before or after; byProfile says
// whether to file e under its profiles.
func (x *Index) set(id string, e *Entity, r any, byProfile bool) {
	was := x.entities[id]
	old := was.e
	if old == nil && e == nil {
		return
	}
	defer x.release(was.r)
	if old != nil {
		x.unindex(id, old)
	}
	if e != nil {
		x.entities[id] = indexed{e, r}
		x.index(id, e, byProfile)
	} else {
		delete(x.entities, id)
	}
	for key := range x.candidates(old, e) {
		x.update(x.sels[key], id, old, e)
	}
}

func (x *Index) index(id string, e *Entity, byProfile bool) {
	for k, byValue := range x.byLabel {
		if v, ok := e.Labels[k]; ok {
			add(byValue, v, id)
		}
	}
	if byProfile {
		for _, p := range e.Profiles {
			add(x.byProfile, p, id)
		}
	}
	if e.Kind != NetworkSet && e.Node == x.node && e.Interface != "" {
		x.local[id] = e
	}
}

func (x *Index) unindex(id string, e *Entity) {
	for k, byValue := range x.byLabel {
		if v, ok := e.Labels[k]; ok {
			remove(byValue, v, id)
		}
	}
	for _, p := range e.Profiles {
		remove(x.byProfile, p, id) // nothing if it was not filed
	}
	delete(x.local, id)
}

// candidates are the keys of the selectors that may match old or e
// (nil: none, as while no selector is in use).
func (x *Index) candidates(old, e *Entity) idSet {
	if len(x.sels) == 0 {
		return nil
	}
	out := idSet{}
	for _, ent := range []*Entity{old, e} {
		if ent == nil {
			continue
		}
		for k, v := range ent.Labels {
			maps.Copy(out, x.selByKV[k][v])
			maps.Copy(out, x.selByKey[k])
		}
	}
	maps.Copy(out, x.selAny)
	return out
}

// update sets entity id's membership of s after a change from old to e.
func (x *Index) update(s *selState, id string, old, e *Entity) {
	_, was := s.members[id]
	now := e != nil && s.sel.Matches(e)
	switch {
	case now && was:
		s.members[id] = e
		if !slices.Equal(old.Nets, e.Nets) || !slices.Equal(old.Ports, e.Ports) {
			s.patch(old.Nets, e.Nets)
			x.touch(s)
		}
	case now:
		s.members[id] = e
		s.patch(nil, e.Nets)
		x.touch(s)
	case was:
		delete(s.members, id)
		s.patch(old.Nets, nil)
		x.touch(s)
	}
}

func (x *Index) touch(s *selState) {
	x.rev++
	s.rev, s.named = x.rev, nil
}

// use finds the state of sel, evaluating it over the entities that carry
// its required label when it is new, and marks it used in this round.
func (x *Index) use(sel *EntitySelector) *selState {
	s, ok := x.sels[sel.Key]
	if !ok {
		s = &selState{sel: sel, members: map[string]*Entity{}, count: map[netip.Prefix]int{}}
		var nets []netip.Prefix
		for _, id := range x.mayMatch(sel) {
			if e := x.entities[id].e; sel.Matches(e) {
				s.members[id] = e
				nets = append(nets, e.Nets...)
			}
		}
		s.patch(nil, nets)
		x.sels[sel.Key] = s
		x.indexSelector(sel)
		x.touch(s)
	}
	s.used = x.round
	return s
}

// mayMatch lists the entities sel may match: those with its required
// label (indexing that label's key first if no selector required it
// before), or all.
func (x *Index) mayMatch(sel *EntitySelector) []string {
	key, values, ok := requirement(sel)
	if !ok {
		return slices.Collect(maps.Keys(x.entities))
	}
	byValue, indexed := x.byLabel[key]
	if !indexed {
		byValue = map[string]idSet{}
		for id, ix := range x.entities {
			if v, ok := ix.e.Labels[key]; ok {
				add(byValue, v, id)
			}
		}
		x.byLabel[key] = byValue
	}
	var out []string
	if values == nil {
		for _, ids := range byValue {
			out = slices.AppendSeq(out, maps.Keys(ids))
		}
		return out
	}
	for _, v := range values {
		out = slices.AppendSeq(out, maps.Keys(byValue[v]))
	}
	return out
}

// requirement is a label every entity sel matches carries (values nil:
// with any value), from its label selector, else from its namespace
// selector (over the namespace's labels, pcns.*), else from its service
// account selector (pcsa.*); ok is false when there is none.
func requirement(sel *EntitySelector) (key string, values []string, ok bool) {
	if key, values, ok = sel.Labels.Required(); ok {
		return key, values, ok
	}
	if key, values, ok = sel.NamespaceSel.Required(); ok {
		return NamespaceLabelPrefix + key, values, ok
	}
	if key, values, ok = sel.ServiceAccountSel.Required(); ok {
		return ServiceAccountLabelPrefix + key, values, ok
	}
	return "", nil, false
}

func (x *Index) indexSelector(sel *EntitySelector) {
	key, values, ok := requirement(sel)
	switch {
	case !ok:
		x.selAny[sel.Key] = struct{}{}
	case values == nil:
		add(x.selByKey, key, sel.Key)
	default:
		for _, v := range values {
			add(nested(x.selByKV, key), v, sel.Key)
		}
	}
}

func (x *Index) unindexSelector(sel *EntitySelector) {
	key, values, ok := requirement(sel)
	switch {
	case !ok:
		delete(x.selAny, sel.Key)
	case values == nil:
		remove(x.selByKey, key, sel.Key)
	default:
		for _, v := range values {
			remove(x.selByKV[key], v, sel.Key)
		}
		if len(x.selByKV[key]) == 0 {
			delete(x.selByKV, key)
		}
	}
}

// Members are the nets of the entities sel matches, sorted, with a
// revision that changes whenever they do; sel is kept up to date from now
// on, until a Sweep finds it unused.
func (x *Index) Members(sel *EntitySelector) ([]netip.Prefix, uint64) {
	s := x.use(sel)
	return s.addrs, s.rev
}

// NamedPort is the (address, protocol, port) members of the named port
// name among the endpoints sel matches (nil: every endpoint), sorted.
func (x *Index) NamedPort(sel *EntitySelector, name string) []AddrPort {
	if sel == nil {
		sel = anyEntity
	}
	s := x.use(sel)
	if ps, ok := s.named[name]; ok {
		return ps
	}
	var out []AddrPort
	for _, e := range s.members {
		out = append(out, namedPortMembers(e, name)...)
	}
	slices.SortFunc(out, func(a, b AddrPort) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
	})
	out = slices.Compact(out)
	if s.named == nil {
		s.named = map[string][]AddrPort{}
	}
	s.named[name] = out
	return out
}

// anyEntity is the selector of named ports without one.
var anyEntity, _ = newEntitySelector("", "", scope{}, nil, "")

// Local are the endpoints on the Index's node that have an interface,
// workloads first, each kind by key.
func (x *Index) Local() []*Entity {
	out := slices.Collect(maps.Values(x.local))
	slices.SortFunc(out, func(a, b *Entity) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key)) })
	return out
}

// Sweep forgets the selectors not used (Members, NamedPort) since the
// last Sweep.
func (x *Index) Sweep() {
	for key, s := range x.sels {
		if s.used != x.round {
			x.unindexSelector(s.sel)
			delete(x.sels, key)
		}
	}
	x.round++
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

func namedPortMembers(e *Entity, name string) []AddrPort {
	var out []AddrPort
	if e.Kind == NetworkSet {
		return nil
	}
	for _, np := range e.Ports {
		if np.Name != name {
			continue
		}
		for _, n := range e.Nets {
			if n.IsSingleIP() {
				out = append(out, AddrPort{Addr: n.Addr(), Protocol: np.Protocol, Port: np.Port})
			}
		}
	}
	return out
}

func nested(m map[string]map[string]idSet, k string) map[string]idSet {
	if m[k] == nil {
		m[k] = map[string]idSet{}
	}
	return m[k]
}

func add(m map[string]idSet, k, id string) {
	if m[k] == nil {
		m[k] = idSet{}
	}
	m[k][id] = struct{}{}
}

func remove(m map[string]idSet, k, id string) {
	if m == nil {
		return
	}
	delete(m[k], id)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}
