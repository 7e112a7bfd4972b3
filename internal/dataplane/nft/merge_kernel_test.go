package nft

import (
	"context"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// Merged runs in the kernel: exact keys in hash sets of several shapes
// and a port range in the interval set enforce what the
// rules say, and a fresh Owner reading the table back writes nothing.
func TestMergedRunsInTheKernel(t *testing.T) {
	node := nstest.New(t, "tpm")
	pod1 := pod(t, node, "cali1", "10.0.1.1", "10.0.1.254")
	pod2 := pod(t, node, "cali2", "10.0.2.1", "10.0.2.254")
	node.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for _, port := range []string{"80", "81", "443", "8080", "9000", "9100"} {
		listen(t, pod2, "10.0.2.1:"+port)
	}
	tcp := v3.ProtocolFromString("TCP")
	allow := func(nets []string, ports ...v3.Port) v3.Rule {
		return v3.Rule{Action: v3.Allow, Protocol: &tcp, Source: v3.EntityRule{Nets: nets}, Destination: v3.EntityRule{Ports: ports}}
	}
	var in policy.Input
	open := &v3.Profile{ObjectMeta: v3.ObjectMeta{Name: "open"}}
	open.Spec.Ingress, open.Spec.Egress = []v3.Rule{{Action: v3.Allow}}, []v3.Rule{{Action: v3.Allow}}
	in.Profiles = []*v3.Profile{open}
	for i, r := range [][]v3.Rule{
		{allow([]string{"10.0.1.1/32"}, v3.SinglePort(80)), allow(nil, v3.SinglePort(443))},
		{allow([]string{"10.9.9.9/32"}, v3.SinglePort(8080))},
	} {
		g := &v3.GlobalNetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: "m" + string(rune('a'+i))}}
		g.Spec.Selector, g.Spec.Types, g.Spec.Ingress = "all()", []v3.PolicyType{v3.PolicyTypeIngress}, r
		in.GlobalNetworkPolicies = append(in.GlobalNetworkPolicies, g)
	}
	for i, ifc := range []string{"cali1", "cali2"} {
		w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: ifc, Namespace: "ns"}}
		w.Spec.Node, w.Spec.InterfaceName, w.Spec.IPNetworks, w.Spec.Profiles = "n1", ifc, []string{[]string{"10.0.1.1/32", "10.0.2.1/32"}[i]}, []string{"open"}
		in.WorkloadEndpoints = append(in.WorkloadEndpoints, w)
	}
	m := policy.Build(in)
	if len(m.Problems) > 0 {
		t.Fatal(m.Problems)
	}
	prog := policy.Compile(m, "n1")
	var nft *counting
	var owner *Owner
	apply := func(fresh bool) (res Result) {
		if err := node.Do(func() error {
			real, err := NewNFTables()
			if err != nil {
				return err
			}
			if fresh {
				nft = &counting{Interface: real}
				owner = New(Config{NFT: nft})
			}
			res, err = owner.Apply(context.Background(), Wanted{NAT: natWant(), Policy: &prog})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return res
	}
	check := func(want map[string]bool) {
		t.Helper()
		for port, want := range want {
			if got := connects(pod1, "10.0.2.1:"+port); got != want {
				t.Errorf("pod1 → pod2:%s connected=%v, want %v", port, got, want)
			}
		}
	}
	apply(true)
	check(map[string]bool{"80": true, "443": true, "81": false, "8080": false, "9000": false})
	if res := apply(true); res.Rebuilt || nft.runs != 0 {
		t.Errorf("restart: %+v, %d runs:\n%s", res, nft.runs, node.MustRun(t, "nft", "list", "table", "ip", "tortie"))
	}
	g := in.GlobalNetworkPolicies[1]
	g.Spec.Ingress = append(g.Spec.Ingress, allow([]string{"10.0.1.1/32"}, v3.PortRange(9000, 9050)))
	if m = policy.Build(in); len(m.Problems) > 0 {
		t.Fatal(m.Problems)
	}
	prog = policy.Compile(m, "n1")
	apply(false)
	check(map[string]bool{"80": true, "443": true, "9000": true, "81": false, "8080": false, "9100": false})
}
