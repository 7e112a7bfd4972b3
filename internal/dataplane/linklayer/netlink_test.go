package linklayer

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane/links"
	"github.com/tortienet/tortie/internal/nlsafe"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// newNetns makes a namespace with an underlay interface eth0
// (192.168.0.10/24) and returns it with a reconciler programming it.
func newNetns(t *testing.T) (*nstest.NS, *Netlink, *links.Netlink) {
	t.Helper()
	ns := nstest.New(t, "tdp")
	for _, c := range [][]string{
		{"ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"},
		{"ip", "addr", "add", "192.168.0.10/24", "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
		{"ip", "link", "set", "peer0", "up"},
	} {
		ns.MustRun(t, c[0], c[1:]...)
	}
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
	return ns, NewNetlink(h, w), links.NewNetlink(h)
}

// bridgeCmd is iproute2's bridge tool, named by path: the CNI plugins
// installed for the end-to-end tests put a "bridge" plugin earlier in PATH.
const bridgeCmd = "/sbin/bridge"

func mustContain(t *testing.T, what, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("%s lacks %q:\n%s", what, s, out)
		}
	}
}

func TestNetlinkVXLAN(t *testing.T) {
	ns, k, lk := newNetns(t)
	r := newRig(k, lk)
	spec := vxlanSpec()
	if res, err := r.ApplyDevices(ctx, nil, spec); err != nil || res.Devices != 1 {
		t.Fatalf("create: %+v %v", res, err)
	}
	mustContain(t, "ip -d link", ns.MustRun(t, "ip", "-d", "link", "show", "vxlan.calico"),
		"mtu 1450", "state UNKNOWN", "link/ether 66:00:00:00:00:01", "vxlan id 4096", "local 192.168.0.10", "dev eth0", "dstport 4789", "nolearning")
	mustContain(t, "ip addr", ns.MustRun(t, "ip", "-4", "addr", "show", "dev", "vxlan.calico"), "inet 10.244.1.0/32")

	// Stale static entries someone left, and a foreign one on eth0.
	ns.MustRun(t, "ip", "neigh", "add", "10.244.9.0", "lladdr", "66:00:00:00:00:09", "dev", "vxlan.calico", "nud", "permanent")
	ns.MustRun(t, bridgeCmd, "fdb", "add", "66:00:00:00:00:09", "dev", "vxlan.calico", "dst", "192.168.0.9", "self", "permanent")
	ns.MustRun(t, "ip", "neigh", "add", "192.168.0.1", "lladdr", "02:00:00:00:00:01", "dev", "eth0", "nud", "permanent")
	neigh := []calc.Neighbor{{Dev: "vxlan.calico", IP: addr("10.244.2.0"), MAC: mac("66:00:00:00:00:02")}}
	fdb := []calc.FDBEntry{{Dev: "vxlan.calico", MAC: mac("66:00:00:00:00:02"), Dst: addr("192.168.0.2")}}
	res, err := r.ApplyNeighbors(ctx, neigh, fdb)
	if err != nil || res.Neighbors != 1 || res.FDB != 1 || res.Changes != 4 {
		t.Fatalf("neighbours: %+v %v\n%s\n%s", res, err, ns.MustRun(t, "ip", "neigh", "show"), ns.MustRun(t, bridgeCmd, "fdb", "show", "dev", "vxlan.calico"))
	}
	neighOut := ns.MustRun(t, "ip", "neigh", "show")
	mustContain(t, "ip neigh", neighOut, "10.244.2.0 dev vxlan.calico lladdr 66:00:00:00:00:02 PERMANENT", "192.168.0.1 dev eth0 lladdr 02:00:00:00:00:01 PERMANENT")
	fdbOut := ns.MustRun(t, bridgeCmd, "fdb", "show", "dev", "vxlan.calico")
	mustContain(t, "bridge fdb", fdbOut, "66:00:00:00:00:02 dst 192.168.0.2 self permanent")
	if strings.Contains(neighOut, "10.244.9.0") || strings.Contains(fdbOut, "66:00:00:00:00:09") {
		t.Errorf("stale entries remain:\n%s\n%s", neighOut, fdbOut)
	}

	// A restart finds everything right.
	r2 := newRig(k, lk)
	if res, err := r2.ApplyDevices(ctx, nil, spec); err != nil || res.Changes != 0 {
		t.Fatalf("restart devices: %+v %v", res, err)
	}
	if res, err := r2.ApplyNeighbors(ctx, neigh, fdb); err != nil || res.Changes != 0 {
		t.Fatalf("restart neighbours: %+v %v", res, err)
	}

	// MTU and MAC change in place; a new VNI recreates the device, and the
	// entries the kernel dropped with it come back.
	before, _ := k.Device("vxlan.calico")
	spec.MTU, spec.MAC = 1400, mac("66:00:00:00:00:0a")
	if _, err := r.ApplyDevices(ctx, nil, spec); err != nil {
		t.Fatal(err)
	}
	after, _ := k.Device("vxlan.calico")
	if after.Index != before.Index || after.MTU != 1400 || after.MAC.String() != "66:00:00:00:00:0a" {
		t.Fatalf("in-place change: before %+v after %+v", before, after)
	}
	spec.VNI = 4097
	if _, err := r.ApplyDevices(ctx, nil, spec); err != nil {
		t.Fatal(err)
	}
	if res, err := r.ApplyNeighbors(ctx, neigh, fdb); err != nil || res.Changes != 2 {
		t.Fatalf("entries after recreate: %+v %v", res, err)
	}
	mustContain(t, "ip -d link", ns.MustRun(t, "ip", "-d", "link", "show", "vxlan.calico"), "vxlan id 4097", "mtu 1400")
	mustContain(t, "bridge fdb", ns.MustRun(t, bridgeCmd, "fdb", "show", "dev", "vxlan.calico"), "66:00:00:00:00:02 dst 192.168.0.2 self permanent")

	// Not wanted: gone, and eth0 untouched.
	if _, err := r.ApplyDevices(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if d, _ := k.Device("vxlan.calico"); d != nil {
		t.Fatal("vxlan.calico still exists")
	}
	mustContain(t, "ip neigh", ns.MustRun(t, "ip", "neigh", "show", "dev", "eth0"), "192.168.0.1 lladdr 02:00:00:00:00:01 PERMANENT")
}

func TestNetlinkIPIPDetection(t *testing.T) {
	ns, k, lk := newNetns(t)
	r := newRig(k, lk)
	err := r.DetectIPIP(ctx)
	switch {
	case errors.Is(err, ErrIPIPUnsupported):
		t.Logf("this kernel has no IP-in-IP: %v", err)
		_, aerr := r.ApplyDevices(ctx, &calc.IPIPDeviceSpec{Addr: addr("10.244.1.0"), MTU: 1480}, nil)
		if !errors.Is(aerr, ErrIPIPUnsupported) {
			t.Fatalf("apply with IPIP wanted: %v", aerr)
		}
	case err == nil:
		if _, err := r.ApplyDevices(ctx, &calc.IPIPDeviceSpec{Addr: addr("10.244.1.0"), MTU: 1480}, nil); err != nil {
			t.Fatal(err)
		}
		mustContain(t, "ip addr", ns.MustRun(t, "ip", "-4", "addr", "show", "dev", "tunl0"), "mtu 1480", "UP", "inet 10.244.1.0/32")
	default:
		t.Fatal(err)
	}
}

// TestNetlinkWriteEntriesBatch writes more entries than one request
// carries, a failing one among them (an interface that does not exist),
// through the real kernel: the failure is reported on its own entry and
// every other write is done.
func TestNetlinkWriteEntriesBatch(t *testing.T) {
	ns, k, lk := newNetns(t)
	ns.MustRun(t, "ip", "link", "add", "vxlan.calico", "type", "vxlan", "id", "4096", "dstport", "4789", "local", "192.168.0.10", "dev", "eth0", "nolearning")
	l, ok, err := lk.LinkByName("vxlan.calico")
	if err != nil || !ok {
		t.Fatalf("vxlan.calico: %v %v", ok, err)
	}
	var ops []EntryOp
	for i := range 100 {
		m := net.HardwareAddr{0x66, 0, 0, 1, 0, byte(i)}
		ops = append(ops, EntryOp{Kind: SetNeighbor, Index: l.Index, IP: netip.AddrFrom4([4]byte{10, 250, byte(i), 0}), MAC: m},
			EntryOp{Kind: SetFDB, Index: l.Index, IP: netip.AddrFrom4([4]byte{192, 168, 1, byte(i)}), MAC: m})
	}
	ops[81].Index = 999                                                                   // an FDB entry on no interface
	ops = append(ops, EntryOp{Kind: DelNeighbor, Index: l.Index, IP: addr("10.251.0.1")}) // never written: not an error
	errs := k.WriteEntries(ops)
	for i, err := range errs {
		if (i == 81) != (err != nil) || (i == 81 && !errors.Is(err, ErrNoDevice)) {
			t.Errorf("write %d (%+v): %v", i, ops[i], err)
		}
	}
	if n := strings.Count(ns.MustRun(t, "ip", "neigh", "show", "dev", "vxlan.calico", "nud", "permanent"), "\n"); n != 100 {
		t.Errorf("%d neighbour entries; want 100", n)
	}
	fdb := ns.MustRun(t, bridgeCmd, "fdb", "show", "dev", "vxlan.calico")
	if n := strings.Count(fdb, "self permanent"); n != 99 || strings.Contains(fdb, "dst 192.168.1.40 ") {
		t.Errorf("%d fdb entries, want 99 (not 66:00:00:01:00:28):\n%s", n, fdb)
	}
}
