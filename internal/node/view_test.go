package node

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

func put(key, value string) datastore.Event {
	return datastore.Event{Type: datastore.EventPut, KV: datastore.KV{Key: key, Value: []byte(value)}}
}

// signalled says whether the view signalled a change, and clears it.
func signalled(v *view) bool {
	select {
	case <-v.changed:
		return true
	default:
		return false
	}
}

const remoteEndpoint = `{"kind":"WorkloadEndpoint","metadata":{"name":"w1","namespace":"ns","labels":{"app":"web"}%s},
	"spec":{"node":"node-b","containerID":"%s","interfaceName":"cali1","mac":"ee:ee:ee:ee:ee:ee","ipNetworks":["10.244.1.5/32"],"profiles":["kns.ns"]}}`

// TestViewOnlyWhatMatters: keys the agent does not use, and changes of
// what it does not read, signal nothing; a remote block change reaches
// routing and not policy, a remote label change what policy reads of
// other nodes' endpoints and not the dataplane.
func TestViewOnlyWhatMatters(t *testing.T) {
	v := newView(calc.Env{Node: "node-a", Backend: "vxlan"})
	epKey := datastore.ResourceKey("workloadendpoints", "ns", "w1")
	blockKey := ipam.BlockKey(netip.MustParsePrefix("10.244.1.0/26"))
	v.OnSync([]datastore.KV{
		{Key: datastore.ResourceKey("ippools", "", "p"), Value: []byte(`{"kind":"IPPool","metadata":{"name":"p"},"spec":{"cidr":"10.244.0.0/16","vxlanMode":"Always"}}`)},
		{Key: datastore.ResourceKey("nodes", "", "node-a"), Value: []byte(`{"kind":"Node","metadata":{"name":"node-a"},"spec":{"bgp":{"ipv4Address":"10.0.0.1/24"},"ipv4VXLANTunnelAddr":"10.244.0.1"}}`)},
		{Key: datastore.ResourceKey("nodes", "", "node-b"), Value: []byte(`{"kind":"Node","metadata":{"name":"node-b"},"spec":{"bgp":{"ipv4Address":"10.0.0.2/24"},"ipv4VXLANTunnelAddr":"10.244.1.1"}}`)},
		{Key: blockKey, Value: []byte(`{"cidr":"10.244.1.0/26","affinity":"host:node-b"}`)},
		{Key: epKey, Value: []byte(`{"kind":"WorkloadEndpoint","metadata":{"name":"w1","namespace":"ns","labels":{"app":"web"}},"spec":{"node":"node-b","ipNetworks":["10.244.1.5/32"]}}`)},
	}, 1)
	if _, ok := v.take(calc.Env{Node: "node-a", Backend: "vxlan"}); !ok || !signalled(v) {
		t.Fatal("the initial list did not make the view ready")
	}

	quiet := []datastore.Event{
		put(datastore.ResourceKey("felixconfigurations", "", "node.node-b"), `{"kind":"FelixConfiguration","metadata":{"name":"node.node-b"},"spec":{"vxlanMTU":1000}}`),
		put(ipam.HandleKey("k8s-pod-network.abc"), `{"block":{"10.244.1.0/26":1}}`),
		put(epKey, fmt.Sprintf(remoteEndpoint, `,"annotations":{"x":"y"}`, "c1")),
		put(epKey, fmt.Sprintf(remoteEndpoint, "", "c2")),
	}
	for _, ev := range quiet[:2] {
		v.OnEvent(ev)
		if signalled(v) {
			t.Errorf("%s signalled a change", ev.KV.Key)
		}
	}
	v.OnEvent(quiet[2]) // the endpoint gains its profile: a change for policy
	signalled(v)
	v.take(calc.Env{Node: "node-a", Backend: "vxlan"})
	v.OnEvent(quiet[3]) // another container ID and no annotation: nothing read
	if signalled(v) {
		t.Error("a remote endpoint change of nothing routing or policy reads signalled a change")
	}
	if _, ok := v.objs[kindEndpoints][epKey]; ok {
		t.Error("a remote endpoint is kept whole in the view")
	}
	if ep, _ := v.eng.Endpoint("ns/w1"); ep.MAC() != nil || ep.Interface() != "" || ep.ID != "ns/w1" || ep.Attrs.Namespace != "ns" {
		t.Errorf("a remote endpoint is kept as %+v", ep)
	}

	v.OnEvent(put(blockKey, `{"cidr":"10.244.1.0/26","affinity":"host:node-c"}`))
	tk, _ := v.take(calc.Env{Node: "node-a", Backend: "vxlan"})
	if !signalled(v) || !tk.delta.Dataplane() || tk.dirt.policy || tk.dirt.remote {
		t.Errorf("a remote block moving: signalled, dataplane %v, policy %v", tk.delta.Dataplane(), tk.dirt.policy)
	}

	v.OnEvent(put(epKey, `{"kind":"WorkloadEndpoint","metadata":{"name":"w1","namespace":"ns","labels":{"app":"db"}},"spec":{"node":"node-b","ipNetworks":["10.244.1.5/32"]}}`))
	tk, _ = v.take(calc.Env{Node: "node-a", Backend: "vxlan"})
	if !signalled(v) || tk.delta.Dataplane() || tk.dirt.policy || !tk.dirt.remote {
		t.Errorf("a remote label change: dataplane %v, policy %v, remote endpoints %v", tk.delta.Dataplane(), tk.dirt.policy, tk.dirt.remote)
	}

	for _, kv := range []datastore.Event{
		put(datastore.ResourceKey("bgppeers", "", "tor"), `{"kind":"BGPPeer","metadata":{"name":"tor"},"spec":{"peerIP":"10.0.0.254","asNumber":64513}}`),
		put(datastore.ResourceKey("bgpconfigurations", "", "default"), `{"kind":"BGPConfiguration","metadata":{"name":"default"},"spec":{}}`),
		put(datastore.ResourceKey("bgpfilters", "", "f"), `{"kind":"BGPFilter","metadata":{"name":"f"},"spec":{}}`),
	} {
		v.OnEvent(kv)
		tk, _ = v.take(calc.Env{Node: "node-a", Backend: "vxlan"})
		if !signalled(v) || !tk.dirt.bgp || tk.dirt.policy {
			t.Errorf("%s: bgp %v, policy %v; want a BGP change and no policy one", kv.KV.Key, tk.dirt.bgp, tk.dirt.policy)
		}
	}
}

