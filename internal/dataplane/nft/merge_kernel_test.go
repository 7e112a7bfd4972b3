package nft

import (
	"context"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// Merged runs in the kernel: exact keys in hash sets of several shapes
// and a port range in the interval set enforce what the rules say, and a
// fresh Owner reading the table back writes nothing, with or without the
// interval set.
func TestMergedRunsInTheKernel(t *testing.T) {
	node := nstest.New(t, "tpm")
	pod1 := pod(t, node, "cali1", "10.0.1.1", "10.0.1.254")
	pod2 := pod(t, node, "cali2", "10.0.2.1", "10.0.2.254")
	node.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for _, port := range []string{"80", "81", "443", "8080", "9000", "9050", "9051", "9100", "9101"} {
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
	// A prefix with a range of a few aligned blocks: masked hash sets; a
	// range of many blocks: the interval set.
	g.Spec.Ingress = append(g.Spec.Ingress, allow([]string{"10.0.1.0/24"}, v3.PortRange(9000, 9050)),
		allow([]string{"10.0.1.1/32"}, v3.PortRange(9101, 9998)))
	if m = policy.Build(in); len(m.Problems) > 0 {
		t.Fatal(m.Problems)
	}
	prog = policy.Compile(m, "n1")
	apply(false)
	check(map[string]bool{"80": true, "443": true, "9000": true, "9050": true, "9101": true, "81": false, "8080": false, "9051": false, "9100": false})
	table := node.MustRun(t, "nft", "list", "table", "ip", "tortie")
	for _, w := range []string{"ip saddr & 255.255.255.0 . th dport & 65528 @run-", "tcp . 10.0.1.1 . 0.0.0.0/0 . 0-65535 . 9101-9998"} {
		if !strings.Contains(table, w) {
			t.Errorf("table lacks %q (the test no longer covers it):\n%s", w, table)
		}
	}
	readsAsLive(t, node, Wanted{NAT: natWant(), Policy: &prog})
	if res := apply(true); res.Rebuilt || nft.runs != 0 {
		t.Errorf("restart with an interval set: %+v, %d runs:\n%s", res, nft.runs, node.MustRun(t, "nft", "list", "table", "ip", "tortie"))
	}
}

// A fresh Owner (tortie-node restarted) reads back merged interval sets
// (prefixes other than /32, port ranges, any protocol) and a hash set
// keyed by an unnamed protocol, and writes nothing; a changed element is
// then written as that one element's change, and read back right again.
func TestFreshOwnerReadsMergedSets(t *testing.T) {
	node := nstest.New(t, "tpf")
	tcp, icmp := v3.ProtocolFromString("TCP"), v3.ProtocolFromString("ICMP")
	rule := func(proto *v3.Protocol, src []string, ports ...v3.Port) v3.Rule {
		return v3.Rule{Action: v3.Allow, Protocol: proto, Source: v3.EntityRule{Nets: src}, Destination: v3.EntityRule{Ports: ports}}
	}
	g := &v3.GlobalNetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: "ranges"}}
	g.Spec.Selector, g.Spec.Types = "all()", []v3.PolicyType{v3.PolicyTypeIngress}
	g.Spec.Ingress = []v3.Rule{
		rule(&tcp, []string{"10.1.0.0/16"}, v3.PortRange(9001, 9998)),
		rule(&tcp, []string{"10.2.0.0/16"}, v3.PortRange(9000, 9050)),
		rule(&tcp, []string{"10.0.1.1/32"}, v3.SinglePort(80)),
		rule(nil, []string{"192.168.0.0/24"}),
		rule(&icmp, []string{"10.0.1.1/32"}),
	}
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: "cali1", Namespace: "ns"}}
	w.Spec.Node, w.Spec.InterfaceName, w.Spec.IPNetworks = "n1", "cali1", []string{"10.0.2.1/32"}
	in := policy.Input{GlobalNetworkPolicies: []*v3.GlobalNetworkPolicy{g}, WorkloadEndpoints: []*v3.WorkloadEndpoint{w}}
	compile := func() *policy.Program {
		m := policy.Build(in)
		if len(m.Problems) > 0 {
			t.Fatal(m.Problems)
		}
		p := policy.Compile(m, "n1")
		return &p
	}
	var nft *counting
	var owner *Owner
	var tx string
	apply := func(fresh bool, prog *policy.Program) (res Result) {
		t.Helper()
		if err := node.Do(func() error {
			if fresh {
				real, err := NewNFTables()
				if err != nil {
					return err
				}
				nft = &counting{Interface: real}
				owner = New(Config{NFT: nft})
			}
			tx, nft.runs, nft.onRun = "", 0, func(s string) { tx = s }
			var err error
			res, err = owner.Apply(context.Background(), Wanted{NAT: natWant(), Policy: prog})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return res
	}
	apply(true, compile())
	sets := node.MustRun(t, "nft", "list", "table", "ip", "tortie")
	for _, w := range []string{"flags interval", "tcp . 10.1.0.0/16 . 0.0.0.0/0 . 0-65535 . 9001-9998", "tcp . 10.2.0.0 . 9024", "0-255 . 192.168.0.0/24 . 0.0.0.0/0 . 0-65535 . 0-65535", "icmp . 10.0.1.1", "tcp . 10.0.1.1 . 80"} {
		if !strings.Contains(sets, w) {
			t.Fatalf("table lacks %q (the test no longer covers it):\n%s", w, sets)
		}
	}
	restart := func(when string, prog *policy.Program) {
		t.Helper()
		if res := apply(true, prog); res.Rebuilt || nft.runs != 0 {
			t.Errorf("%s: fresh Owner %+v, %d runs:\n%s", when, res, nft.runs, tx)
		}
	}
	restart("restart", compile())
	readsAsLive(t, node, Wanted{NAT: natWant(), Policy: compile()})

	g.Spec.Ingress[0].Destination.Ports[0] = v3.PortRange(9001, 9999)
	changed := compile()
	res := apply(false, changed)
	var ops []string
	for _, l := range strings.Split(strings.TrimSpace(tx), "\n") {
		if l != "" {
			ops = append(ops, l)
		}
	}
	if !res.ElementsOnly || nft.runs != 1 || len(ops) != 2 ||
		!strings.Contains(tx, "delete element ip tortie run-") || !strings.Contains(tx, "9001-9998") ||
		!strings.Contains(tx, "add element ip tortie run-") || !strings.Contains(tx, "9001-9999") {
		t.Errorf("one element changed: %+v, %d runs, transaction:\n%s", res, nft.runs, tx)
	}
	restart("restart after the change", changed)
	readsAsLive(t, node, Wanted{NAT: natWant(), Policy: changed})
}
