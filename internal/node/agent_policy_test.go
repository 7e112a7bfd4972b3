package node

import (
	"net/netip"
	"slices"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
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
