package dataplane

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane/nat"
	"github.com/tortienet/tortie/internal/dataplane/routes"
	"github.com/tortienet/tortie/internal/dataplane/sysctl"
	"github.com/tortienet/tortie/internal/dataplane/tunnels"
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
			{Dst: pfx("10.244.2.0/26"), Dev: calc.VXLANDevice, Gw: addr("10.244.2.0"), OnLink: true},
			{Dst: pfx("10.244.1.5/32"), Dev: "cali0000000001", Workload: true},
		},
		Neighbors: []calc.Neighbor{
			{Dev: calc.VXLANDevice, IP: addr("10.244.2.0"), MAC: mac("66:00:00:00:00:02")},
			{Dev: "cali0000000001", IP: addr("10.244.1.5"), MAC: mac("aa:00:00:00:00:05")},
		},
		FDB: []calc.FDBEntry{{Dev: calc.VXLANDevice, MAC: mac("66:00:00:00:00:02"), Dst: addr("192.168.0.2")}},
		NAT: calc.NAT{MasqPools: []netip.Prefix{pfx("10.244.0.0/16")}, AllPools: []netip.Prefix{pfx("10.244.0.0/16")}},
	}
}

type fakes struct {
	routes  *routes.Fake
	tunnels *tunnels.Fake
	nft     *knftables.Fake
	sysctl  *sysctl.Fake
}

func newFaked(t *testing.T) (*Dataplane, *fakes) {
	t.Helper()
	f := &fakes{routes: routes.NewFake(), tunnels: tunnels.NewFake(), nft: knftables.NewFake(nat.Family, nat.Table),
		sysctl: sysctl.NewFake(map[string]string{"net/ipv4/ip_forward": "0"})}
	f.tunnels.AddDevice(&tunnels.Device{Name: "eth0", Index: 2, Kind: "veth", Up: true})
	f.tunnels.AddDevice(&tunnels.Device{Name: "cali0000000001", Index: 10, Kind: "veth", Up: true})
	// The route fake does not see the tunnel fake's devices: give it the
	// same interfaces, vxlan.calico included.
	f.routes.Interfaces = map[string]routes.Link{"eth0": {Index: 2, Up: true}, "cali0000000001": {Index: 10, Up: true}, calc.VXLANDevice: {Index: 3, Up: true}}
	f.sysctl.AddInterface("cali0000000001")
	links := func() (map[string]int, error) { return map[string]int{"eth0": 2, "cali0000000001": 10}, nil }
	d, err := New(Config{Routes: f.routes, Tunnels: f.tunnels, NFT: f.nft, Sysctl: f.sysctl, Interfaces: links})
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
	f.routes.Writes, f.tunnels.Writes, f.sysctl.Writes = nil, nil, nil
	for _, step := range []string{"apply", "resync"} {
		var st Stats
		var err error
		if step == "apply" {
			st, err = d.Apply(ctx, desired())
		} else {
			st, err = d.Resync(ctx, desired())
		}
		if err != nil || st.Changes != 0 || len(f.routes.Writes)+len(f.tunnels.Writes)+len(f.sysctl.Writes) != 0 {
			t.Fatalf("%s: %+v %v, writes %v %v %v", step, st, err, f.routes.Writes, f.tunnels.Writes, f.sysctl.Writes)
		}
	}
}

func TestPartsFailIndependently(t *testing.T) {
	d, f := newFaked(t)
	want := desired()
	want.IPIP = &calc.IPIPDeviceSpec{MTU: 1480} // no tunl0, no ipip module
	st, err := d.Apply(ctx, want)
	if !errors.Is(err, tunnels.ErrIPIPUnsupported) || st.Errors != 1 {
		t.Fatalf("err %v, stats %+v", err, st)
	}
	if st.Routes != 3 || f.nft.Table == nil {
		t.Fatalf("later parts did not run: %+v", st)
	}
	if err := d.DetectIPIP(ctx); !errors.Is(err, tunnels.ErrIPIPUnsupported) {
		t.Fatalf("DetectIPIP = %v", err)
	}
}
