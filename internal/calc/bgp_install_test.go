package calc

import (
	"net/netip"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

func TestInstallLearned(t *testing.T) {
	learned := []LearnedRoute{
		{netip.MustParsePrefix("10.244.0.64/26"), netip.MustParseAddr("172.31.1.2")},  // b's block, same subnet
		{netip.MustParsePrefix("10.244.0.128/26"), netip.MustParseAddr("172.31.2.3")}, // c's block, other subnet
		{netip.MustParsePrefix("10.244.0.0/26"), netip.MustParseAddr("172.31.1.2")},   // a's own block, echoed
		{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParseAddr("172.31.1.254")},     // a router's default
		{netip.MustParsePrefix("10.96.0.0/12"), netip.MustParseAddr("172.31.1.2")},    // the cluster's own service range
		{netip.MustParsePrefix("192.168.7.0/24"), netip.MustParseAddr("172.31.1.1")},  // next hop is this node
	}
	svc := bgpCfg("default", func(s *v3.BGPConfigurationSpec) {
		s.ServiceClusterIPs = []v3.ServiceClusterIPBlock{{CIDR: "10.96.0.0/12"}}
	})
	withMode := func(m string) *v3.BGPConfiguration {
		return bgpCfg("default", func(s *v3.BGPConfigurationSpec) {
			s.ServiceClusterIPs = []v3.ServiceClusterIPBlock{{CIDR: "10.96.0.0/12"}}
			s.ProgramClusterRoutes = m
		})
	}
	for _, tc := range []struct {
		name string
		pool *v3.IPPool
		cfg  *v3.BGPConfiguration
		want []string
	}{
		{"no encapsulation: BGP owns; the other subnet's next hop cannot be used", testPool(v3.EncapNever, v3.EncapNever, false), svc, []string{
			"default via 172.31.1.254 dev eth0",
			"blackhole 10.244.0.0/26",
			"10.244.0.64/26 via 172.31.1.2 dev eth0",
		}},
		{"IP-in-IP Always: the datastore owns (default EnabledNoEncapOnly)", testPool(v3.EncapAlways, v3.EncapNever, false), svc, []string{
			"default via 172.31.1.254 dev eth0",
			"blackhole 10.244.0.0/26",
			"10.244.0.64/26 via 172.31.1.2 dev tunl0 onlink",
			"10.244.0.128/26 via 172.31.2.3 dev tunl0 onlink",
		}},
		{"IP-in-IP CrossSubnet owned by BGP (Enabled): direct in the subnet, tunnel beyond", testPool(v3.EncapCrossSubnet, v3.EncapNever, false), withMode("Enabled"), []string{
			"default via 172.31.1.254 dev eth0",
			"blackhole 10.244.0.0/26",
			"10.244.0.64/26 via 172.31.1.2 dev eth0",
			"10.244.0.128/26 via 172.31.2.3 dev tunl0 onlink",
		}},
		{"VXLAN: always the datastore's", testPool(v3.EncapNever, v3.EncapAlways, false), withMode("Enabled"), []string{
			"default via 172.31.1.254 dev eth0",
			"blackhole 10.244.0.0/26",
			"10.244.0.64/26 via 10.244.0.64 dev vxlan.calico onlink",
			"10.244.0.128/26 via 10.244.0.128 dev vxlan.calico onlink",
		}},
		{"programClusterRoutes Disabled: the datastore programs unencapsulated pools", testPool(v3.EncapNever, v3.EncapNever, false), withMode("Disabled"), []string{
			"default via 172.31.1.254 dev eth0",
			"blackhole 10.244.0.0/26",
			"10.244.0.64/26 via 172.31.1.2 dev eth0",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input("a", tc.pool)
			bin := BGPInput{Configs: []*v3.BGPConfiguration{tc.cfg}}
			d := InstallLearned(in, bin, Compute(in), learned, nil)
			var got []string
			for _, r := range d.Routes {
				if r.Dst.Addr().Is4() && !r.Workload {
					got = append(got, strings.ReplaceAll(r.String(), "0.0.0.0/0", "default"))
				}
			}
			if g, w := strings.Join(got, "\n"), strings.Join(tc.want, "\n"); g != w {
				t.Errorf("routes:\n%s\nwant:\n%s\nproblems: %v", g, w, d.Problems)
			}
		})
	}
}

func TestBGPOwnsPool(t *testing.T) {
	for _, tc := range []struct {
		ipip, vxlan v3.EncapMode
		mode        string
		want        bool
	}{
		{v3.EncapNever, v3.EncapNever, "", true},
		{v3.EncapAlways, v3.EncapNever, "", false},
		{v3.EncapAlways, v3.EncapNever, "EnabledIPIPOnly", true},
		{v3.EncapNever, v3.EncapNever, "EnabledIPIPOnly", false},
		{v3.EncapCrossSubnet, v3.EncapNever, "Enabled", true},
		{v3.EncapNever, v3.EncapCrossSubnet, "Enabled", false},
		{v3.EncapNever, v3.EncapNever, "Disabled", false},
	} {
		if got := BGPOwnsPool(v3.IPPoolSpec{IPIPMode: tc.ipip, VXLANMode: tc.vxlan}, tc.mode); got != tc.want {
			t.Errorf("ipip %s vxlan %s programClusterRoutes %q: BGP owns = %v, want %v", tc.ipip, tc.vxlan, tc.mode, got, tc.want)
		}
	}
}

// A direct peer's block comes from the datastore (the fast path), whatever
// BGP says of it or not yet; blocks of nodes that are not direct peers
// come from BGP only.
func TestInstallLearnedFastPath(t *testing.T) {
	in := input("a", testPool(v3.EncapNever, v3.EncapNever, false))
	b := netip.MustParseAddr("172.31.1.2")
	render := func(d Desired) string {
		var got []string
		for _, r := range d.Routes {
			if r.Type != Blackhole && !r.Workload {
				got = append(got, r.String())
			}
		}
		return strings.Join(got, ",")
	}
	if got := render(InstallLearned(in, BGPInput{}, Compute(in), nil, []netip.Addr{b})); got != "10.244.0.64/26 via 172.31.1.2 dev eth0" {
		t.Errorf("b an Established peer, nothing learned yet: %q", got)
	}
	if got := render(InstallLearned(in, BGPInput{}, Compute(in), nil, nil)); got != "" {
		t.Errorf("b not a peer, nothing learned: %q", got)
	}
	quiet := testPool(v3.EncapNever, v3.EncapNever, false)
	quiet.Spec.DisableBGPExport = true
	in = input("a", quiet)
	if got := render(InstallLearned(in, BGPInput{}, Compute(in), nil, []netip.Addr{b})); got != "" {
		t.Errorf("a pool b does not export: %q", got)
	}
}
