package autodetect_test

import (
	"net/netip"

	"github.com/tortienet/tortie/internal/autodetect"
)

// The multi-homed story of scenarios.md §3: subnet S1 is 10.0.1.0/24 and
// fd00:1::/64 (gateway 10.0.1.1), S2 is 10.0.2.0/24 and fd00:2::/64
// (gateway 10.0.2.1). Node A has ens32 on S1 and ens33 on S2; node B has
// eth0 on S2 and eth1 on S1. Both also carry the usual noise: loopback,
// docker0, a workload interface and tunl0.

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func link(name string, addrs ...string) autodetect.Interface {
	l := autodetect.Interface{Name: name, Up: true}
	for _, a := range addrs {
		l.Addrs = append(l.Addrs, pfx(a))
	}
	return l
}

func nodeA() *autodetect.FakeHost {
	return &autodetect.FakeHost{
		Links: []autodetect.Interface{
			link("lo", "127.0.0.1/8", "::1/128"),
			link("ens32", "fe80::32/64", "10.0.1.5/24", "fd00:1::5/64"),
			link("ens33", "fe80::33/64", "10.0.2.5/24", "fd00:2::5/64"),
			link("docker0", "172.17.0.1/16"),
			link("cali0123456789a", "fe80::ecee:eeff:feee:eeee/64"),
			link("tunl0", "192.168.77.0/32"),
		},
		Routes: []autodetect.FakeRoute{
			{Dst: pfx("0.0.0.0/0"), Gateway: addr("10.0.1.1"), Interface: "ens32"},
			{Dst: pfx("::/0"), Gateway: addr("fd00:1::1"), Interface: "ens32"},
			{Dst: pfx("192.0.2.0/24"), Gateway: addr("10.0.2.1"), Interface: "ens33"},
		},
		Names: map[string][]netip.Addr{
			"gw-s2.example": {addr("fd00:2::1"), addr("10.0.2.1")},
		},
	}
}

func nodeB() *autodetect.FakeHost {
	return &autodetect.FakeHost{
		Links: []autodetect.Interface{
			link("lo", "127.0.0.1/8", "::1/128"),
			link("eth0", "fe80::e0/64", "10.0.2.6/24", "fd00:2::6/64"),
			link("eth1", "fe80::e1/64", "10.0.1.6/24", "fd00:1::6/64"),
			link("docker0", "172.17.0.1/16"),
		},
		Routes: []autodetect.FakeRoute{
			{Dst: pfx("0.0.0.0/0"), Gateway: addr("10.0.2.1"), Interface: "eth0"},
		},
		Names: map[string][]netip.Addr{
			"gw-s2.example": {addr("10.0.2.1")},
		},
	}
}
