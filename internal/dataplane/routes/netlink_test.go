package routes

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane/links"
	"github.com/tortienet/tortie/internal/nlsafe"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// counting counts the writes made through a Kernel.
type counting struct {
	Kernel
	writes []string
}

func (c *counting) Write(ops []Op) []error {
	for _, op := range ops {
		c.writes = append(c.writes, [...]string{"add ", "replace ", "delete "}[op.Kind]+op.Route.String())
	}
	return c.Kernel.Write(ops)
}

// handleIn opens a netlink handle and writer whose sockets live in ns,
// usable from any goroutine afterwards.
func handleIn(t *testing.T, ns *nstest.NS) (*netlink.Handle, *nlsafe.Writer) {
	t.Helper()
	var h *netlink.Handle
	var w *nlsafe.Writer
	err := ns.Do(func() (err error) {
		if h, err = netlink.NewHandle(); err != nil {
			return err
		}
		w, err = nlsafe.OpenWriter()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	t.Cleanup(func() { w.Close() })
	return h, w
}

func TestNetlinkReconcile(t *testing.T) {
	ns := nstest.New(t, "tdp")
	for _, c := range [][]string{
		// This kernel has no dummy interfaces: veth pairs stand in.
		{"ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"},
		{"ip", "addr", "add", "192.168.0.10/24", "dev", "eth0"},
		{"ip", "link", "add", "vxlan.calico", "type", "veth", "peer", "name", "peer1"},
		{"ip", "link", "add", "cali0000000001", "type", "veth", "peer", "name", "peer2"},
		{"ip", "link", "set", "eth0", "up"}, {"ip", "link", "set", "peer0", "up"},
		{"ip", "link", "set", "vxlan.calico", "up"}, {"ip", "link", "set", "peer1", "up"},
		{"ip", "link", "set", "cali0000000001", "up"}, {"ip", "link", "set", "peer2", "up"},
		// The CNI plugin's pod route, to be adopted as it is.
		{"ip", "route", "add", "10.244.1.5/32", "dev", "cali0000000001", "scope", "link", "proto", "81"},
		// Another owner's routes: one elsewhere, one at a wanted destination.
		{"ip", "route", "add", "10.99.0.0/24", "via", "192.168.0.1", "proto", "bird"},
		{"ip", "route", "add", "10.244.4.0/26", "via", "192.168.0.1", "proto", "static"},
	} {
		ns.MustRun(t, c[0], c[1:]...)
	}
	want := []calc.Route{
		{Dst: pfx("10.244.1.0/26"), Type: calc.Blackhole},
		{Dst: pfx("10.244.2.0/26"), Dev: "vxlan.calico", Gw: addr("10.244.2.1"), OnLink: true},
		{Dst: pfx("10.244.3.0/26"), Dev: "eth0", Gw: addr("192.168.0.3")},
		{Dst: pfx("10.244.4.0/26"), Dev: "eth0", Gw: addr("192.168.0.4")},
		{Dst: pfx("10.244.1.5/32"), Dev: "cali0000000001", Workload: true},
		{Dst: pfx("10.244.1.6/32"), Dev: "cali0000000002", Workload: true},
	}
	h, w := handleIn(t, ns)
	k := &counting{Kernel: NewNetlink(h, w)}
	tbl := links.NewTable(links.NewNetlink(h))
	r := New(Config{Kernel: k, Links: tbl})
	apply := func(step string) Result {
		t.Helper()
		k.writes = nil
		tbl.Begin()
		res, err := r.Apply(context.Background(), want)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return res
	}

	res := apply("first apply")
	if res.Written != 3 || res.Programmed != 4 || res.Skipped != 1 || len(res.Conflicts) != 1 {
		t.Fatalf("first apply: %+v, writes %v", res, k.writes)
	}
	got := ns.MustRun(t, "ip", "route", "show", "proto", "80")
	for _, w := range []string{
		"blackhole 10.244.1.0/26",
		"10.244.2.0/26 via 10.244.2.1 dev vxlan.calico onlink",
		"10.244.3.0/26 via 192.168.0.3 dev eth0",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("proto 80 routes lack %q:\n%s", w, got)
		}
	}
	if got := ns.MustRun(t, "ip", "route", "show", "10.244.1.5/32"); !strings.Contains(got, "proto 81") {
		t.Errorf("the CNI's route was rewritten: %s", got)
	}

	if apply("second apply"); len(k.writes) != 0 {
		t.Fatalf("second apply wrote %v", k.writes)
	}

	// A new pod, wired by the CNI plugin: the Apply tries to add its route,
	// finds the plugin's, reads the table back and adopts it as it is.
	for _, c := range [][]string{
		{"ip", "link", "add", "cali0000000003", "type", "veth", "peer", "name", "peer3"},
		{"ip", "link", "set", "cali0000000003", "up"}, {"ip", "link", "set", "peer3", "up"},
		{"ip", "route", "add", "10.244.1.7/32", "dev", "cali0000000003", "scope", "link", "proto", "81"},
	} {
		ns.MustRun(t, c[0], c[1:]...)
	}
	want = append(want, calc.Route{Dst: pfx("10.244.1.7/32"), Dev: "cali0000000003", Workload: true})
	if res := apply("new pod"); res.Written != 0 || res.Programmed != 5 || !res.Read || len(k.writes) != 1 || !strings.HasPrefix(k.writes[0], "add 10.244.1.7/32") {
		t.Fatalf("new pod: %+v, writes %v", res, k.writes)
	}
	if got := ns.MustRun(t, "ip", "route", "show", "10.244.1.7/32"); !strings.Contains(got, "proto 81") {
		t.Errorf("the CNI's route was rewritten: %s", got)
	}
	// A new pod without a route yet: added.
	for _, c := range [][]string{
		{"ip", "link", "add", "cali0000000004", "type", "veth", "peer", "name", "peer4"},
		{"ip", "link", "set", "cali0000000004", "up"}, {"ip", "link", "set", "peer4", "up"},
	} {
		ns.MustRun(t, c[0], c[1:]...)
	}
	want = append(want, calc.Route{Dst: pfx("10.244.1.8/32"), Dev: "cali0000000004", Workload: true})
	if res := apply("new pod 2"); res.Written != 1 || res.Read {
		t.Fatalf("new pod 2: %+v, writes %v", res, k.writes)
	}
	if got := ns.MustRun(t, "ip", "route", "show", "10.244.1.8/32"); !strings.Contains(got, "dev cali0000000004 proto 80 scope link") {
		t.Errorf("new pod's route: %q", got)
	}

	// Drift: one route deleted by hand, one changed by hand. An Apply
	// trusts its memory; after Forget (the resync) it reads and repairs.
	ns.MustRun(t, "ip", "route", "del", "10.244.2.0/26")
	ns.MustRun(t, "ip", "route", "replace", "10.244.3.0/26", "via", "192.168.0.99", "dev", "eth0", "proto", "80")
	if res := apply("apply after drift"); res.Written != 0 || res.Read {
		t.Fatalf("apply after drift: %+v, writes %v; want no reads, no writes", res, k.writes)
	}
	r.Forget()
	if res := apply("repair"); res.Written != 2 {
		t.Fatalf("repair: %+v, writes %v", res, k.writes)
	}
	if got := ns.MustRun(t, "ip", "route", "show", "10.244.2.0/26"); !strings.Contains(got, "via 10.244.2.1 dev vxlan.calico") {
		t.Errorf("deleted route not restored: %q", got)
	}
	if got := ns.MustRun(t, "ip", "route", "show", "10.244.3.0/26"); !strings.Contains(got, "via 192.168.0.3") {
		t.Errorf("changed route not repaired: %q", got)
	}

	// A restart: a new reconciler over a new handle finds nothing to do.
	h2, w2 := handleIn(t, ns)
	k2 := &counting{Kernel: NewNetlink(h2, w2)}
	if _, err := New(Config{Kernel: k2, Links: links.NewTable(links.NewNetlink(h2))}).Apply(context.Background(), want); err != nil || len(k2.writes) != 0 {
		t.Fatalf("restart: writes %v, err %v", k2.writes, err)
	}

	// Unwanted routes of ours go (the adopted ones after the grace period);
	// the foreign ones stay.
	want = want[:1]
	if res := apply("shrink"); res.Deleted != 3 {
		t.Fatalf("shrink: %+v, writes %v", res, k.writes)
	}
	got = ns.MustRun(t, "ip", "route", "show")
	for _, w := range []string{"10.99.0.0/24 via 192.168.0.1 dev eth0 proto bird", "10.244.4.0/26 via 192.168.0.1 dev eth0 proto static", "blackhole 10.244.1.0/26 proto 80", "10.244.1.5 dev cali0000000001 proto 81", "10.244.1.7 dev cali0000000003 proto 81"} {
		if !strings.Contains(got, w) {
			t.Errorf("routes lack %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "10.244.2.0/26") || strings.Contains(got, "10.244.3.0/26") || strings.Contains(got, "10.244.1.8") {
		t.Errorf("stale routes of ours remain:\n%s", got)
	}
}

// IPv6 on the real kernel: the CNI plugin's /128 is adopted, a blackhole
// (which the kernel shows on lo) and a route via a next hop are written
// once, and neither a second Apply nor a restart writes anything.
func TestNetlinkReconcileIPv6(t *testing.T) {
	ns := nstest.New(t, "tdp6")
	for _, c := range [][]string{
		{"ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"},
		{"ip", "link", "add", "cali0000000001", "type", "veth", "peer", "name", "peer1"},
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "set", "eth0", "up"}, {"ip", "link", "set", "peer0", "up"},
		{"ip", "link", "set", "cali0000000001", "up"}, {"ip", "link", "set", "peer1", "up"},
		{"ip", "-6", "addr", "add", "fd00:ff::1/64", "dev", "eth0", "nodad"},
		{"ip", "-6", "route", "add", "fd00:1::5/128", "dev", "cali0000000001", "proto", "81"},
	} {
		ns.MustRun(t, c[0], c[1:]...)
	}
	want := []calc.Route{
		{Dst: pfx("10.244.1.0/26"), Type: calc.Blackhole},
		{Dst: pfx("fd00:1::/122"), Type: calc.Blackhole},
		{Dst: pfx("fd00:1::40/122"), Dev: "eth0", Gw: addr("fd00:ff::2")},
		{Dst: pfx("fd00:1::5/128"), Dev: "cali0000000001", Workload: true},
	}
	h, w := handleIn(t, ns)
	k := &counting{Kernel: NewNetlink(h, w)}
	tbl := links.NewTable(links.NewNetlink(h))
	r := New(Config{Kernel: k, Links: tbl})
	tbl.Begin()
	res, err := r.Apply(context.Background(), want)
	if err != nil || res.Written != 3 || res.Programmed != 4 {
		t.Fatalf("first apply: %+v %v, writes %v", res, err, k.writes)
	}
	got := ns.MustRun(t, "ip", "-6", "route", "show")
	for _, w := range []string{"blackhole fd00:1::/122 dev lo proto 80", "fd00:1::40/122 via fd00:ff::2 dev eth0 proto 80",
		"fd00:1::5 dev cali0000000001 proto 81"} {
		if !strings.Contains(got, w) {
			t.Errorf("IPv6 routes lack %q:\n%s", w, got)
		}
	}
	k.writes = nil
	r.Forget()
	tbl.Begin()
	if _, err := r.Apply(context.Background(), want); err != nil || len(k.writes) != 0 {
		t.Fatalf("second apply (read back): writes %v, err %v", k.writes, err)
	}
	h2, w2 := handleIn(t, ns)
	k2 := &counting{Kernel: NewNetlink(h2, w2)}
	if _, err := New(Config{Kernel: k2, Links: links.NewTable(links.NewNetlink(h2))}).Apply(context.Background(), want); err != nil || len(k2.writes) != 0 {
		t.Fatalf("restart: writes %v, err %v", k2.writes, err)
	}
	tbl.Begin()
	if res, err := r.Apply(context.Background(), want[:1]); err != nil || res.Deleted != 2 {
		t.Fatalf("shrink: %+v %v, writes %v", res, err, k.writes)
	}
	if got := ns.MustRun(t, "ip", "-6", "route", "show", "proto", "80"); got != "" {
		t.Errorf("IPv6 routes of ours remain:\n%s", got)
	}
}

// TestNetlinkWriteBatch writes more routes than one request carries, with
// failing ones among them (a route on an interface that does not exist, an
// add over an existing route), through the real kernel: each failure is
// reported on its own route, and every other write is done.
func TestNetlinkWriteBatch(t *testing.T) {
	ns := nstest.New(t, "tdp")
	for _, c := range [][]string{
		{"ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"},
		{"ip", "addr", "add", "192.168.0.10/24", "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"}, {"ip", "link", "set", "peer0", "up"},
		{"ip", "route", "add", "10.250.0.0/26", "via", "192.168.0.7", "proto", "80"},
	} {
		ns.MustRun(t, c[0], c[1:]...)
	}
	h, w := handleIn(t, ns)
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	route := func(i, index int) Route {
		return Route{Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 250, byte(i >> 2), byte(i&3) << 6}), 26), Type: TypeUnicast,
			LinkIndex: index, Gw: addr("192.168.0.2"), Scope: ScopeUniverse, Protocol: 80}
	}
	var ops []Op
	for i := range 150 {
		ops = append(ops, Op{Kind: OpAdd, Route: route(i, eth0.Attrs().Index)})
	}
	ops[70].Route.LinkIndex, ops[70].Route.OnLink = 999, true // no such interface
	// ops[0] adds over the route above; the delete of a route never
	// written is not an error.
	ops = append(ops, Op{Kind: OpDelete, Route: route(200, eth0.Attrs().Index)})
	errs := NewNetlink(h, w).Write(ops)
	if len(errs) != len(ops) {
		t.Fatalf("%d answers to %d writes", len(errs), len(ops))
	}
	for i, err := range errs {
		switch {
		case i == 0 && !errors.Is(err, ErrExists):
			t.Errorf("write 0 (an add over an existing route): %v; want ErrExists", err)
		case i == 70 && !errors.Is(err, ErrNoDevice):
			t.Errorf("write 70 (no such interface): %v; want ErrNoDevice", err)
		case i != 0 && i != 70 && err != nil:
			t.Errorf("write %d (%s): %v", i, ops[i].Route, err)
		}
	}
	got := ns.MustRun(t, "ip", "route", "show", "proto", "80")
	if n := strings.Count(got, "\n"); n != 149 { // 148 added, and the route that was there
		t.Errorf("%d routes of proto 80; want 149:\n%s", n, got)
	}
	if strings.Contains(got, "10.250.17.128/26") || !strings.Contains(got, "10.250.0.0/26 via 192.168.0.7") || !strings.Contains(got, "10.250.17.64/26 via 192.168.0.2") {
		t.Errorf("routes after the batch:\n%s", got)
	}

	// Replaces and deletes in one batch, the failing one in the middle.
	gone := route(1, 999)
	gone.OnLink = true
	ops = []Op{{Kind: OpReplace, Route: route(0, eth0.Attrs().Index)}, {Kind: OpReplace, Route: gone}, {Kind: OpDelete, Route: route(2, eth0.Attrs().Index)}}
	errs = NewNetlink(h, w).Write(ops)
	if errs[0] != nil || !errors.Is(errs[1], ErrNoDevice) || errs[2] != nil {
		t.Fatalf("replace, failing replace, delete: %v", errs)
	}
	got = ns.MustRun(t, "ip", "route", "show", "proto", "80")
	if !strings.Contains(got, "10.250.0.0/26 via 192.168.0.2") || strings.Contains(got, "10.250.0.128/26") {
		t.Errorf("routes after the second batch:\n%s", got)
	}
}
