package node

import (
	"encoding/json"
	"reflect"
	"sort"
	"sync"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/datastore"
)

// view is the agent's decoded copy of the datastore, fed by a list-watch
// on /calico/. What it decodes is the table in kinds.go; every other key
// is ignored. Routing lives in an incremental calc.Engine, fed as the
// changes come; the view remembers what else changed (policy, BGP) so
// that the agent rebuilds only those. Other nodes' workload endpoints
// are decoded straight into their compact form (calc.Endpoint: what
// routing and policy read) and kept only in the Engine; a change that
// alters nothing of that form is no change at all. objs holds the rest,
// this node's endpoints among them.
type view struct {
	mu      sync.Mutex
	node    string
	synced  bool
	syncing bool   // between syncBegin and syncEnd
	lists   uint64 // counts the full lists begun (see fillLists)
	rev     int64
	objs    [numKinds]map[string]any // by kind, then by key
	eng     *calc.Engine
	pol     *policy.Index // what policy selectors match (see policyindex.go)
	dirty   dirt
	dec     *epDecoder                 // remote endpoints, into the Engine (and the Index)
	felix   *v3.FelixConfigurationSpec // this node's, merged (felixFor)
	changed chan struct{}              // signalled (without blocking) on every change that matters
	// unsignalled: a change that matters came with an event the store
	// said more follow at once (Event.More); the last of them signals.
	unsignalled bool
	onEvent     func(key string)
	// observeCalc is told how long the view and the Engine took over one
	// event that mattered (the agent's tortie_calc_seconds).
	observeCalc func(time.Duration)
	down        error // why the watch is interrupted; nil once resynced
}

// dirt is what changed since the agent last took the view.
type dirt struct {
	policy bool // a policy resource, a local endpoint, the FelixConfiguration
	remote bool // another node's workload endpoint (policy reads it through selectors)
	bgp    bool // a BGPPeer or BGPConfiguration
	felix  bool
}

// interrupt records that the watch failed: the view may be stale until
// the next OnSync.
func (v *view) interrupt(err error) {
	v.mu.Lock()
	v.down = err
	v.mu.Unlock()
	v.signal()
}

// interrupted is the reason the view may be stale, or nil.
func (v *view) interrupted() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.down
}

func newView(env calc.Env) *view {
	v := &view{node: env.Node, changed: make(chan struct{}, 1), eng: calc.NewEngine(env)}
	v.reset()
	return v
}

func (v *view) reset() {
	v.dec = newEPDecoder()
	v.pol = policy.NewIndex(v.node)
	for i := range v.objs {
		v.objs[i] = map[string]any{}
	}
}

// OnSync implements datastore.Handler: the whole state, replacing the old.
func (v *view) OnSync(kvs []datastore.KV, rev int64) {
	v.syncBegin()
	for _, kv := range kvs {
		v.syncPut(kv)
	}
	v.syncEnd(rev)
}

var _ datastore.SyncStreamer = (*view)(nil)

// OnSyncBegin, OnSyncPage and OnSyncEnd implement datastore.SyncStreamer:
// the initial list is decoded and fed to the Engine page by page as it
// streams in, never held whole.
func (v *view) OnSyncBegin() { v.syncBegin() }

// OnSyncPage implements datastore.SyncStreamer.
func (v *view) OnSyncPage(kvs []datastore.KV) {
	for _, kv := range kvs {
		v.syncPut(kv)
	}
}

// OnSyncEnd implements datastore.SyncStreamer.
func (v *view) OnSyncEnd(rev int64) { v.syncEnd(rev) }

// syncBegin, syncPut and syncEnd take a full list in pieces (the Engine
// is fed one key at a time); until syncEnd the agent sees no view.
func (v *view) syncBegin() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.reset()
	v.eng.Begin()
	v.syncing = true
	v.lists++
}

func (v *view) syncPut(kv datastore.KV) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.put(kv.Key, kv.Value)
}

func (v *view) syncEnd(rev int64) {
	v.mu.Lock()
	v.felix = v.felixFor(v.node)
	v.eng.SetFelix(v.felix)
	v.eng.End()
	v.synced, v.syncing, v.rev, v.down = true, false, rev, nil
	v.dirty = dirt{policy: true, bgp: true, felix: true}
	v.mu.Unlock()
	v.signal()
}

// OnEvent implements datastore.Handler.
func (v *view) OnEvent(ev datastore.Event) {
	v.mu.Lock()
	start := time.Now()
	changed := false
	switch ev.Type {
	case datastore.EventPut:
		changed = v.put(ev.KV.Key, ev.KV.Value)
	case datastore.EventDelete:
		changed = v.del(ev.KV.Key)
	}
	v.rev = ev.KV.Revision
	hook, observe := v.onEvent, v.observeCalc
	signal := (changed || v.unsignalled) && !ev.More
	v.unsignalled = (changed || v.unsignalled) && ev.More
	v.mu.Unlock()
	if observe != nil && changed {
		observe(time.Since(start))
	}
	if hook != nil {
		hook(ev.KV.Key)
	}
	if signal {
		v.signal() // one sync for the events of a transaction
	}
}

