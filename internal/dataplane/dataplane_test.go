package dataplane

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/dataplane/linklayer"
	"github.com/tortienet/tortie/internal/dataplane/nft"
	"github.com/tortienet/tortie/internal/dataplane/routes"
	"github.com/tortienet/tortie/internal/dataplane/sysctl"
)

var (
	ctx  = context.Background()
	addr = netip.MustParseAddr
	pfx  = netip.MustParsePrefix
)

func mac(s string) net.HardwareAddr {
	m, _ := net.ParseMAC(s)
	return m
}

// desired is a small node: VXLAN to one peer, a local block with one
// workload, natOutgoing for the pool.
func desired() calc.Desired {
	return calc.Desired{
		VXLAN: &calc.VXLANDeviceSpec{VNI: 4096, Port: 4789, MAC: mac("66:00:00:00:00:01"), Addr: addr("10.244.1.0"),
			LocalIP: addr("192.168.0.10"), Parent: "eth0", MTU: 1450},
		Routes: []calc.Route{
			{Dst: pfx("10.244.1.0/26"), Type: calc.Blackhole},
			{Dst: pfx("10.244.2.0/26"), Dev: conventions.VXLANDevice, Gw: addr("10.244.2.0"), OnLink: true},
			{Dst: pfx("10.244.1.5/32"), Dev: "cali0000000001", Workload: true},
		},
		Neighbors: []calc.Neighbor{
			{Dev: conventions.VXLANDevice, IP: addr("10.244.2.0"), MAC: mac("66:00:00:00:00:02")},
			{Dev: "cali0000000001", IP: addr("10.244.1.5"), MAC: mac("aa:00:00:00:00:05")},
		},
		FDB: []calc.FDBEntry{{Dev: conventions.VXLANDevice, MAC: mac("66:00:00:00:00:02"), Dst: addr("192.168.0.2")}},
		NAT: calc.NAT{MasqPools: []netip.Prefix{pfx("10.244.0.0/16")}, AllPools: []netip.Prefix{pfx("10.244.0.0/16")}},
	}
}

type fakes struct {
	routes    *routes.Fake
	linklayer *linklayer.Fake
	nft       *knftables.Fake
	sysctl    *sysctl.Fake
}

func newFaked(t *testing.T) (*Dataplane, *fakes) {
	t.Helper()
	f := &fakes{routes: routes.NewFake(), linklayer: linklayer.NewFake(), nft: knftables.NewFake(nft.Family, nft.Table),
		sysctl: sysctl.NewFake(map[string]string{"net/ipv4/ip_forward": "0"})}
	f.linklayer.AddDevice(&linklayer.Device{Name: "eth0", Index: 2, Kind: "veth", Up: true})
	f.linklayer.AddDevice(&linklayer.Device{Name: "cali0000000001", Index: 10, Kind: "veth", Up: true})
	// The route fake does not see the tunnel fake's devices: give it the
	// same interfaces, vxlan.calico included (the tunnel fake gives the
	// first device it creates index 101).
	f.routes.Interfaces = map[string]routes.Link{"eth0": {Index: 2, Up: true}, "cali0000000001": {Index: 10, Up: true}, conventions.VXLANDevice: {Index: 101, Up: true}}
	f.sysctl.AddWiredInterface("cali0000000001")
	// The tunnel fake's devices are the interfaces the links table sees.
	d, err := New(Config{Links: f.linklayer, Routes: f.routes, LinkLayer: f.linklayer, NFT: f.nft, Sysctl: f.sysctl})
	if err != nil {
		t.Fatal(err)
	}
	return d, f
}

func TestApplyThenNothing(t *testing.T) {
	d, f := newFaked(t)
	st, err := d.Apply(ctx, desired())
	if err != nil {
		t.Fatal(err)
	}
	if st.Routes != 3 || st.Devices != 1 || st.Neighbors != 2 || st.FDB != 1 || st.NATPools != 1 || st.Errors != 0 || st.Changes == 0 {
		t.Fatalf("stats %+v", st)
	}
	f.routes.Writes, f.linklayer.Writes, f.sysctl.Writes = nil, nil, nil
	for _, step := range []string{"apply", "resync"} {
		var st Stats
		var err error
		if step == "apply" {
			st, err = d.Apply(ctx, desired())
		} else {
			st, err = d.Resync(ctx, desired())
		}
		if err != nil || st.Changes != 0 || len(f.routes.Writes)+len(f.linklayer.Writes)+len(f.sysctl.Writes) != 0 {
			t.Fatalf("%s: %+v %v, writes %v %v %v", step, st, err, f.routes.Writes, f.linklayer.Writes, f.sysctl.Writes)
		}
	}
}

