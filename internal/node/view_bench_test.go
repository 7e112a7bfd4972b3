package node

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"runtime"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// simulated is issue 11's simulated cluster as datastore keys: nodes × 20
// endpoints, a /26 block per node, one VXLAN Always pool.
func simulated(b *testing.B, nodes int) []datastore.KV {
	b.Helper()
	kv := func(key string, v any) datastore.KV {
		j, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		return datastore.KV{Key: key, Value: j}
	}
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "default"}, Spec: v3.IPPoolSpec{CIDR: "10.64.0.0/10", VXLANMode: v3.EncapAlways, NATOutgoing: true}}
	out := []datastore.KV{kv(datastore.ResourceKey("ippools", "", "default"), pool)}
	for i := range nodes {
		name := fmt.Sprintf("node-%d", i)
		blk := benchBlock(i)
		n := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: name}, Spec: v3.NodeSpec{
			BGP: &v3.NodeBGPSpec{IPv4Address: fmt.Sprintf("172.16.%d.%d/16", i/250, i%250+1)}, IPv4VXLANTunnelAddr: blk.Addr().Next().String()}}
		out = append(out, kv(datastore.ResourceKey("nodes", "", name), n),
			kv(ipam.BlockKey(blk), map[string]any{"cidr": blk.String(), "affinity": "host:" + name}))
		for j := range 20 {
			out = append(out, kv(datastore.ResourceKey("workloadendpoints", "ns", fmt.Sprintf("%s-pod-%d", name, j)), benchEndpoint(i, j, "a")))
		}
	}
	return out
}

func benchBlock(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(64 + i>>10), byte(i >> 2), byte(i % 4 * 64)}), 26)
}

func benchEndpoint(i, j int, label string) *v3.WorkloadEndpoint {
	a := benchBlock(i).Addr().As4()
	a[3] += byte(j + 2)
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: fmt.Sprintf("node-%d-pod-%d", i, j), Namespace: "ns",
		Labels: map[string]string{"app": fmt.Sprintf("app-%d", j), "v": label}, Annotations: map[string]string{"cni.projectcalico.org/containerID": "0123456789abcdef"}}}
	w.Spec = v3.WorkloadEndpointSpec{Orchestrator: "k8s", Node: fmt.Sprintf("node-%d", i), Pod: w.Name, Endpoint: "eth0",
		ContainerID: "0123456789abcdef0123456789abcdef", IPNetworks: []string{netip.AddrFrom4(a).String() + "/32"},
		InterfaceName: fmt.Sprintf("cali%011d", i*20+j), MAC: "ee:ee:ee:ee:ee:ee", Profiles: []string{"kns.ns", "ksa.ns.default"}}
	return w
}

// labelFlips are two puts of the remote endpoint node-1-pod-0, labelled
// "a" and "b": a change that moves no route.
func labelFlips() [2]datastore.Event {
	var evs [2]datastore.Event
	key := datastore.ResourceKey("workloadendpoints", "ns", "node-1-pod-0")
	for k, l := range []string{"a", "b"} {
		v, _ := json.Marshal(benchEndpoint(1, 0, l))
		evs[k] = datastore.Event{Type: datastore.EventPut, KV: datastore.KV{Key: key, Value: v}}
	}
	return evs
}

// BenchmarkViewRemoteChange is the agent's cost of one remote change up to
// the Desired handed to the dataplane (decode, the Engine, take), at 2k,
// 20k and 100k endpoints; policy, BGP and the kernel are not in it.
//
//	go test -run '^$' -bench ViewRemoteChange -benchtime 2000x ./internal/node/
func BenchmarkViewRemoteChange(b *testing.B) {
	for _, nodes := range []int{100, 1000, 5000} {
		v := newView(calc.Env{Node: "node-0", Backend: "bird", ParentDevice: "eth0"})
		v.OnSync(simulated(b, nodes), 1)
		env := calc.Env{Node: "node-0", Backend: "bird", ParentDevice: "eth0", HostMTU: 1500}
		v.take(env)
		b.Run(fmt.Sprintf("endpoints=%d/endpoint-label", nodes*20), func(b *testing.B) {
			evs := labelFlips()
			for i := 0; b.Loop(); i++ {
				v.OnEvent(evs[i%2])
				v.take(env)
			}
		})
		b.Run(fmt.Sprintf("endpoints=%d/block-move", nodes*20), func(b *testing.B) {
			evs := [2][]byte{}
			for k, host := range []string{"node-1", "node-2"} {
				evs[k], _ = json.Marshal(map[string]any{"cidr": benchBlock(1).String(), "affinity": "host:" + host})
			}
			key := ipam.BlockKey(benchBlock(1))
			for i := 0; b.Loop(); i++ {
				v.OnEvent(datastore.Event{Type: datastore.EventPut, KV: datastore.KV{Key: key, Value: evs[1-i%2]}})
				v.take(env)
			}
		})
	}
}