func (v *view) signal() {
	select {
	case v.changed <- struct{}{}:
	default:
	}
}

// put decodes a value of a kind the agent uses and feeds it on; it says
// whether anything the agent uses changed. A value it cannot decode is
// dropped (and so treated as absent).
func (v *view) put(key string, value []byte) bool {
	k, ok := kindOf(key)
	if !ok || !v.uses(k, key) {
		return false
	}
	if k == kindEndpoints {
		return v.putEndpoint(key, value)
	}
	obj, ok := kinds[k].decode(value)
	if !ok {
		return v.del(key)
	}
	old, had := v.objs[k][key]
	if had && reflect.DeepEqual(old, obj) {
		return false // nothing the agent reads changed
	}
	v.objs[k][key] = obj
	v.fed(k, key, obj, old)
	return true
}

// uses says whether the agent reads a key of kind k: of the per-node
// FelixConfigurations, only this node's.
func (v *view) uses(k watchedKind, key string) bool {
	if k != kindFelix {
		return true
	}
	name := key[len(kinds[kindFelix].prefix):]
	return name == "default" || name == "node."+v.node
}

func (v *view) del(key string) bool {
	k, ok := kindOf(key)
	if !ok {
		return false
	}
	if k == kindEndpoints {
		return v.delEndpoint(key)
	}
	old, ok := v.objs[k][key]
	if !ok {
		return false
	}
	delete(v.objs[k], key)
	v.fed(k, key, nil, old)
	return true
}

// fed passes a change (obj nil: a delete of old) to the Engine and notes
// what else it touches.
func (v *view) fed(k watchedKind, key string, obj, old any) {
	v.feedPolicy(obj, old)
	switch k {
	case kindNodes:
		if n, ok := obj.(*v3.Node); ok {
			v.eng.PutNode(n)
		} else {
			v.eng.DeleteNode(key[len(kinds[k].prefix):])
		}
	case kindPools:
		if p, ok := obj.(*v3.IPPool); ok {
			v.eng.PutPool(p)
		} else {
			v.eng.DeletePool(key[len(kinds[k].prefix):])
		}
	case kindBlocks:
		if b, ok := obj.(calc.Block); ok {
			if o, ok := old.(calc.Block); ok && o.CIDR != b.CIDR {
				v.eng.DeleteBlock(o.CIDR)
			}
			v.eng.PutBlock(b)
		} else if o, ok := old.(calc.Block); ok {
			v.eng.DeleteBlock(o.CIDR)
		}
	case kindFelix:
		v.dirty.felix, v.dirty.policy = true, true
		if !v.eng.Bulk() {
			v.felix = v.felixFor(v.node)
			v.eng.SetFelix(v.felix)
		}
	case kindBGPPeers, kindBGPConfigs, kindBGPFilters:
		v.dirty.bgp = true
	default:
		v.dirty.policy = true
	}
}

// take is what changed since the last take, with the Engine's state as of
// now (env applied first); ok is false until the initial list is in.
func (v *view) take(env calc.Env) (taken, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.synced || v.syncing {
		return taken{}, false
	}
	v.eng.SetEnv(env)
	t := taken{delta: v.eng.Flush(), dirt: v.dirty, rev: v.rev, list: v.lists}
	t.desired = v.eng.Globals()
	t.felix = v.felix
	t.self = v.eng.Node(v.node)
	v.dirty = dirt{}
	return t, true
}

// fillLists fills in d's routes, neighbours and FDB entries as of the
// take t (calc.Engine.FillLists); it is false when a full list began
// since (its first take comes next).
func (v *view) fillLists(d *calc.Desired, t taken) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.syncing || v.lists != t.list {
		return false
	}
	v.eng.FillLists(d)
	return true
}

// taken is one take of the view.
type taken struct {
	delta calc.Delta
	dirt  dirt
	// desired is the Engine's state without its lists (fillLists).
	desired calc.Desired
	list    uint64 // v.lists at the take
	felix   *v3.FelixConfigurationSpec
	self    *v3.Node
	rev     int64
}

// syncInputs are the snapshots a sync reads beyond the Engine's state;
// nil when not asked for.
type syncInputs struct {
	tunnel *calc.Input
	bgp    *calc.Input
	bgpIn  calc.BGPInput
	policy *policy.Input
}

// inputs takes the snapshots asked for, all at one point; ok is false
// while a full list is coming in.
func (v *view) inputs(tunnel, bgp, pol bool) (in syncInputs, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.synced || v.syncing {
		return in, false
	}
	if tunnel {
		t := v.tunnelInput()
		in.tunnel = &t
	}
	if bgp {
		b := v.input()
		in.bgp, in.bgpIn = &b, v.bgpInput()
	}
	if pol {
		p := v.policyRulesLocked()
		in.policy = &p
	}
	return in, true
}

