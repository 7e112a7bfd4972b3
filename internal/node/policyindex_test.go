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