// BenchmarkViewMemory is the heap the view (with its Engine and policy
// Index) holds after the initial list of the simulated cluster, per
// endpoint, and of that the policy Index's part (index-B/endpoint) and
// the Engine's (engine-B/endpoint; both with their share of the per-node
// state). The ns/op is the list with two forced collections.
//
//	go test -run '^$' -bench ViewMemory -benchtime 1x ./internal/node/
func BenchmarkViewMemory(b *testing.B) {
	for _, nodes := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("endpoints=%d", nodes*20), func(b *testing.B) {
			kvs := simulated(b, nodes)
			heap := func() float64 {
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				return float64(m.HeapAlloc)
			}
			for b.Loop() {
				before := heap()
				v := newView(calc.Env{Node: "node-0", Backend: "bird"})
				v.OnSync(kvs, 1)
				all := heap()
				b.StopTimer()
				n := float64(nodes * 20)
				b.ReportMetric((all-before)/n, "heap-B/endpoint")
				v.pol = nil
				noIndex := heap()
				v.eng = nil
				b.ReportMetric((all-noIndex)/n, "index-B/endpoint")
				b.ReportMetric((noIndex-heap())/n, "engine-B/endpoint")
				runtime.KeepAlive(v)
				b.StartTimer()
			}
			runtime.KeepAlive(kvs)
		})
	}
}

// BenchmarkViewMemoryApplied is the heap the view holds at 100k
// endpoints once the first sync has been applied (the Engine flushed and
// its lists built), split: what the 5,000 nodes cost without their
// endpoints (heap-B/node, from a list without them), and what each
// endpoint adds to the policy Index, the Engine and the decoder's tables.
//
//	go test -run '^$' -bench ViewMemoryApplied -benchtime 1x ./internal/node/
func BenchmarkViewMemoryApplied(b *testing.B) {
	const nodes = 5000
	all := simulated(b, nodes)
	var noEndpoints []datastore.KV
	for _, kv := range all {
		if k, ok := kindOf(kv.Key); !ok || k != kindEndpoints {
			noEndpoints = append(noEndpoints, kv)
		}
	}
	heap := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc)
	}
	env := calc.Env{Node: "node-0", Backend: "bird"}
	// parts lists v's heap, then without its Index, decoder and Engine.
	parts := func(kvs []datastore.KV) (total, index, dec, eng float64) {
		h0 := heap()
		v := newView(env)
		v.OnSync(kvs, 1)
		t, _ := v.take(env)
		var d calc.Desired
		v.fillLists(&d, t)
		h1 := heap()
		v.pol = nil
		h2 := heap()
		v.dec = nil
		h3 := heap()
		v.eng = nil
		h4 := heap()
		runtime.KeepAlive(v)
		return h1 - h0, h1 - h2, h2 - h3, h3 - h4
	}
	for b.Loop() {
		nTotal, _, _, nEng := parts(noEndpoints)
		total, index, dec, eng := parts(all)
		b.ReportMetric(nTotal/nodes, "heap-B/node")
		b.ReportMetric(nEng/nodes, "engine-B/node")
		n := float64(nodes * 20)
		b.ReportMetric((total-nTotal)/n, "heap-B/endpoint")
		b.ReportMetric(index/n, "index-B/endpoint")
		b.ReportMetric((eng-nEng)/n, "engine-B/endpoint")
		b.ReportMetric(dec/n, "decoder-B/endpoint")
	}
	runtime.KeepAlive(all)
}

// BenchmarkViewList is the initial list of the simulated cluster into a
// fresh view (newView, then OnSync), without forced collections: the
// list's own time and allocations.
//
//	go test -run '^$' -bench ViewList -benchtime 5x -benchmem ./internal/node/
func BenchmarkViewList(b *testing.B) {
	for _, nodes := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("endpoints=%d", nodes*20), func(b *testing.B) {
			kvs := simulated(b, nodes)
			for b.Loop() {
				v := newView(calc.Env{Node: "node-0", Backend: "bird"})
				v.OnSync(kvs, 1)
				runtime.KeepAlive(v)
			}
		})
	}
}