// TestViewEndpointMoves: an endpoint moving between this node and
// another is kept whole while here and compactly (in the Engine only)
// while there; policy sees it once, either way; deletes find it.
func TestViewEndpointMoves(t *testing.T) {
	v := newView(calc.Env{Node: "node-a", Backend: "vxlan"})
	key := datastore.ResourceKey("workloadendpoints", "ns", "w1")
	on := func(node string) string {
		return `{"kind":"WorkloadEndpoint","metadata":{"name":"w1","namespace":"ns","labels":{"app":"web"}},"spec":{"node":"` +
			node + `","interfaceName":"cali1","ipNetworks":["10.244.1.5/32"],"profiles":["kns.ns"]}}`
	}
	v.OnSync(nil, 1)
	env := calc.Env{Node: "node-a", Backend: "vxlan"}
	v.take(env)
	workloads := func() (local, remote int) {
		in := v.policyInput()
		return len(in.WorkloadEndpoints), len(in.Workloads)
	}
	for i, step := range []struct {
		ev            datastore.Event
		local, remote int
		policy        bool
	}{
		{put(key, on("node-b")), 0, 1, false},
		{put(key, on("node-a")), 1, 0, true},
		{put(key, on("node-b")), 0, 1, true},
		{datastore.Event{Type: datastore.EventDelete, KV: datastore.KV{Key: key}}, 0, 0, false},
		{put(key, on("node-a")), 1, 0, true},
		{datastore.Event{Type: datastore.EventDelete, KV: datastore.KV{Key: key}}, 0, 0, true},
	} {
		v.OnEvent(step.ev)
		tk, _ := v.take(env)
		if !signalled(v) || tk.dirt.policy != step.policy || !step.policy && !tk.dirt.remote {
			t.Errorf("step %d: policy %v remote %v", i, tk.dirt.policy, tk.dirt.remote)
		}
		if l, r := workloads(); l != step.local || r != step.remote {
			t.Errorf("step %d: %d local and %d remote endpoints for policy, want %d and %d", i, l, r, step.local, step.remote)
		}
		if _, ok := v.eng.Endpoint("ns/w1"); ok != (step.local+step.remote == 1) {
			t.Errorf("step %d: in the Engine %v", i, ok)
		}
	}
}

// TestViewSignalsOncePerDelivery: events the store delivered together
// (Event.More on all but the last: a transaction's) signal once, after the
// last, even when the last changes nothing.
func TestViewSignalsOncePerDelivery(t *testing.T) {
	env := calc.Env{Node: "node-a", Backend: "vxlan"}
	v := newView(env)
	v.OnSync([]datastore.KV{
		{Key: datastore.ResourceKey("ippools", "", "p"), Value: []byte(`{"kind":"IPPool","metadata":{"name":"p"},"spec":{"cidr":"10.244.0.0/16","vxlanMode":"Always"}}`)},
		{Key: datastore.ResourceKey("nodes", "", "node-b"), Value: []byte(`{"kind":"Node","metadata":{"name":"node-b"},"spec":{"bgp":{"ipv4Address":"10.0.0.2/24"},"ipv4VXLANTunnelAddr":"10.244.1.1"}}`)},
	}, 1)
	if _, ok := v.take(env); !ok || !signalled(v) {
		t.Fatal("the initial list did not make the view ready")
	}
	block := put(ipam.BlockKey(netip.MustParsePrefix("10.244.1.0/26")), `{"cidr":"10.244.1.0/26","affinity":"host:node-b"}`)
	block.More = true
	v.OnEvent(block)
	if signalled(v) {
		t.Fatal("an event with more to follow signalled")
	}
	v.OnEvent(put(ipam.HandleKey("k8s-pod-network.abc"), `{"block":{"10.244.1.0/26":1}}`)) // the last: no change of its own
	if !signalled(v) {
		t.Fatal("the last event of the delivery did not signal the change before it")
	}
	if t2, _ := v.take(env); !t2.delta.Dataplane() {
		t.Fatalf("the take after the delivery: %+v; want the block's route", t2.delta)
	}
}
