package node

import (
	"encoding/json"
	"sort"
	"sync"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/datastore"
)

// view is the agent's decoded copy of the datastore, fed by a list-watch
// on /calico/. Objects are decoded once, when they change, so building a
// calc.Input costs a walk over maps. What it decodes is the table in
// kinds.go; every other key is ignored.
type view struct {
	mu      sync.Mutex
	synced  bool
	rev     int64
	objs    [numKinds]map[string]any // by kind, then by key
	changed chan struct{}            // signalled (without blocking) on every change
	onEvent func(key string)
	down    error // why the watch is interrupted; nil once resynced
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

func newView() *view {
	v := &view{changed: make(chan struct{}, 1)}
	v.reset()
	return v
}

func (v *view) reset() {
	for i := range v.objs {
		v.objs[i] = map[string]any{}
	}
}

// OnSync implements datastore.Handler: the whole state, replacing the old.
func (v *view) OnSync(kvs []datastore.KV, rev int64) {
	v.mu.Lock()
	v.reset()
	for _, kv := range kvs {
		v.put(kv.Key, kv.Value)
	}
	v.synced, v.rev, v.down = true, rev, nil
	v.mu.Unlock()
	v.signal()
}

// OnEvent implements datastore.Handler.
func (v *view) OnEvent(ev datastore.Event) {
	v.mu.Lock()
	switch ev.Type {
	case datastore.EventPut:
		v.put(ev.KV.Key, ev.KV.Value)
	case datastore.EventDelete:
		v.del(ev.KV.Key)
	}
	v.rev = ev.KV.Revision
	hook := v.onEvent
	v.mu.Unlock()
	if hook != nil {
		hook(ev.KV.Key)
	}
	v.signal()
}

func (v *view) signal() {
	select {
	case v.changed <- struct{}{}:
	default:
	}
}

// put decodes a value of a kind the agent uses; everything else is
// ignored. A value it cannot decode is dropped (and so treated as absent).
func (v *view) put(key string, value []byte) {
	k, ok := kindOf(key)
	if !ok {
		return
	}
	if obj, ok := kinds[k].decode(value); ok {
		v.objs[k][key] = obj
	} else {
		delete(v.objs[k], key)
	}
}

func (v *view) del(key string) {
	if k, ok := kindOf(key); ok {
		delete(v.objs[k], key)
	}
}

// input builds the calculation's input, in a stable order.
func (v *view) input(node string) (calc.Input, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	in := calc.Input{
		Node:      node,
		Nodes:     values[*v3.Node](v, kindNodes),
		Pools:     values[*v3.IPPool](v, kindPools),
		Endpoints: values[*v3.WorkloadEndpoint](v, kindEndpoints),
		Blocks:    values[calc.Block](v, kindBlocks),
		Felix:     v.felixFor(node),
	}
	return in, v.synced
}

// bgpInput is what calc.BGP reads beyond the Input.
func (v *view) bgpInput() calc.BGPInput {
	v.mu.Lock()
	defer v.mu.Unlock()
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
	nps := append(values[*v3.NetworkPolicy](v, kindNetworkPolicies),
		values[*v3.NetworkPolicy](v, kindKubernetesNetworkPolicies)...)
	return policy.Input{
		Tiers:                 values[*v3.Tier](v, kindTiers),
		NetworkPolicies:       nps,
		GlobalNetworkPolicies: values[*v3.GlobalNetworkPolicy](v, kindGlobalNetworkPolicies),
		Profiles:              values[*v3.Profile](v, kindProfiles),
		NetworkSets:           values[*v3.NetworkSet](v, kindNetworkSets),
		GlobalNetworkSets:     values[*v3.GlobalNetworkSet](v, kindGlobalNetworkSets),
		WorkloadEndpoints:     values[*v3.WorkloadEndpoint](v, kindEndpoints),
		HostEndpoints:         values[*v3.HostEndpoint](v, kindHostEndpoints),
	}
}
