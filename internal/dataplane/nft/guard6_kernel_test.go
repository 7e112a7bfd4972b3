package nft

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// pod6 gives pod p, behind iface of node, the address fd00:<n>::1/64, the
// node's side fd00:<n>::fe, and a default IPv6 route through it.
func pod6(t *testing.T, node, p *nstest.NS, iface, n string) {
	t.Helper()
	node.MustRun(t, "ip", "-6", "addr", "add", "fd00:"+n+"::fe/64", "dev", iface, "nodad")
	p.MustRun(t, "ip", "-6", "addr", "add", "fd00:"+n+"::1/64", "dev", "eth0", "nodad")
	p.MustRun(t, "ip", "-6", "route", "add", "default", "via", "fd00:"+n+"::fe")
}

func pings6(p *nstest.NS, addr string) bool {
	_, err := p.Run("ping", "-6", "-c1", "-W1", addr)
	return err == nil
}

// TestGuard6InTheKernel: with the IPv6 guard, a pod its policy selects
// (pod2) is unreachable over IPv6 and cannot send, while open pods (pod1,
// pod3: allow-all profile, no policy) reach each other.
func TestGuard6InTheKernel(t *testing.T) {
	node := nstest.New(t, "tgn")
	node.MustRun(t, "nft", "add table ip6 foreign; add chain ip6 foreign c { type filter hook forward priority 0 ; }; add rule ip6 foreign c counter accept")
	pod1 := pod(t, node, "cali1", "10.0.1.1", "10.0.1.254")
	pod2 := pod(t, node, "cali2", "10.0.2.1", "10.0.2.254")
	pod3 := pod(t, node, "cali3", "10.0.3.1", "10.0.3.254")
	node.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	pod6(t, node, pod1, "cali1", "1")
	pod6(t, node, pod2, "cali2", "2")
	pod6(t, node, pod3, "cali3", "3")

	prog := policyFixture(t) // pod1 open, pod2 selected by a policy
	for i, n := range []string{"1", "2"} {
		prog.Endpoints[i].Addrs = append(prog.Endpoints[i].Addrs, netip.MustParsePrefix("fd00:"+n+"::1/128"))
	}
	three := prog.Endpoints[0] // pod3: as pod1
	three.Key, three.Interface = "ns/pod3", "cali3"
	three.Addrs = []netip.Prefix{netip.MustParsePrefix("10.0.3.1/32"), netip.MustParsePrefix("fd00:3::1/128")}
	prog.Endpoints = append(prog.Endpoints, three)
	if !prog.Open(prog.Endpoints[0]) || prog.Open(prog.Endpoints[1]) {
		t.Fatal("fixture: pod1 should be open, pod2 not")
	}
	// The first pings wait for duplicate address detection on the links.
	for _, p := range []*nstest.NS{pod1, pod3} {
		if out, err := p.Run("ping", "-6", "-c1", "-w5", "fd00:2::1"); err != nil {
			t.Fatal(out, "without the guard pods do not reach pod2 over IPv6: the test's network is broken")
		}
	}

	var nft *counting
	apply := func(p *policy.Program) (changed bool, err error) {
		err = node.Do(func() error {
			real, err := NewNFTables6()
			if err != nil {
				return err
			}
			nft = &counting{Interface: real}
			changed, err = NewGuard6(nft, nil).Apply(context.Background(), p)
			return err
		})
		return changed, err
	}
	if changed, err := apply(prog); err != nil || !changed {
		t.Fatalf("first apply: %v %v", changed, err)
	}
	for _, c := range []struct {
		from *nstest.NS
		name string
		to   string
		want bool
	}{
		{pod1, "pod1 → pod3", "fd00:3::1", true},
		{pod3, "pod3 → pod1", "fd00:1::1", true},
		{pod1, "pod1 → pod2", "fd00:2::1", false},
		{pod2, "pod2 → pod3", "fd00:3::1", false},
		{pod1, "pod1 → its host", "fd00:1::fe", false}, // defaultEndpointToHostAction Drop
	} {
		if got := pings6(c.from, c.to); got != c.want {
			t.Errorf("ping6 %s: got through = %v, want %v", c.name, got, c.want)
		}
	}

	// A restart reads the table back and writes nothing.
	if changed, err := apply(prog); err != nil || changed || nft.runs != 0 {
		t.Errorf("restart: %v %v, %d runs:\n%s", changed, err, nft.runs, node.MustRun(t, "nft", "list", "table", "ip6", "tortie"))
	}
	// Drift (a rule deleted by hand) is repaired.
	node.MustRun(t, "nft", "flush chain ip6 tortie "+Guard6FwdChain)
	if changed, err := apply(prog); err != nil || !changed || pings6(pod1, "fd00:2::1") {
		t.Errorf("repair after a flush: %v %v", changed, err)
	}

	// No workload with an IPv6 address: no table.
	for i := range prog.Endpoints {
		prog.Endpoints[i].Addrs = prog.Endpoints[i].Addrs[:1]
	}
	if changed, err := apply(prog); err != nil || !changed {
		t.Fatalf("removal: %v %v", changed, err)
	}
	if out, err := node.Run("nft", "list", "table", "ip6", "tortie"); err == nil {
		t.Errorf("the table is still there:\n%s", out)
	}
	if changed, err := apply(prog); err != nil || changed || nft.runs != 0 {
		t.Errorf("second removal: %v %v, %d runs", changed, err, nft.runs)
	}
	if out := node.MustRun(t, "nft", "list", "table", "ip6", "foreign"); !strings.Contains(out, "counter packets") {
		t.Errorf("foreign table changed:\n%s", out)
	}
}
