package ctl

import (
	"strings"
	"testing"
)

// A staged deny-all is accepted and reported: explain's verdict is the
// enforced one, and it says what the staged policy would decide.
func TestExplainPreviewsStagedPolicies(t *testing.T) {
	s := newSession(t)
	const objs = `apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: open}
spec: {ingress: [{action: Allow}], egress: [{action: Allow}]}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: n1-k8s-a-eth0, namespace: ns, labels: {app: a}}
spec: {orchestrator: k8s, node: n1, pod: a, endpoint: eth0, interfaceName: calia, ipNetworks: [10.0.0.1/32], profiles: [open]}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: n1-k8s-b-eth0, namespace: ns, labels: {app: b}}
spec: {orchestrator: k8s, node: n1, pod: b, endpoint: eth0, interfaceName: calib, ipNetworks: [10.0.0.2/32], profiles: [open]}
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: deny-all}
spec: {selector: all(), types: [Ingress, Egress]}
`
	if out := s.run(objs, "create", "-f", "-"); !strings.Contains(out, "[exit 0]") {
		t.Fatal(out)
	}
	out := s.run("", "policy", "explain", "ns/a", "ns/b", "80/tcp")
	for _, want := range []string{": allowed\n", "profile open: rule 0: Allow", "staged, not enforced: deny-all (Set)",
		"with the staged policies committed: denied", "tier default: no rule matched: end of tier: Deny", "[exit 0]"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	// A staged Kubernetes NetworkPolicy isolating b (and the staged
	// deny-all gone): previewed as the Calico policy it maps to.
	const k8s = `apiVersion: projectcalico.org/v3
kind: StagedKubernetesNetworkPolicy
metadata: {name: b-in, namespace: ns}
spec: {podSelector: {matchLabels: {app: b}}, policyTypes: [Ingress], ingress: [{ports: [{port: 8080}]}]}
`
	for _, cmd := range [][]string{{"delete", "stagedglobalnetworkpolicy", "deny-all"}, {"create", "-f", "-"}} {
		if out := s.run(k8s, cmd...); !strings.Contains(out, "[exit 0]") {
			t.Fatal(out)
		}
	}
	out = s.run("", "policy", "explain", "ns/a", "ns/b", "80/tcp")
	for _, want := range []string{": allowed\n", "staged, not enforced: ns/knp.default.b-in (Set)", "with the staged policies committed: denied"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	if out := s.run("", "policy", "explain", "ns/a", "ns/b", "8080/tcp"); !strings.Contains(out, "with the staged policies committed: allowed") {
		t.Errorf("the staged Kubernetes policy allows 8080:\n%s", out)
	}
}
