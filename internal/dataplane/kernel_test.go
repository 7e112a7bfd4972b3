package dataplane

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// TestKernelRestart applies a whole node state to a fresh namespace, then
// restarts (a new Dataplane on the same kernel) and checks that nothing is
// written.
func TestKernelRestart(t *testing.T) {
	ns := nodeNamespace(t)
	// run runs steps ("apply", "resync") on one new Dataplane: a start,
	// or a restart, of the agent.
	run := func(steps ...string) ([]Stats, error) {
		var sts []Stats
		err := ns.Do(func() error {
			d, err := New(Config{})
			if err != nil {
				return err
			}
			defer d.Close()
			for _, step := range steps {
				var st Stats
				if step == "resync" {
					st, err = d.Resync(ctx, desired())
				} else {
					st, err = d.Apply(ctx, desired())
				}
				if err != nil {
					return err
				}
				sts = append(sts, st)
			}
			return nil
		})
		return sts, err
	}
	proxyARP := func() string {
		return strings.TrimSpace(ns.MustRun(t, "sysctl", "-n", "net.ipv4.conf.cali0000000001.proxy_arp"))
	}
	sts, err := run("apply")
	if err != nil {
		t.Fatal(err)
	}
	if st := sts[0]; st.Routes != 3 || st.Devices != 1 || st.Neighbors != 2 || st.FDB != 1 || st.Changes == 0 || st.SysctlDeferred != 1 {
		t.Fatalf("first apply: %+v", st)
	}
	// The interface's sysctls are not the CNI plugin's here: the first
	// Apply leaves them (it defers their check), the next one fixes them.
	if got := proxyARP(); got != "0" {
		t.Fatalf("proxy_arp = %s after the first Apply; want the check deferred", got)
	}
	mustHave := map[string][]string{
		"ip route":   {"blackhole 10.244.1.0/26 proto 80", "10.244.2.0/26 via 10.244.2.0 dev vxlan.calico proto 80 onlink", "10.244.1.5 dev cali0000000001 proto 80 scope link"},
		"nft":        {"ip saddr @masq-ipam-pools ip daddr != @all-ipam-pools masquerade"},
		"ip_forward": {"1"},
		"ip neigh":   {"10.244.1.5 dev cali0000000001 lladdr aa:00:00:00:00:05 PERMANENT"},
	}
	outs := map[string]string{
		"ip route":   ns.MustRun(t, "ip", "route"),
		"nft":        ns.MustRun(t, "nft", "list", "table", "ip", "tortie"),
		"ip_forward": ns.MustRun(t, "sysctl", "-n", "net.ipv4.ip_forward"),
		"ip neigh":   ns.MustRun(t, "ip", "neigh"),
	}
	for what, subs := range mustHave {
		for _, s := range subs {
			if !strings.Contains(outs[what], s) {
				t.Errorf("%s lacks %q:\n%s", what, s, outs[what])
			}
		}
	}
	sts, err = run("apply", "apply", "apply")
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].Changes != 0 || sts[1].Changes == 0 || sts[1].SysctlDeferred != 0 || sts[2].Changes != 0 || proxyARP() != "1" {
		t.Fatalf("restart, then two more Applies: %+v, proxy_arp %s; want the deferred sysctls fixed by the second", sts, proxyARP())
	}
	for _, step := range []string{"apply", "resync"} {
		if sts, err := run(step); err != nil || sts[0].Changes != 0 {
			t.Fatalf("restart (%s): %+v %v; want no changes", step, sts, err)
		}
	}
}

