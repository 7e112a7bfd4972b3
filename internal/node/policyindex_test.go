package node

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/datastore"
)

// TestViewFeedsPolicyIndex: the view passes endpoint, network set and
// profile changes (puts and deletes) on to its policy Index, so that the
// program compiled from it has the selector sets as they are.
func TestViewFeedsPolicyIndex(t *testing.T) {
	v := newView(calc.Env{Node: "node-a", Backend: "vxlan"})
	epKey := datastore.ResourceKey("workloadendpoints", "ns", "w1")
	setKey := datastore.ResourceKey("globalnetworksets", "", "ext")
	profKey := datastore.ResourceKey("profiles", "", "kns.ns")
	gnpKey := datastore.ResourceKey("globalnetworkpolicies", "", "p")
	v.OnSync([]datastore.KV{
		{Key: datastore.ResourceKey("workloadendpoints", "ns", "local"), Value: []byte(`{"kind":"WorkloadEndpoint","metadata":{"name":"local","namespace":"ns"},
			"spec":{"node":"node-a","interfaceName":"cali1","ipNetworks":["10.244.0.5/32"]}}`)},
		{Key: epKey, Value: []byte(`{"kind":"WorkloadEndpoint","metadata":{"name":"w1","namespace":"ns","labels":{"app":"web"}},
			"spec":{"node":"node-b","ipNetworks":["10.244.1.5/32"],"profiles":["kns.ns"]}}`)},
		{Key: gnpKey, Value: []byte(`{"kind":"GlobalNetworkPolicy","metadata":{"name":"p"},"spec":{"selector":"all()",
			"ingress":[{"action":"Allow","source":{"selector":"app == 'web'"}},{"action":"Allow","source":{"namespaceSelector":"env == 'prod'"}}]}}`)},
	}, 1)
	members := func() map[string][]netip.Prefix {
		t.Helper()
		in, ok := v.inputs(false, false, true)
		if !ok {
			t.Fatal("no inputs after a sync")
		}
		_, prog, ok := v.compilePolicy(policy.NewBuilder(), *in.policy)
		if !ok {
			t.Fatal("not compiled after a sync")
		}
		out := map[string][]netip.Prefix{}
		for _, s := range prog.Sets {
			out[s.Selector] = s.Members
		}
		return out
	}
	web, prod := `sel(app == "web")`, `sel(all()) nssel(env == "prod")`
	check := func(step string, wantWeb, wantProd []netip.Prefix) {
		t.Helper()
		got := members()
		if !slices.Equal(got[web], wantWeb) || !slices.Equal(got[prod], wantProd) {
			t.Errorf("%s: sets %v; want %s %v, %s %v", step, got, web, wantWeb, prod, wantProd)
		}
	}
	ep := []netip.Prefix{netip.MustParsePrefix("10.244.1.5/32")}
	ext := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	check("synced", ep, nil)
	v.OnEvent(put(setKey, `{"kind":"GlobalNetworkSet","metadata":{"name":"ext","labels":{"app":"web"}},"spec":{"nets":["192.0.2.0/24"]}}`))
	check("network set added", append(slices.Clone(ep), ext...), nil)
	v.OnEvent(put(profKey, `{"kind":"Profile","metadata":{"name":"kns.ns"},"spec":{"labelsToApply":{"pcns.env":"prod"}}}`))
	check("namespace labelled", append(slices.Clone(ep), ext...), ep)
	for _, key := range []string{epKey, setKey, profKey} {
		v.OnEvent(datastore.Event{Type: datastore.EventDelete, KV: datastore.KV{Key: key}})
	}
	check("all deleted", nil, nil)
}