func TestPartsFailIndependently(t *testing.T) {
	d, f := newFaked(t)
	want := desired()
	want.IPIP = &calc.IPIPDeviceSpec{MTU: 1480} // no tunl0, no ipip module
	st, err := d.Apply(ctx, want)
	if !errors.Is(err, linklayer.ErrIPIPUnsupported) || st.Errors != 1 {
		t.Fatalf("err %v, stats %+v", err, st)
	}
	if st.Routes != 3 || f.nft.Table == nil {
		t.Fatalf("later parts did not run: %+v", st)
	}
	if err := d.DetectIPIP(ctx); !errors.Is(err, linklayer.ErrIPIPUnsupported) {
		t.Fatalf("DetectIPIP = %v", err)
	}
}

// newPod adds a pod's interface to the fakes (sysctls as the kernel makes
// them) and returns want with its route and neighbour entry.
func newPod(f *fakes, want calc.Desired) calc.Desired {
	f.linklayer.AddDevice(&linklayer.Device{Name: "cali0000000002", Index: 11, Kind: "veth", Up: true})
	f.routes.Interfaces["cali0000000002"] = routes.Link{Index: 11, Up: true}
	f.sysctl.AddInterface("cali0000000002")
	want.Routes = append(slices.Clone(want.Routes), calc.Route{Dst: pfx("10.244.1.6/32"), Dev: "cali0000000002", Workload: true})
	want.Neighbors = append(slices.Clone(want.Neighbors), calc.Neighbor{Dev: "cali0000000002", IP: addr("10.244.1.6"), MAC: mac("aa:00:00:00:00:06")})
	return want
}

func (f *fakes) reset() {
	f.routes.Reads, f.routes.Writes = nil, nil
	f.linklayer.Reads, f.linklayer.Writes = nil, nil
	f.sysctl.Reads, f.sysctl.Writes = 0, nil
}

