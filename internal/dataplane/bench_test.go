package dataplane

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane/linklayer"
	"github.com/tortienet/tortie/internal/dataplane/nft"
	"github.com/tortienet/tortie/internal/dataplane/routes"
	"github.com/tortienet/tortie/internal/dataplane/sysctl"
)

// BenchmarkPodChurn measures the dataplane's own work (on the fakes) for a
// pod coming and going on a node with 1,000: two incremental Applies, one
// with the new pod, one without it.
func BenchmarkPodChurn(b *testing.B) {
	f := &fakes{routes: routes.NewFake(), linklayer: linklayer.NewFake(), nft: knftables.NewFake(nft.Family, nft.Table),
		sysctl: sysctl.NewFake(map[string]string{"net/ipv4/ip_forward": "1"})}
	f.linklayer.AddDevice(&linklayer.Device{Name: "eth0", Index: 2, Kind: "veth", Up: true})
	f.routes.Interfaces["eth0"] = routes.Link{Index: 2, Up: true}
	base := calc.Desired{NAT: calc.NAT{MasqPools: []netip.Prefix{pfx("10.244.0.0/16")}, AllPools: []netip.Prefix{pfx("10.244.0.0/16")}}}
	pod := func(want calc.Desired, i int) (calc.Desired, string) {
		name := fmt.Sprintf("cali%011d", i)
		f.linklayer.AddDevice(&linklayer.Device{Name: name, Index: 1000 + i, Kind: "veth", Up: true})
		f.routes.Interfaces[name] = routes.Link{Index: 1000 + i, Up: true}
		f.sysctl.AddWiredInterface(name)
		ip := netip.AddrFrom4([4]byte{10, 244, byte(i >> 8), byte(i)})
		want.Routes = append(slices.Clip(want.Routes), calc.Route{Dst: netip.PrefixFrom(ip, 32), Dev: name, Workload: true})
		want.Neighbors = append(slices.Clip(want.Neighbors), calc.Neighbor{Dev: name, IP: ip, MAC: mac(fmt.Sprintf("aa:00:00:00:%02x:%02x", i>>8, i&0xff))})
		return want, name
	}
	for i := range 1000 {
		base, _ = pod(base, i)
	}
	d, err := New(Config{Links: f.linklayer, Routes: f.routes, LinkLayer: f.linklayer, NFT: f.nft, Sysctl: f.sysctl})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.Resync(ctx, base); err != nil {
		b.Fatal(err)
	}
	i := 1000
	for b.Loop() {
		with, name := pod(base, i)
		i++
		if _, err := d.Apply(ctx, with); err != nil {
			b.Fatal(err)
		}
		delete(f.linklayer.Devices, name) // the CNI plugin's DEL
		delete(f.routes.Interfaces, name)
		if _, err := d.Apply(ctx, base); err != nil {
			b.Fatal(err)
		}
	}
}