// TestKernelNewPods applies a node state, then two new pods as the agent
// sees them: one wired by the CNI plugin (interface, proto 81 route,
// neighbour entry, sysctls), one whose interface alone exists. The
// incremental Apply adopts the first as it is and programs the second.
func TestKernelNewPods(t *testing.T) {
	ns := nodeNamespace(t)
	c := cniSysctls("cali0000000001")
	ns.MustRun(t, c[0], c[1:]...)
	want := desired()
	err := ns.Do(func() error {
		d, err := New(Config{})
		if err != nil {
			return err
		}
		defer d.Close()
		if _, err := d.Apply(ctx, want); err != nil {
			return err
		}
		for _, c := range [][]string{
			{"ip", "link", "add", "cali0000000002", "type", "veth", "peer", "name", "peer2"},
			{"ip", "link", "set", "cali0000000002", "up"}, {"ip", "link", "set", "peer2", "up"},
			{"ip", "route", "add", "10.244.1.6/32", "dev", "cali0000000002", "scope", "link", "proto", "81"},
			{"ip", "neigh", "add", "10.244.1.6", "lladdr", "aa:00:00:00:00:06", "dev", "cali0000000002", "nud", "permanent"},
			cniSysctls("cali0000000002"),
			{"ip", "link", "add", "cali0000000003", "type", "veth", "peer", "name", "peer3"},
			{"ip", "link", "set", "cali0000000003", "up"}, {"ip", "link", "set", "peer3", "up"},
		} {
			ns.MustRun(t, c[0], c[1:]...)
		}
		want.Routes = append(want.Routes,
			calc.Route{Dst: pfx("10.244.1.6/32"), Dev: "cali0000000002", Workload: true},
			calc.Route{Dst: pfx("10.244.1.7/32"), Dev: "cali0000000003", Workload: true})
		want.Neighbors = append(want.Neighbors,
			calc.Neighbor{Dev: "cali0000000002", IP: addr("10.244.1.6"), MAC: mac("aa:00:00:00:00:06")},
			calc.Neighbor{Dev: "cali0000000003", IP: addr("10.244.1.7"), MAC: mac("aa:00:00:00:00:07")})
		st, err := d.Apply(ctx, want)
		if err != nil {
			return err
		}
		// Two neighbour sets (the first rewrites the plugin's entry as it
		// is), one route added, and cali0000000003's sysctls (accept_ra
		// may be absent or already 0).
		if st.Routes != 5 || st.Neighbors != 4 || st.Changes < 2+1+4 || st.Changes > 2+1+5 {
			return fmt.Errorf("new pods: %+v", st)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	routes := ns.MustRun(t, "ip", "route")
	for _, w := range []string{"10.244.1.6 dev cali0000000002 proto 81 scope link", "10.244.1.7 dev cali0000000003 proto 80 scope link"} {
		if !strings.Contains(routes, w) {
			t.Errorf("ip route lacks %q:\n%s", w, routes)
		}
	}
	if got := ns.MustRun(t, "ip", "neigh", "show", "dev", "cali0000000003"); !strings.Contains(got, "10.244.1.7 lladdr aa:00:00:00:00:07 PERMANENT") {
		t.Errorf("neighbour of the new pod: %q", got)
	}
	if got := strings.TrimSpace(ns.MustRun(t, "sysctl", "-n", "net.ipv4.conf.cali0000000003.proxy_arp")); got != "1" {
		t.Errorf("the new interface's proxy_arp = %s", got)
	}
}

// cniSysctls is the command setting an interface's sysctls as the CNI
// plugin does.
func cniSysctls(ifName string) []string {
	return []string{"sysctl", "-qw", "net.ipv4.conf." + ifName + ".proxy_arp=1", "net.ipv4.conf." + ifName + ".route_localnet=1",
		"net.ipv4.neigh." + ifName + ".proxy_delay=0", "net.ipv4.conf." + ifName + ".forwarding=1", "net.ipv6.conf." + ifName + ".accept_ra=0"}
}

// nodeNamespace is a fresh namespace furnished like a node with one pod:
// an underlay eth0 (192.168.0.10/24) and a workload interface
// cali0000000001, both up.
func nodeNamespace(t testing.TB) *nstest.NS {
	t.Helper()
	ns := nstest.New(t, "tdp")
	for _, c := range [][]string{
		{"ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"},
		{"ip", "addr", "add", "192.168.0.10/24", "dev", "eth0"},
		{"ip", "link", "add", "cali0000000001", "type", "veth", "peer", "name", "peer1"},
		{"ip", "link", "set", "eth0", "up"}, {"ip", "link", "set", "peer0", "up"},
		{"ip", "link", "set", "cali0000000001", "up"}, {"ip", "link", "set", "peer1", "up"},
	} {
		ns.MustRun(t, c[0], c[1:]...)
	}
	return ns
}

// TestKernelDelta applies a remote route change as a delta in a namespace,
// then Resync (which reads everything back) must find nothing to write: the
// delta left the kernel as a full Apply would.
func TestKernelDelta(t *testing.T) {
	ns := nodeNamespace(t)
	want := desired()
	add := calc.Route{Dst: pfx("10.244.3.0/26"), Dev: "vxlan.calico", Gw: addr("10.244.2.0"), OnLink: true}
	borrowed := calc.Route{Dst: pfx("10.244.1.9/32"), Dev: "vxlan.calico", Gw: addr("10.244.2.0"), OnLink: true}
	next := want
	next.Routes = []calc.Route{want.Routes[0], want.Routes[2], add, borrowed}
	delta := calc.Delta{AddedRoutes: []calc.Route{add, borrowed}, RemovedRoutes: []calc.Route{want.Routes[1]}}
	err := ns.Do(func() error {
		d, err := New(Config{})
		if err != nil {
			return err
		}
		defer d.Close()
		for range 2 { // the second does the deferred sysctl checks
			if _, err := d.Apply(ctx, want); err != nil {
				return err
			}
		}
		if !d.deltaUsable(next, delta) {
			return fmt.Errorf("the delta is not usable")
		}
		st, err := d.ApplyDelta(ctx, next, delta)
		if err != nil || st.Changes != 3 {
			return fmt.Errorf("delta: %+v, %v; want 3 changes", st, err)
		}
		st, err = d.Resync(ctx, next)
		if err != nil || st.Changes != 0 {
			return fmt.Errorf("resync after the delta: %+v, %v; want no change", st, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := ns.MustRun(t, "ip", "route")
	for _, s := range []string{"10.244.3.0/26 via 10.244.2.0 dev vxlan.calico proto 80 onlink",
		"10.244.1.9 via 10.244.2.0 dev vxlan.calico proto 80 onlink"} {
		if !strings.Contains(out, s) {
			t.Fatalf("ip route lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "10.244.2.0/26") {
		t.Fatalf("ip route still has the removed block:\n%s", out)
	}
}