func TestIncrementalApply(t *testing.T) {
	d, f := newFaked(t)
	if _, err := d.Apply(ctx, desired()); err != nil {
		t.Fatal(err)
	}
	// The first Apply read everything, the interfaces with one dump.
	if n := strings.Count(strings.Join(f.linklayer.Reads, ","), "links"); n != 1 || !slices.Contains(f.linklayer.Reads, "neighbors") || !slices.Equal(f.routes.Reads, []string{"routes+v6"}) {
		t.Fatalf("first apply read %v and %v; want one dump of each table", f.linklayer.Reads, f.routes.Reads)
	}
	// The next checks the sysctls of the interface there at the start.
	f.reset()
	if _, err := d.Apply(ctx, desired()); err != nil || f.sysctl.Reads != 5 || len(f.linklayer.Reads)+len(f.routes.Reads) != 0 {
		t.Fatalf("second apply: %v, %d sysctl reads, %v %v", err, f.sysctl.Reads, f.linklayer.Reads, f.routes.Reads)
	}
	f.reset()
	want := newPod(f, desired())
	st, err := d.Apply(ctx, want)
	if err != nil || st.Routes != 4 || st.Neighbors != 3 {
		t.Fatalf("new pod: %+v %v", st, err)
	}
	// Exactly: one lookup, one neighbour, one route, the new interface's
	// five sysctls. No dump.
	for what, got := range map[string][]string{
		"tunnel reads":  f.linklayer.Reads,
		"tunnel writes": f.linklayer.Writes,
		"route reads":   f.routes.Reads,
		"route writes":  f.routes.Writes,
	} {
		want := map[string][]string{
			"tunnel reads":  {"link cali0000000002"},
			"tunnel writes": {"neigh set 11 10.244.1.6 aa:00:00:00:00:06"},
			"route reads":   nil,
			"route writes":  {"add 10.244.1.6/32 ifindex 11 scope link proto 80"},
		}[what]
		if !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	if f.sysctl.Reads != 5 || len(f.sysctl.Writes) != 5 || st.Changes != 1+1+5 {
		t.Errorf("sysctl: %d reads, writes %v; stats %+v", f.sysctl.Reads, f.sysctl.Writes, st)
	}

	// The same again: not one kernel call.
	f.reset()
	if st, err := d.Apply(ctx, want); err != nil || st.Changes != 0 || st.Routes != 4 {
		t.Fatalf("repeat: %+v %v", st, err)
	}
	if n := len(f.linklayer.Reads) + len(f.linklayer.Writes) + len(f.routes.Reads) + len(f.routes.Writes) + f.sysctl.Reads + len(f.sysctl.Writes); n != 0 {
		t.Fatalf("repeat made %d kernel calls: %v %v %v %v", n, f.linklayer.Reads, f.linklayer.Writes, f.routes.Reads, f.routes.Writes)
	}

	// The pod goes: its route and entry are deleted, nothing is read.
	f.reset()
	if st, err := d.Apply(ctx, desired()); err != nil || st.Changes != 1 {
		t.Fatalf("pod gone: %+v %v", st, err)
	}
	if len(f.linklayer.Reads)+len(f.routes.Reads)+f.sysctl.Reads != 0 || !slices.Equal(f.routes.Writes, []string{"delete 10.244.1.6/32 ifindex 11 scope link proto 80"}) {
		t.Fatalf("pod gone: reads %v %v, route writes %v", f.linklayer.Reads, f.routes.Reads, f.routes.Writes)
	}
}

func TestFailedWriteReadsNextTime(t *testing.T) {
	d, f := newFaked(t)
	if _, err := d.Apply(ctx, desired()); err != nil {
		t.Fatal(err)
	}
	want := newPod(f, desired())
	f.routes.Fail = func(string, routes.Route) error { return errors.New("boom") }
	if st, err := d.Apply(ctx, want); err == nil || st.Errors != 1 {
		t.Fatalf("failing write: %+v %v", st, err)
	}
	f.routes.Fail = nil
	f.reset()
	st, err := d.Apply(ctx, want)
	if err != nil || st.Routes != 4 {
		t.Fatalf("after the failure: %+v %v", st, err)
	}
	// The routes were read back, with one dump of the interfaces; the
	// neighbours, which did not fail, were not.
	if !slices.Equal(f.routes.Reads, []string{"routes"}) || !slices.Equal(f.linklayer.Reads, []string{"links"}) {
		t.Fatalf("reads %v %v; want the routes and the interfaces read back", f.routes.Reads, f.linklayer.Reads)
	}
	if !slices.Equal(f.routes.Writes, []string{"add 10.244.1.6/32 ifindex 11 scope link proto 80"}) {
		t.Fatalf("route writes %v", f.routes.Writes)
	}
}

func TestResyncReadsAllOnce(t *testing.T) {
	d, f := newFaked(t)
	for range 2 { // the second checks the sysctls the first deferred
		if _, err := d.Apply(ctx, desired()); err != nil {
			t.Fatal(err)
		}
	}
	// Drift behind the dataplane's back: an Apply does not see it, a
	// Resync reads everything (one dump of the interfaces) and repairs it.
	f.routes.Table = f.routes.Table[1:]
	f.sysctl.Values["net/ipv4/conf/cali0000000001/proxy_arp"] = "0"
	f.reset()
	if st, err := d.Apply(ctx, desired()); err != nil || st.Changes != 0 {
		t.Fatalf("apply: %+v %v", st, err)
	}
	st, err := d.Resync(ctx, desired())
	if err != nil || st.Changes != 2 {
		t.Fatalf("resync: %+v %v, writes %v %v", st, err, f.routes.Writes, f.sysctl.Writes)
	}
	if n := strings.Count(strings.Join(f.linklayer.Reads, ","), "links"); n != 1 || !slices.Contains(f.linklayer.Reads, "neighbors") ||
		!slices.Contains(f.linklayer.Reads, "device vxlan.calico") || !slices.Equal(f.routes.Reads, []string{"routes"}) || f.sysctl.Reads != 1+5 {
		t.Fatalf("resync read %v, %v, %d sysctls; want everything, the interfaces once", f.linklayer.Reads, f.routes.Reads, f.sysctl.Reads)
	}
}

func TestSysctlsDeferredAtStart(t *testing.T) {
	d, f := newFaked(t)
	f.sysctl.AddInterface("cali0000000001") // not as the CNI plugin leaves it
	st, err := d.Apply(ctx, desired())
	if err != nil || st.SysctlDeferred != 1 || f.sysctl.Reads != 1 || !slices.Equal(f.sysctl.Writes, []string{"net/ipv4/ip_forward=1"}) {
		t.Fatalf("first apply: %+v %v, %d sysctl reads, writes %v; want only ip_forward", st, err, f.sysctl.Reads, f.sysctl.Writes)
	}
	f.reset()
	st, err = d.Apply(ctx, desired())
	if err != nil || st.SysctlDeferred != 0 || st.Changes != 5 || f.sysctl.Reads != 5 {
		t.Fatalf("second apply: %+v %v, %d sysctl reads", st, err, f.sysctl.Reads)
	}
	if len(f.linklayer.Reads)+len(f.routes.Reads) != 0 {
		t.Fatalf("second apply read %v %v", f.linklayer.Reads, f.routes.Reads)
	}
}
