package kdd

import (
	"encoding/json"
	"net/netip"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
)

// TestKubernetesNetworkPolicySemantics: what the Kubernetes datastore
// makes of Pods, Namespaces and a Kubernetes NetworkPolicy, evaluated by
// tortie's policy model, allows what Kubernetes says it allows.
func TestKubernetesNetworkPolicySemantics(t *testing.T) {
	ns := map[string]map[string]string{"ns1": {"team": "a"}, "ns2": {"team": "b"}}
	pods := []struct{ ns, name, app, ip string }{
		{"ns1", "web", "web", "10.0.0.2"}, {"ns1", "fe", "fe", "10.0.0.3"}, {"ns2", "fe", "fe", "10.0.0.4"},
	}
	in := policy.Input{}
	for name, labels := range ns {
		_, b, _, err := profileMappings()[0].toKV(&object{Metadata: meta{Name: name, Labels: labels}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var p v3.Profile
		_ = json.Unmarshal(b, &p)
		in.Profiles = append(in.Profiles, &p)
	}
	for _, p := range pods {
		var k k8sPod
		k.Metadata = meta{Name: p.name, Namespace: p.ns, Labels: map[string]string{"app": p.app},
			Annotations: map[string]string{annPodIP: p.ip + "/32"}}
		k.Spec.NodeName = "n1"
		w, ok := workloadEndpoint(&k)
		if !ok {
			t.Fatal("no endpoint")
		}
		in.WorkloadEndpoints = append(in.WorkloadEndpoints, w)
	}
	tcp := func(src, dst string, port uint16) policy.Packet {
		return policy.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Protocol: policy.ProtoTCP, SrcPort: 40000, DstPort: port}
	}
	for _, tc := range []struct {
		name, np string
		allowed  map[policy.Packet]bool
	}{
		{"no policy: open", "", map[policy.Packet]bool{
			tcp("10.0.0.4", "10.0.0.2", 81): true}},
		{"from app=fe in its namespace, TCP 80", `{"metadata":{"name":"web","namespace":"ns1"},"spec":{
		  "podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"fe"}}}],"ports":[{"port":80}]}]}}`,
			map[policy.Packet]bool{
				tcp("10.0.0.3", "10.0.0.2", 80): true,  // fe in ns1
				tcp("10.0.0.4", "10.0.0.2", 80): false, // fe in ns2: another namespace
				tcp("10.0.0.3", "10.0.0.2", 81): false, // another port
				tcp("10.0.0.2", "10.0.0.3", 80): true,  // fe is not selected; web has no egress policy
			}},
		{"from namespaces team=b", `{"metadata":{"name":"web","namespace":"ns1"},"spec":{
		  "podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"b"}}}]}]}}`,
			map[policy.Packet]bool{
				tcp("10.0.0.4", "10.0.0.2", 81): true,
				tcp("10.0.0.3", "10.0.0.2", 80): false,
			}},
		{"egress deny-all", `{"metadata":{"name":"deny","namespace":"ns1"},"spec":{"podSelector":{},"policyTypes":["Egress"]}}`,
			map[policy.Packet]bool{
				tcp("10.0.0.2", "10.0.0.4", 80): false,
				tcp("10.0.0.4", "10.0.0.2", 80): true,
			}},
	} {
		in := in
		if tc.np != "" {
			var k k8sNetworkPolicy
			if err := json.Unmarshal([]byte(tc.np), &k); err != nil {
				t.Fatal(err)
			}
			in.NetworkPolicies = []*v3.NetworkPolicy{calicoPolicy(&k)}
		}
		m := policy.Build(in)
		for p, want := range tc.allowed {
			if got := m.Evaluate(p).Allowed; got != want {
				t.Errorf("%s: %s -> %s:%d allowed %v, want %v", tc.name, p.Src, p.Dst, p.DstPort, got, want)
			}
		}
	}
}
