package autodetect_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/tortienet/tortie/internal/autodetect"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// storyNode builds one node of scenarios.md §3 in a fresh namespace:
// veth interfaces (the kernel here has no dummy driver) whose peers are
// named veth-* so that the default exclusions leave them out, added in
// the order given so that their indexes follow it, then docker0 last.
func storyNode(t *testing.T, prefix string, links [][3]string, routes [][2]string) *nstest.NS {
	t.Helper()
	ns := nstest.New(t, prefix)
	for _, l := range links {
		if err := ns.AddVeth(l[0], "veth-"+l[0], l[1], l[2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := ns.AddVeth("docker0", "veth-docker0", "172.17.0.1/16"); err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if err := ns.AddRoute(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// TestNetlinkHostStory runs every method against the real kernel inside
// two throwaway namespaces shaped like node A (ens32 on S1, ens33 on S2)
// and node B (eth0 on S2, eth1 on S1).
func TestNetlinkHostStory(t *testing.T) {
	nodeA := storyNode(t, "tad-a",
		[][3]string{{"ens32", "10.0.1.5/24", "fd00:1::5/64"}, {"ens33", "10.0.2.5/24", "fd00:2::5/64"}},
		[][2]string{{"0.0.0.0/0", "10.0.1.1"}, {"192.0.2.0/24", "10.0.2.1"}, {"::/0", "fd00:1::1"}})
	nodeB := storyNode(t, "tad-b",
		[][3]string{{"eth0", "10.0.2.6/24", "fd00:2::6/64"}, {"eth1", "10.0.1.6/24", "fd00:1::6/64"}},
		[][2]string{{"0.0.0.0/0", "10.0.2.1"}})

	v4, v6 := autodetect.IPv4, autodetect.IPv6
	for _, tc := range []struct {
		ns     *nstest.NS
		method string
		family autodetect.Family
		want   string
		iface  string
	}{
		{nodeA, "interface=ens33,eth0", v4, "10.0.2.5/24", "ens33"},
		{nodeB, "interface=ens33,eth0", v4, "10.0.2.6/24", "eth0"},
		{nodeA, "interface=ens32,eth1", v4, "10.0.1.5/24", "ens32"},
		{nodeB, "interface=ens32,eth1", v4, "10.0.1.6/24", "eth1"},
		{nodeA, "skip-interface=eth1,ens32", v4, "10.0.2.5/24", "ens33"},
		{nodeB, "skip-interface=eth1,ens32", v4, "10.0.2.6/24", "eth0"},
		{nodeA, "can-reach=10.0.2.1", v4, "10.0.2.5/24", "ens33"},
		{nodeB, "can-reach=10.0.2.1", v4, "10.0.2.6/24", "eth0"},
		{nodeA, "cidr=10.0.1.0/24", v4, "10.0.1.5/24", "ens32"},
		{nodeB, "cidr=10.0.1.0/24", v4, "10.0.1.6/24", "eth1"},
		// first-found: the highest-index interface not excluded (docker0
		// and the veth-* peers are excluded).
		{nodeA, "first-found", v4, "10.0.2.5/24", "ens33"},
		{nodeB, "first-found", v4, "10.0.1.6/24", "eth1"},
		{nodeA, "first-found", v6, "fd00:2::5/64", "ens33"},
		{nodeA, "can-reach=198.51.100.1", v4, "10.0.1.5/24", "ens32"},
		{nodeA, "can-reach=192.0.2.10", v4, "10.0.2.5/24", "ens33"},
		{nodeA, "can-reach=fd00:2::1", v6, "fd00:2::5/64", "ens33"},
		{nodeA, "can-reach=2001:db8::1", v6, "fd00:1::5/64", "ens32"},
		{nodeB, "cidr=fd00:1::/64", v6, "fd00:1::6/64", "eth1"},
	} {
		t.Run(tc.ns.Name[:5]+" "+tc.method+" "+tc.family.String(), func(t *testing.T) {
			m, err := autodetect.ParseMethod(tc.method)
			if err != nil {
				t.Fatal(err)
			}
			var res autodetect.Result
			err = tc.ns.Do(func() error {
				var err error
				res, err = autodetect.Detector{Host: autodetect.NewNetlinkHost(nil)}.Detect(context.Background(), m, tc.family)
				return err
			})
			if err != nil {
				t.Fatalf("Detect: %v\nsteps: %+v", err, res.Steps)
			}
			if res.Address != netip.MustParsePrefix(tc.want) || res.Interface != tc.iface {
				t.Errorf("Detect = %s on %s, want %s on %s\nsteps: %+v", res.Address, res.Interface, tc.want, tc.iface, res.Steps)
			}
		})
	}

	t.Run("interfaces in kernel order", func(t *testing.T) {
		var ifs []autodetect.Interface
		err := nodeA.Do(func() error {
			var err error
			ifs, err = autodetect.NewNetlinkHost(nil).Interfaces()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		pos := map[string]int{}
		for i, ifc := range ifs {
			pos[ifc.Name] = i
			if ifc.Name == "ens33" && (!ifc.Up || !containsPrefix(ifc.Addrs, "10.0.2.5/24") || !containsPrefix(ifc.Addrs, "fd00:2::5/64")) {
				t.Errorf("ens33 = %+v, want up with 10.0.2.5/24 and fd00:2::5/64", ifc)
			}
		}
		if !(pos["lo"] < pos["ens32"] && pos["ens32"] < pos["ens33"] && pos["ens33"] < pos["docker0"]) {
			t.Errorf("interfaces not in index order: %+v", ifs)
		}
	})

	t.Run("explicit IP takes the interface prefix", func(t *testing.T) {
		var res autodetect.Result
		err := nodeB.Do(func() error {
			var err error
			res, err = autodetect.Detector{Host: autodetect.NewNetlinkHost(nil)}.Resolve(context.Background(),
				autodetect.Config{Family: autodetect.IPv4, IP: "10.0.2.6"})
			return err
		})
		if err != nil || res.Address != netip.MustParsePrefix("10.0.2.6/24") || res.Interface != "eth0" {
			t.Errorf("Resolve(IP=10.0.2.6) = %s on %s, %v; want 10.0.2.6/24 on eth0", res.Address, res.Interface, err)
		}
	})

	t.Run("unreachable can-reach", func(t *testing.T) {
		m, _ := autodetect.ParseMethod("can-reach=2001:db8::1") // node B has no IPv6 default route
		err := nodeB.Do(func() error {
			_, err := autodetect.Detector{Host: autodetect.NewNetlinkHost(nil)}.Detect(context.Background(), m, autodetect.IPv6)
			return err
		})
		if !errors.Is(err, autodetect.ErrNoAddress) {
			t.Errorf("can-reach of an unroutable target = %v, want ErrNoAddress", err)
		}
	})
}

func containsPrefix(ps []netip.Prefix, s string) bool {
	want := netip.MustParsePrefix(s)
	for _, p := range ps {
		if p == want {
			return true
		}
	}
	return false
}
