package node

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"sync"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// view is the agent's decoded copy of the datastore, fed by a list-watch
// on /calico/. Objects are decoded once, when they change, so building a
// calc.Input costs a walk over maps.
type view struct {
	mu      sync.Mutex
	synced  bool
	rev     int64
	nodes   map[string]*v3.Node
	pools   map[string]*v3.IPPool
	weps    map[string]*v3.WorkloadEndpoint
	felix   map[string]*v3.FelixConfiguration
	blocks  map[string]calc.Block
	changed chan struct{} // signalled (without blocking) on every change
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
	v.nodes = map[string]*v3.Node{}
	v.pools = map[string]*v3.IPPool{}
	v.weps = map[string]*v3.WorkloadEndpoint{}
	v.felix = map[string]*v3.FelixConfiguration{}
	v.blocks = map[string]calc.Block{}
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

var (
	nodesPrefix = datastore.ResourceListPrefix("nodes", "")
	poolsPrefix = datastore.ResourceListPrefix("ippools", "")
	wepsPrefix  = datastore.ResourceListPrefix("workloadendpoints", "")
	felixPrefix = datastore.ResourceListPrefix("felixconfigurations", "")
	blockPrefix = ipam.BlockPrefix("ipv4")
)

// put decodes what the agent uses; everything else is ignored. A value it
// cannot decode is dropped (and so treated as absent).
func (v *view) put(key string, value []byte) {
	switch {
	case strings.HasPrefix(key, nodesPrefix):
		decodeInto(v.nodes, key, value)
	case strings.HasPrefix(key, poolsPrefix):
		decodeInto(v.pools, key, value)
	case strings.HasPrefix(key, wepsPrefix):
		decodeInto(v.weps, key, value)
	case strings.HasPrefix(key, felixPrefix):
		decodeInto(v.felix, key, value)
	case strings.HasPrefix(key, blockPrefix):
		var b struct {
			CIDR     string  `json:"cidr"`
			Affinity *string `json:"affinity"`
		}
		p, err := netip.ParsePrefix(b.CIDR)
		if json.Unmarshal(value, &b) == nil {
			p, err = netip.ParsePrefix(b.CIDR)
		}
		if err != nil {
			delete(v.blocks, key)
			return
		}
		host := ""
		if b.Affinity != nil {
			host, _ = strings.CutPrefix(*b.Affinity, "host:")
		}
		v.blocks[key] = calc.Block{CIDR: p.Masked(), Host: host}
	}
}

func decodeInto[T any](m map[string]*T, key string, value []byte) {
	obj := new(T)
	if err := json.Unmarshal(value, obj); err != nil {
		delete(m, key)
		return
	}
	m[key] = obj
}

func (v *view) del(key string) {
	delete(v.nodes, key)
	delete(v.pools, key)
	delete(v.weps, key)
	delete(v.felix, key)
	delete(v.blocks, key)
}

// input builds the calculation's input, in a stable order.
func (v *view) input(node string) (calc.Input, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	in := calc.Input{Node: node}
	for _, k := range sortedKeys(v.nodes) {
		in.Nodes = append(in.Nodes, v.nodes[k])
	}
	for _, k := range sortedKeys(v.pools) {
		in.Pools = append(in.Pools, v.pools[k])
	}
	for _, k := range sortedKeys(v.weps) {
		in.Endpoints = append(in.Endpoints, v.weps[k])
	}
	for _, k := range sortedKeys(v.blocks) {
		in.Blocks = append(in.Blocks, v.blocks[k])
	}
	in.Felix = v.felixFor(node)
	return in, v.synced
}

// felixFor merges FelixConfiguration "default" with "node.<name>": fields
// the per-node object sets win.
func (v *view) felixFor(node string) *v3.FelixConfigurationSpec {
	var spec v3.FelixConfigurationSpec
	for _, name := range []string{"default", "node." + node} {
		if fc, ok := v.felix[felixPrefix+name]; ok {
			b, _ := json.Marshal(fc.Spec)
			_ = json.Unmarshal(b, &spec)
		}
	}
	return &spec
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
