package node

import (
	"testing"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/datastore"
)

// TestKubernetesNetworkPoliciesReachPolicy: the Calico policies that
// Kubernetes NetworkPolicies map to (kdd's kubernetesnetworkpolicies) are
// part of the policy input, beside Calico's own.
func TestKubernetesNetworkPoliciesReachPolicy(t *testing.T) {
	v := newView(calc.Env{Node: "node-a"})
	v.OnSync([]datastore.KV{
		{Key: datastore.ResourceKey("networkpolicies", "ns1", "calico-np"), Value: []byte(`{"kind":"NetworkPolicy","metadata":{"name":"calico-np","namespace":"ns1"},"spec":{"selector":"all()"}}`)},
		{Key: datastore.ResourceKey("kubernetesnetworkpolicies", "ns1", "knp.default.deny"), Value: []byte(`{"kind":"NetworkPolicy","metadata":{"name":"knp.default.deny","namespace":"ns1"},"spec":{"tier":"default","order":1000,"selector":"projectcalico.org/orchestrator == 'k8s'","types":["Ingress"]}}`)},
	}, 1)
	in := v.policyInput()
	if len(in.NetworkPolicies) != 2 || in.NetworkPolicies[1].Name != "knp.default.deny" || *in.NetworkPolicies[1].Spec.Order != 1000 {
		t.Fatalf("network policies %+v", in.NetworkPolicies)
	}
}
