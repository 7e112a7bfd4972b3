package ctl

import (
	"strings"
	"testing"
)

// openPodA is the profile "open", allowing all, and pod ns/a (10.0.0.1)
// with it.
const openPodA = `apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: open}
spec: {ingress: [{action: Allow}], egress: [{action: Allow}]}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: n1-k8s-a-eth0, namespace: ns, labels: {app: a}}
spec: {orchestrator: k8s, node: n1, pod: a, endpoint: eth0, interfaceName: calia, ipNetworks: [10.0.0.1/32], profiles: [open]}
`

// A staged deny-all is accepted and reported: explain's verdict is the
// enforced one, and it says what the staged policy would decide.
func TestExplainPreviewsStagedPolicies(t *testing.T) {
	s := newSession(t)
	const objs = openPodA + `---
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

// Explain through host endpoints: a host endpoint's address (or name) as
// DST is the host receiving through it, as SRC the host sending out of
// it; every stage met is shown, failsafe ports first, as
// FelixConfiguration sets them.
func TestExplainThroughHostEndpoints(t *testing.T) {
	s := newSession(t)
	const objs = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: n1-eth0, labels: {role: edge}}
spec: {node: n1, interfaceName: eth0, expectedIPs: [10.9.0.1]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-all}
spec: {selector: role == 'edge', types: [Ingress, Egress]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: edge-prednat}
spec: {selector: role == 'edge', preDNAT: true, applyOnForward: true, ingress: [{action: Allow, protocol: TCP, destination: {ports: [9090]}}]}
---
` + openPodA
	if out := s.run(objs, "create", "-f", "-"); !strings.Contains(out, "[exit 0]") {
		t.Fatal(out)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"203.0.113.5", "n1-eth0", "22/tcp"}, []string{"-> n1-eth0 (10.9.0.1, host endpoint on n1 eth0) 22/TCP: allowed",
			"ingress of n1-eth0 (normal stage):\n  failsafe port, before any policy: Allow", "[exit 0]"}},
		{[]string{"203.0.113.5", "10.9.0.1", "8080/tcp"}, []string{": denied", "ingress of n1-eth0:\n  tier default: no rule matched: end of tier: Deny", "[exit 1]"}},
		{[]string{"203.0.113.5", "10.9.0.1", "9090/tcp"}, []string{": allowed", "ingress of n1-eth0 (preDNAT stage):\n  tier default: policy edge-prednat: rule 0: Allow"}},
		{[]string{"n1-eth0", "203.0.113.5", "2379/tcp"}, []string{": allowed", "egress of n1-eth0 (normal stage):\n  failsafe port"}},
		{[]string{"n1-eth0", "203.0.113.5", "80/tcp"}, []string{": denied", "egress of n1-eth0:\n  tier default: no rule matched"}},
		{[]string{"203.0.113.5", "ns/a", "80/tcp", "--in", "n1-eth0"}, []string{": allowed", "ingress of n1-eth0 (forward stage):\n  no applyOnForward policy decided",
			"ingress of ns/n1-k8s-a-eth0:\n  profile open: rule 0: Allow"}},
		{[]string{"ns/a", "n1-eth0", "80/tcp"}, []string{": denied", "egress of ns/n1-k8s-a-eth0:", "to its own host: defaultEndpointToHostAction Drop"}},
	} {
		out := s.run("", append([]string{"policy", "explain"}, c.args...)...)
		for _, want := range c.want {
			if !strings.Contains(out, want) {
				t.Errorf("explain %v lacks %q:\n%s", c.args, want, out)
			}
		}
	}
	const none = `apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {failsafeInboundHostPorts: [], defaultEndpointToHostAction: Accept}
`
	if out := s.run(none, "create", "-f", "-"); !strings.Contains(out, "[exit 0]") {
		t.Fatal(out)
	}
	if out := s.run("", "policy", "explain", "203.0.113.5", "n1-eth0", "22/tcp"); !strings.Contains(out, ": denied") || strings.Contains(out, "failsafe") {
		t.Errorf("with no inbound failsafe ports, SSH is denied:\n%s", out)
	}
	if out := s.run("", "policy", "explain", "ns/a", "n1-eth0", "80/tcp"); !strings.Contains(out, "defaultEndpointToHostAction Accept") || !strings.Contains(out, ": allowed") {
		t.Errorf("defaultEndpointToHostAction Accept:\n%s", out)
	}
}