// TestViewRemoteEndpointInPolicySet: another node's endpoint, decoded
// into the compact form (putEndpoint) and kept in the Engine only, lands
// in the selector sets it matches, and leaves them when relabelled or
// deleted; so does this node's endpoint once it moves to another node.
func TestViewRemoteEndpointInPolicySet(t *testing.T) {
	v := newView(calc.Env{Node: "node-a", Backend: "vxlan"})
	wep := func(name, node, addr, app string) datastore.KV {
		return datastore.KV{Key: datastore.ResourceKey("workloadendpoints", "ns", name), Value: []byte(`{"kind":"WorkloadEndpoint",
			"metadata":{"name":"` + name + `","namespace":"ns","labels":{"app":"` + app + `"}},
			"spec":{"node":"` + node + `","interfaceName":"cali-` + name + `","ipNetworks":["` + addr + `/32"]}}`)}
	}
	v.OnSync([]datastore.KV{
		wep("local", "node-a", "10.244.0.5", "db"),
		wep("home", "node-a", "10.244.0.9", "db"), // stays: the policy applies here throughout
		wep("r1", "node-b", "10.244.1.5", "web"),
		wep("r2", "node-b", "10.244.1.6", "web"), // a replica: shares r1's attributes
		{Key: datastore.ResourceKey("globalnetworkpolicies", "", "p"), Value: []byte(`{"kind":"GlobalNetworkPolicy",
			"metadata":{"name":"p"},"spec":{"selector":"app == 'db'","ingress":[{"action":"Allow","source":{"selector":"app == 'web'"}}]}}`)},
	}, 1)
	if _, ok := v.eng.Endpoint("ns/r1"); !ok || v.objs[kindEndpoints][datastore.ResourceKey("workloadendpoints", "ns", "r1")] != nil {
		t.Fatal("the remote endpoint is not kept compact, in the Engine only")
	}
	web := func() []netip.Prefix {
		t.Helper()
		in, ok := v.inputs(false, false, true)
		if !ok {
			t.Fatal("no inputs after a sync")
		}
		if len(in.policy.Workloads) != 0 || len(in.policy.WorkloadEndpoints) != 0 {
			t.Errorf("the indexed policy input lists endpoints: %d compact, %d whole", len(in.policy.Workloads), len(in.policy.WorkloadEndpoints))
		}
		_, prog, ok := v.compilePolicy(policy.NewBuilder(), *in.policy)
		if !ok {
			t.Fatal("not compiled after a sync")
		}
		for _, s := range prog.Sets {
			if s.Selector == `sel(app == "web")` {
				return s.Members
			}
		}
		return nil
	}
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s+"/32"))
		}
		return out
	}
	for _, s := range []struct {
		step string
		ev   datastore.Event
		want []netip.Prefix
	}{
		{"synced", datastore.Event{}, pfx("10.244.1.5", "10.244.1.6")},
		{"r3 added", put(wep("r3", "node-c", "10.244.2.7", "web").Key, string(wep("r3", "node-c", "10.244.2.7", "web").Value)),
			pfx("10.244.1.5", "10.244.1.6", "10.244.2.7")},
		{"r1 relabelled", put(wep("r1", "node-b", "10.244.1.5", "cache").Key, string(wep("r1", "node-b", "10.244.1.5", "cache").Value)),
			pfx("10.244.1.6", "10.244.2.7")},
		{"r2 deleted", datastore.Event{Type: datastore.EventDelete, KV: datastore.KV{Key: wep("r2", "", "", "").Key}},
			pfx("10.244.2.7")},
		{"local moved away as web", put(wep("local", "node-b", "10.244.0.5", "web").Key, string(wep("local", "node-b", "10.244.0.5", "web").Value)),
			pfx("10.244.0.5", "10.244.2.7")},
		{"it is deleted", datastore.Event{Type: datastore.EventDelete, KV: datastore.KV{Key: wep("local", "", "", "").Key}},
			pfx("10.244.2.7")},
	} {
		if s.ev.KV.Key != "" {
			v.OnEvent(s.ev)
		}
		if got := web(); !slices.Equal(got, s.want) {
			t.Errorf("%s: set of app == 'web' = %v, want %v", s.step, got, s.want)
		}
	}
}