// input is the whole snapshot as calc.Input, for the calculations that
// read one (BGP): local workload endpoints as they are stored.
func (v *view) input() calc.Input {
	in := v.eng.Resources()
	in.Endpoints = values[*v3.WorkloadEndpoint](v, kindEndpoints)
	return in
}

// tunnelInput is what the tunnel addresses are decided from: this node
// and the pools.
func (v *view) tunnelInput() calc.Input {
	in := calc.Input{Node: v.node, Pools: values[*v3.IPPool](v, kindPools)}
	if n := v.eng.Node(v.node); n != nil {
		in.Nodes = []*v3.Node{n}
	}
	return in
}

// bgpInput is what calc.BGP reads beyond the Input.
func (v *view) bgpInput() calc.BGPInput {
	return calc.BGPInput{
		Peers:   values[*v3.BGPPeer](v, kindBGPPeers),
		Configs: values[*v3.BGPConfiguration](v, kindBGPConfigs),
		Filters: values[*v3.BGPFilter](v, kindBGPFilters),
	}
}

// felixFor merges FelixConfiguration "default" with "node.<name>": fields
// the per-node object sets win.
func (v *view) felixFor(node string) *v3.FelixConfigurationSpec {
	var spec v3.FelixConfigurationSpec
	for _, name := range []string{"default", "node." + node} {
		if fc, ok := v.objs[kindFelix][kinds[kindFelix].prefix+name].(*v3.FelixConfiguration); ok {
			b, _ := json.Marshal(fc.Spec)
			_ = json.Unmarshal(b, &spec)
		}
	}
	return &spec
}

// values lists the objects of kind k in key order (a stable input).
func values[T any](v *view, k watchedKind) []T {
	m := v.objs[k]
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	out := make([]T, 0, len(keys))
	for _, key := range keys {
		out = append(out, m[key].(T))
	}
	return out
}

// policyInput is the policy model's input from the view, in a stable
// order.
func (v *view) policyInput() policy.Input {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.policyInputLocked()
}

func (v *view) policyInputLocked() policy.Input {
	in := v.policyRulesLocked()
	in.NetworkSets = values[*v3.NetworkSet](v, kindNetworkSets)
	in.GlobalNetworkSets = values[*v3.GlobalNetworkSet](v, kindGlobalNetworkSets)
	in.WorkloadEndpoints = values[*v3.WorkloadEndpoint](v, kindEndpoints)
	in.Workloads = v.remoteWorkloads()
	in.HostEndpoints = values[*v3.HostEndpoint](v, kindHostEndpoints)
	return in
}

// putEndpoint takes a WorkloadEndpoint: this node's decoded whole into
// objs, another node's decoded into its compact form, into the Engine
// only (the policy Index refers to the Engine's). Both go to the Index.
func (v *view) putEndpoint(key string, value []byte) bool {
	id := endpointID(key)
	ep, local, ok := v.dec.endpoint(id, value, v.node)
	var w *v3.WorkloadEndpoint
	if !ok || local {
		if w, ok = decodeWEP(value); !ok {
			return v.delEndpoint(key)
		}
		local = w.Spec.Node == v.node
		if !local {
			ep = v.dec.compactOf(w)
		}
	}
	if local {
		if old, had := v.objs[kindEndpoints][key]; had && reflect.DeepEqual(old, w) {
			return false
		}
		v.objs[kindEndpoints][key] = w
		v.eng.PutEndpoint(id, calc.EndpointOf(w))
		v.pol.PutWorkload(w)
		v.dirty.policy = true
		return true
	}
	if _, was := v.objs[kindEndpoints][key]; was {
		delete(v.objs[kindEndpoints], key) // it moved here from this node
		v.dirty.policy = true
	} else if old := v.eng.EndpointRef(id); !v.syncing && old != nil && old.Equal(ep) { // a list has each key once
		return false
	}
	v.eng.PutEndpoint(id, ep)
	v.pol.PutCompactWorkload(v.eng.EndpointRef(id)) // the Engine's: shared, not copied
	v.dirty.remote = true
	return true
}

func (v *view) delEndpoint(key string) bool {
	id := key[len(kinds[kindEndpoints].prefix):]
	if _, local := v.objs[kindEndpoints][key]; local {
		delete(v.objs[kindEndpoints], key)
		v.dirty.policy = true
	} else if _, had := v.eng.Endpoint(id); had {
		v.dirty.remote = true
	} else {
		return false
	}
	v.eng.DeleteEndpoint(id)
	v.pol.DeleteWorkloadKey(id)
	return true
}

// remoteWorkloads are the other nodes' endpoints, in key order.
func (v *view) remoteWorkloads() []policy.Workload {
	var out []policy.Workload
	for _, ep := range v.eng.Endpoints() {
		if ep.Node != v.node {
			out = append(out, ep)
		}
	}
	return out
}
