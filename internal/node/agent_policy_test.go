package node

import (
	"maps"
	"net/netip"
	"slices"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/calc/policy"
)

// setHas says whether some selector set of d's policy holds a.
func setHas(d calc.Desired, a string) bool {
	if d.Policy == nil {
		return false
	}
	for _, s := range d.Policy.Sets {
		if slices.Contains(s.Members, netip.MustParsePrefix(a)) {
			return true
		}
	}
	return false
}

// TestRemoteEndpointsReachPolicy: another node's endpoint enters and
// leaves a rule's selector set as its labels change, though routing does
// not see the change.
func TestRemoteEndpointsReachPolicy(t *testing.T) {
	h := newHarness(t, map[string]string{"CALICO_IPV4POOL_VXLAN": "Always"})
	h.start("172.31.1.10/24")
	h.dp.waitFor(t, "a first sync", func(calc.Desired) bool { return true })

	local := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: "node--a-k8s-client-eth0", Namespace: "default", Labels: map[string]string{"app": "client"}}}
	local.Spec = v3.WorkloadEndpointSpec{Orchestrator: "k8s", Node: "node-a", Pod: "client", Endpoint: "eth0",
		IPNetworks: []string{"10.244.7.7/32"}, InterfaceName: "cali0123456789a"}
	gnp := &v3.GlobalNetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: "to-servers"}}
	gnp.Spec.Selector = "app == 'client'"
	gnp.Spec.Types = []v3.PolicyType{v3.PolicyTypeEgress}
	gnp.Spec.Egress = []v3.Rule{{Action: v3.Allow, Destination: v3.EntityRule{Selector: "app == 'server'"}}}
	remote := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: "node--b-k8s-server-eth0", Namespace: "default", Labels: map[string]string{"app": "server"}}}
	remote.Spec = v3.WorkloadEndpointSpec{Orchestrator: "k8s", Node: "node-b", Pod: "server", Endpoint: "eth0",
		IPNetworks: []string{"10.244.9.9/32"}, InterfaceName: "cali0123456789b"}
	for _, r := range []v3.Resource{local, gnp, remote} {
		if _, err := h.c.Create(h.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	h.dp.waitFor(t, "the remote server in the rule's set", func(d calc.Desired) bool { return setHas(d, "10.244.9.9/32") })
	h.dp.mu.Lock()
	h.dp.applied = nil // from here on, only what follows the relabelling
	h.dp.mu.Unlock()

	r, err := h.c.Get(h.ctx, kind("WorkloadEndpoint"), "default", remote.Name)
	if err != nil {
		t.Fatal(err)
	}
	remote = r.(*v3.WorkloadEndpoint)
	remote.Labels["app"] = "other"
	if _, err := h.c.Update(h.ctx, remote); err != nil {
		t.Fatal(err)
	}
	h.dp.waitFor(t, "the relabelled endpoint out of the set", func(d calc.Desired) bool {
		return d.Policy != nil && len(d.Policy.Sets) > 0 && !setHas(d, "10.244.9.9/32")
	})
}

// TestPolicyChangeReusesSets: a policy's port changed recompiles that
// policy only; the selector set it shares with the others is the same
// slice in the new program (not evaluated again over the endpoints).
func TestPolicyChangeReusesSets(t *testing.T) {
	h := newHarness(t, map[string]string{"CALICO_IPV4POOL_VXLAN": "Always"})
	h.start("172.31.1.10/24")
	h.dp.waitFor(t, "a first sync", func(calc.Desired) bool { return true })
	local := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: "node--a-k8s-server-eth0", Namespace: "default", Labels: map[string]string{"app": "server"}}}
	local.Spec = v3.WorkloadEndpointSpec{Orchestrator: "k8s", Node: "node-a", Pod: "server", Endpoint: "eth0",
		IPNetworks: []string{"10.244.7.7/32"}, InterfaceName: "cali0123456789a"}
	tcp := v3.ProtocolFromString("TCP")
	gnp := &v3.GlobalNetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: "from-clients"}}
	gnp.Spec.Selector = "app == 'server'"
	gnp.Spec.Ingress = []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Source: v3.EntityRule{Selector: "app == 'client'"},
		Destination: v3.EntityRule{Ports: []v3.Port{v3.SinglePort(80)}}}}
	remote := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: "node--b-k8s-client-eth0", Namespace: "default", Labels: map[string]string{"app": "client"}}}
	remote.Spec = v3.WorkloadEndpointSpec{Orchestrator: "k8s", Node: "node-b", Pod: "client", Endpoint: "eth0",
		IPNetworks: []string{"10.244.9.9/32"}, InterfaceName: "cali0123456789b"}
	for _, r := range []v3.Resource{local, gnp, remote} {
		if _, err := h.c.Create(h.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	before := h.dp.waitFor(t, "the client in the rule's set", func(d calc.Desired) bool { return setHas(d, "10.244.9.9/32") })
	r, err := h.c.Get(h.ctx, kind("GlobalNetworkPolicy"), "", gnp.Name)
	if err != nil {
		t.Fatal(err)
	}
	gnp = r.(*v3.GlobalNetworkPolicy)
	gnp.Spec.Ingress[0].Destination.Ports = []v3.Port{v3.SinglePort(8080)}
	if _, err := h.c.Update(h.ctx, gnp); err != nil {
		t.Fatal(err)
	}
	after := h.dp.waitFor(t, "the new port", func(d calc.Desired) bool {
		return d.Policy != nil && slices.ContainsFunc(slices.Collect(maps.Values(d.Policy.Rules)), func(l policy.RuleList) bool {
			return len(l.Rules) == 1 && len(l.Rules[0].Dst.Ports) == 1 && l.Rules[0].Dst.Ports[0].Min == 8080
		})
	})
	if len(before.Policy.Sets) != 1 || len(after.Policy.Sets) != 1 {
		t.Fatalf("sets before %v, after %v: want one", before.Policy.Sets, after.Policy.Sets)
	}
	for id, s := range after.Policy.Sets {
		if b := before.Policy.Sets[id].Members; len(b) != 1 || &b[0] != &s.Members[0] {
			t.Errorf("set %s was built again for a port change: %v then %v", id, b, s.Members)
		}
	}
}
