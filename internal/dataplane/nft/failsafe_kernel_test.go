package nft

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// A host endpoint whose policies deny everything in every stage
// (untracked, preDNAT, normal) still lets the failsafe ports through: SSH
// and the datastore in, the datastore and DNS (with its answer, which
// meets the untracked deny before conntrack) out. With the failsafe lists
// emptied (Felix's "none") they close too. The model says the same.
func TestFailsafePortsInTheKernel(t *testing.T) {
	node := nstest.New(t, "tfs")
	ext := pod(t, node, "eth1", "10.9.0.2", "10.9.0.1")
	for _, addr := range []string{"10.9.0.1:22", "10.9.0.1:2379", "10.9.0.1:8080"} {
		listen(t, node, addr)
	}
	listen(t, ext, "10.9.0.2:2379")
	listen(t, ext, "10.9.0.2:7000")
	udpEcho(t, ext, "10.9.0.2:53")

	var in policy.Input
	in.HostEndpoints = append(in.HostEndpoints, decode[v3.HostEndpoint](t,
		`{metadata: {name: n1-eth1, labels: {role: gw}}, spec: {node: n1, interfaceName: eth1, expectedIPs: [10.9.0.1]}}`))
	for _, d := range []string{
		`{metadata: {name: deny-all}, spec: {selector: role == 'gw', types: [Ingress, Egress]}}`,
		`{metadata: {name: deny-untracked}, spec: {selector: role == 'gw', doNotTrack: true, applyOnForward: true, ingress: [{action: Deny}], egress: [{action: Deny}]}}`,
		`{metadata: {name: deny-prednat}, spec: {selector: role == 'gw', preDNAT: true, applyOnForward: true, ingress: [{action: Deny}]}}`,
	} {
		in.GlobalNetworkPolicies = append(in.GlobalNetworkPolicies, decode[v3.GlobalNetworkPolicy](t, d))
	}
	m := policy.Build(in)
	prog := policy.Compile(m, "n1")
	var owner *Owner
	apply := func() {
		t.Helper()
		if err := node.Do(func() error {
			if owner == nil {
				real, err := NewNFTables()
				if err != nil {
					return err
				}
				owner = New(Config{NFT: real})
			}
			_, err := owner.Apply(context.Background(), Wanted{NAT: natWant(), Policy: &prog})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	eth1 := m.HostEndpointOn("n1", "eth1")
	check := func(from *nstest.NS, src, dst string, want bool, describe string) {
		t.Helper()
		d := netip.MustParseAddrPort(dst)
		pkt := policy.Packet{Src: netip.MustParseAddr(src), Dst: d.Addr(), Protocol: policy.ProtoTCP, SrcPort: 40000, DstPort: d.Port()}
		path := policy.Path{In: eth1, Failsafes: &prog.Failsafes}
		if from == node {
			path = policy.Path{Out: eth1, Failsafes: &prog.Failsafes}
		}
		if model := m.EvaluatePath(pkt, path).Allowed; model != want {
			t.Errorf("%s: the model says allowed = %v", describe, model)
		}
		if got := connectsFrom(from, src, dst); got != want {
			t.Errorf("%s: connected = %v, want %v", describe, got, want)
		}
	}
	apply()
	check(ext, "10.9.0.2", "10.9.0.1:22", true, "SSH to the host")
	check(ext, "10.9.0.2", "10.9.0.1:2379", true, "the datastore port on the host")
	check(ext, "10.9.0.2", "10.9.0.1:8080", false, "another port on the host")
	check(node, "10.9.0.1", "10.9.0.2:2379", true, "the host to a datastore")
	check(node, "10.9.0.1", "10.9.0.2:7000", false, "the host to another port")
	if err := udpRoundTrip(node, "10.9.0.2:53"); err != nil {
		t.Errorf("DNS from the host (and its answer, before conntrack): %v", err)
	}

	prog.Failsafes = policy.FailsafesFrom(&[]v3.ProtoPort{}, &[]v3.ProtoPort{})
	apply()
	check(ext, "10.9.0.2", "10.9.0.1:22", false, "none: SSH to the host")
	check(node, "10.9.0.1", "10.9.0.2:2379", false, "none: the host to a datastore")
	if err := udpRoundTrip(node, "10.9.0.2:53"); err == nil {
		t.Error("none: DNS from the host got through")
	}
}

// Untracked egress policy on traffic forwarded out of a host endpoint: a
// workload behind the node reaches eth1's outside only as eth1's
// untracked policy says, before conntrack (its Allow skips eth1's
// forward stage, which here denies everything, and leaves no conntrack
// entry); the model says the same.
func TestUntrackedForwardedEgressInTheKernel(t *testing.T) {
	node := nstest.New(t, "tuf")
	ext := pod(t, node, "eth1", "10.9.0.2", "10.9.0.1")
	wl := pod(t, node, "cali1", "10.0.1.1", "10.0.1.254")
	node.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for _, addr := range []string{"10.9.0.2:7000", "10.9.0.2:7001", "10.9.0.2:7002"} {
		listen(t, ext, addr)
	}
	udpEcho(t, ext, "10.9.0.2:5353")
	node.MustRun(t, "nft", "add table ip probe; add chain ip probe c { type filter hook forward priority 10 ; }; add rule ip probe c ct state untracked counter")

	var in policy.Input
	in.HostEndpoints = append(in.HostEndpoints, decode[v3.HostEndpoint](t,
		`{metadata: {name: n1-eth1, labels: {role: gw}}, spec: {node: n1, interfaceName: eth1, expectedIPs: [10.9.0.1]}}`))
	for _, d := range []string{
		`{metadata: {name: fwd-out}, spec: {selector: role == 'gw', applyOnForward: true, types: [Egress]}}`,
		`{metadata: {name: untracked}, spec: {selector: role == 'gw', doNotTrack: true, applyOnForward: true,
		   egress: [{action: Deny, protocol: TCP, destination: {ports: [7001]}}, {action: Allow, protocol: TCP, destination: {ports: [7002]}}, {action: Allow, protocol: UDP, destination: {ports: [5353]}}],
		   ingress: [{action: Allow, protocol: TCP, source: {ports: [7002]}}, {action: Allow, protocol: UDP, source: {ports: [5353]}}]}}`,
	} {
		in.GlobalNetworkPolicies = append(in.GlobalNetworkPolicies, decode[v3.GlobalNetworkPolicy](t, d))
	}
	in.Profiles = append(in.Profiles, decode[v3.Profile](t, `{metadata: {name: open}, spec: {ingress: [{action: Allow}], egress: [{action: Allow}]}}`))
	in.WorkloadEndpoints = append(in.WorkloadEndpoints, decode[v3.WorkloadEndpoint](t,
		`{metadata: {name: pod1, namespace: ns}, spec: {node: n1, interfaceName: cali1, ipNetworks: [10.0.1.1/32], profiles: [open]}}`))
	m := policy.Build(in)
	prog := policy.Compile(m, "n1")
	applyOnce(t, node, &prog)
	for dst, want := range map[string]bool{"10.9.0.2:7000": false, "10.9.0.2:7001": false, "10.9.0.2:7002": true} {
		d := netip.MustParseAddrPort(dst)
		pkt := policy.Packet{Src: netip.MustParseAddr("10.0.1.1"), Dst: d.Addr(), Protocol: policy.ProtoTCP, SrcPort: 40000, DstPort: d.Port()}
		if model := m.EvaluatePath(pkt, policy.Path{Out: m.HostEndpointOn("n1", "eth1")}).Allowed; model != want {
			t.Errorf("workload → %s out of eth1: the model says allowed = %v", dst, model)
		}
		if got := connectsFrom(wl, "10.0.1.1", dst); got != want {
			t.Errorf("workload → %s out of eth1: connected = %v, want %v", dst, got, want)
		}
	}
	if err := udpRoundTrip(wl, "10.9.0.2:5353"); err != nil {
		t.Errorf("untracked UDP 5353 forwarded out of eth1: %v", err)
	}
	if out := node.MustRun(t, "nft", "list", "chain", "ip", "probe", "c"); strings.Contains(out, "packets 0 ") {
		t.Errorf("the untracked exchanges were tracked:\n%s", out)
	}
}
