package linklayer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane/links"
)

var (
	addr = netip.MustParseAddr
	pfx  = netip.MustParsePrefix
	ctx  = context.Background()
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// rig is a reconciler with the links table the dataplane would own: each
// apply begins a round, as each dataplane Apply does.
type rig struct {
	*Reconciler
	links *links.Table
}

func newRig(k Kernel, lk links.Kernel) *rig {
	t := links.NewTable(lk)
	return &rig{Reconciler: New(Config{Kernel: k, Links: t}), links: t}
}

func (r *rig) ApplyDevices(ctx context.Context, ipip *calc.IPIPDeviceSpec, vxlan *calc.VXLANDeviceSpec) (DeviceResult, error) {
	r.links.Begin()
	return r.Reconciler.ApplyDevices(ctx, ipip, vxlan)
}

func (r *rig) ApplyNeighbors(ctx context.Context, neigh []calc.Neighbor, fdb []calc.FDBEntry) (NeighborResult, error) {
	r.links.Begin()
	return r.Reconciler.ApplyNeighbors(ctx, neigh, fdb)
}

func newTest() (*Fake, *rig) {
	f := NewFake()
	f.AddDevice(&Device{Name: "eth0", Kind: "veth", Index: 2, Up: true, MTU: 1500})
	return f, newRig(f, f)
}

func vxlanSpec() *calc.VXLANDeviceSpec {
	return &calc.VXLANDeviceSpec{VNI: 4096, Port: 4789, MAC: mac("66:00:00:00:00:01"), Addr: addr("10.244.1.0"),
		LocalIP: addr("192.168.0.10"), Parent: "eth0", MTU: 1450}
}

func TestDetectIPIPUnsupported(t *testing.T) {
	f, r := newTest()
	err := r.DetectIPIP(ctx)
	if !errors.Is(err, ErrIPIPUnsupported) || !strings.Contains(err.Error(), "modprobe ipip") {
		t.Fatalf("err = %v; want ErrIPIPUnsupported naming modprobe", err)
	}
	f.Writes = nil
	if err2 := r.DetectIPIP(ctx); !errors.Is(err2, ErrIPIPUnsupported) || len(f.Writes) != 0 {
		t.Fatalf("second detection: %v, writes %v; want the remembered answer", err2, f.Writes)
	}
	_, err = r.ApplyDevices(ctx, &calc.IPIPDeviceSpec{MTU: 1480}, vxlanSpec())
	if !errors.Is(err, ErrIPIPUnsupported) {
		t.Fatalf("apply with IPIP wanted: %v", err)
	}
	if f.Devices["vxlan.calico"] == nil {
		t.Fatal("VXLAN was not set up past the IPIP error")
	}
}

func TestDetectIPIPLoadsModule(t *testing.T) {
	f, r := newTest()
	f.Modules = map[string]*Device{"ipip": {Name: "tunl0", Kind: "ipip", MTU: 1480}}
	if err := r.DetectIPIP(ctx); err != nil {
		t.Fatal(err)
	}
	f2, r2 := newTest()
	f2.AddDevice(&Device{Name: "tunl0", Kind: "ipip"})
	if err := r2.DetectIPIP(ctx); err != nil || len(f2.Writes) != 0 {
		t.Fatalf("tunl0 present: %v, writes %v", err, f2.Writes)
	}
}

func TestIPIPDevice(t *testing.T) {
	f, r := newTest()
	tunl := f.AddDevice(&Device{Name: "tunl0", Kind: "ipip", MTU: 1480, Addrs: []netip.Prefix{pfx("10.244.9.9/32")}})
	spec := &calc.IPIPDeviceSpec{Addr: addr("10.244.1.0"), MTU: 1440}
	res, err := r.ApplyDevices(ctx, spec, nil)
	if err != nil || res.Devices != 1 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	if tunl.MTU != 1440 || !tunl.Up || !slices.Equal(tunl.Addrs, []netip.Prefix{pfx("10.244.1.0/32")}) {
		t.Fatalf("tunl0 = %+v", tunl)
	}
	f.Writes = nil
	if _, err := r.ApplyDevices(ctx, spec, nil); err != nil || len(f.Writes) != 0 {
		t.Fatalf("second apply: writes %v, err %v", f.Writes, err)
	}
	// Not wanted any more: the address goes, the device stays.
	if _, err := r.ApplyDevices(ctx, nil, nil); err != nil || len(tunl.Addrs) != 0 || f.Devices["tunl0"] == nil {
		t.Fatalf("unwanted: %v, tunl0 %+v", err, tunl)
	}
}

func TestVXLANLifecycle(t *testing.T) {
	f, r := newTest()
	spec := vxlanSpec()
	res, err := r.ApplyDevices(ctx, nil, spec)
	if err != nil || res.Devices != 1 {
		t.Fatalf("create: %+v %v", res, err)
	}
	d := f.Devices["vxlan.calico"]
	want := VXLANAttrs{VNI: 4096, Port: 4789, LocalIP: addr("192.168.0.10"), ParentIndex: 2}
	if *d.VXLAN != want || d.MTU != 1450 || !d.Up || d.MAC.String() != "66:00:00:00:00:01" ||
		!slices.Equal(d.Addrs, []netip.Prefix{pfx("10.244.1.0/32")}) {
		t.Fatalf("vxlan.calico = %+v %+v", d, d.VXLAN)
	}

	f.Writes = nil
	if _, err := newRig(f, f).ApplyDevices(ctx, nil, spec); err != nil || len(f.Writes) != 0 {
		t.Fatalf("restart: writes %v, err %v", f.Writes, err)
	}

	// Mutable attributes change in place.
	spec.MTU, spec.MAC, spec.Addr = 1400, mac("66:00:00:00:00:02"), addr("10.244.1.1")
	index := d.Index
	if _, err := r.ApplyDevices(ctx, nil, spec); err != nil {
		t.Fatal(err)
	}
	d = f.Devices["vxlan.calico"]
	if d.Index != index || d.MTU != 1400 || d.MAC.String() != "66:00:00:00:00:02" || !slices.Equal(d.Addrs, []netip.Prefix{pfx("10.244.1.1/32")}) {
		t.Fatalf("in-place update: %+v", d)
	}

	// An immutable one recreates it.
	spec.VNI = 4097
	if _, err := r.ApplyDevices(ctx, nil, spec); err != nil {
		t.Fatal(err)
	}
	d = f.Devices["vxlan.calico"]
	if d.Index == index || d.VXLAN.VNI != 4097 || !d.Up || d.MTU != 1400 {
		t.Fatalf("recreate: %+v %+v", d, d.VXLAN)
	}

	// Not wanted: deleted.
	if _, err := r.ApplyDevices(ctx, nil, nil); err != nil || f.Devices["vxlan.calico"] != nil {
		t.Fatalf("delete: %v", err)
	}
}

func TestVXLANNameTakenByOtherKind(t *testing.T) {
	f, r := newTest()
	f.AddDevice(&Device{Name: "vxlan.calico", Kind: "veth"})
	for _, spec := range []*calc.VXLANDeviceSpec{vxlanSpec(), nil} {
		if _, err := r.ApplyDevices(ctx, nil, spec); err == nil || !strings.Contains(err.Error(), "left alone") {
			t.Fatalf("err = %v", err)
		}
		if f.Devices["vxlan.calico"].Kind != "veth" {
			t.Fatal("someone else's interface was replaced")
		}
	}
}

func TestVXLANMissingParent(t *testing.T) {
	_, r := newTest()
	spec := vxlanSpec()
	spec.Parent = "bond0"
	if _, err := r.ApplyDevices(ctx, nil, spec); err == nil || !strings.Contains(err.Error(), "bond0") {
		t.Fatalf("err = %v", err)
	}
}
