package calc

import (
	"fmt"
	"net/netip"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

func TestEncapsulates(t *testing.T) {
	for _, c := range []struct {
		mode             v3.EncapMode
		any, same, other bool
	}{
		{v3.EncapAlways, true, true, true},
		{v3.EncapCrossSubnet, true, false, true},
		{v3.EncapNever, false, false, false},
		{"", false, false, false},
	} {
		if got := encapsulates(c.mode); got != c.any {
			t.Errorf("encapsulates(%q) = %v", c.mode, got)
		}
		if got := encapsulatesTo(c.mode, true); got != c.same {
			t.Errorf("encapsulatesTo(%q, same subnet) = %v", c.mode, got)
		}
		if got := encapsulatesTo(c.mode, false); got != c.other {
			t.Errorf("encapsulatesTo(%q, other subnet) = %v", c.mode, got)
		}
	}
}

func TestTunnelAddressPools(t *testing.T) {
	pool := func(name, cidr string, ipip, vxlan v3.EncapMode, edit func(*v3.IPPoolSpec)) *v3.IPPool {
		p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: name}}
		p.Spec.CIDR, p.Spec.IPIPMode, p.Spec.VXLANMode = cidr, ipip, vxlan
		v3.Default(p)
		if edit != nil {
			edit(&p.Spec)
		}
		return p
	}
	self := node("a", "172.31.1.1/24", "")
	self.Labels = map[string]string{"rack": "r1"}
	cases := []struct {
		name        string
		pools       []*v3.IPPool
		node        string
		ipip, vxlan string
	}{
		{"ipip always", []*v3.IPPool{pool("p", "10.1.0.0/16", v3.EncapAlways, v3.EncapNever, nil)}, "a", "[10.1.0.0/16]", "[]"},
		{"vxlan cross-subnet", []*v3.IPPool{pool("p", "10.1.0.0/16", v3.EncapNever, v3.EncapCrossSubnet, nil)}, "a", "[]", "[10.1.0.0/16]"},
		{"no encapsulation", []*v3.IPPool{pool("p", "10.1.0.0/16", v3.EncapNever, v3.EncapNever, nil)}, "a", "[]", "[]"},
		{"disabled pool", []*v3.IPPool{pool("p", "10.1.0.0/16", v3.EncapAlways, v3.EncapNever, func(s *v3.IPPoolSpec) { s.Disabled = true })}, "a", "[]", "[]"},
		{"selector matches", []*v3.IPPool{pool("p", "10.1.0.0/16", v3.EncapAlways, v3.EncapNever, func(s *v3.IPPoolSpec) { s.NodeSelector = "rack == 'r1'" })}, "a", "[10.1.0.0/16]", "[]"},
		{"selector does not match", []*v3.IPPool{pool("p", "10.1.0.0/16", v3.EncapAlways, v3.EncapNever, func(s *v3.IPPoolSpec) { s.NodeSelector = "rack == 'r2'" })}, "a", "[]", "[]"},
		{"workload-only pool", []*v3.IPPool{pool("p", "10.1.0.0/16", v3.EncapAlways, v3.EncapNever, func(s *v3.IPPoolSpec) { s.AllowedUses = []v3.IPPoolAllowedUse{v3.AllowedUseWorkload} })}, "a", "[]", "[]"},
		{"IPv6 pool", []*v3.IPPool{pool("p", "fd00::/48", v3.EncapNever, v3.EncapAlways, nil)}, "a", "[]", "[]"},
		{"two pools, both types", []*v3.IPPool{pool("p", "10.1.0.0/16", v3.EncapAlways, v3.EncapNever, nil), pool("q", "10.2.0.0/16", v3.EncapNever, v3.EncapAlways, nil)}, "a", "[10.1.0.0/16]", "[10.2.0.0/16]"},
		{"unknown node", []*v3.IPPool{pool("p", "10.1.0.0/16", v3.EncapAlways, v3.EncapNever, nil)}, "zz", "[]", "[]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := TunnelAddressPools(Input{Node: c.node, Nodes: []*v3.Node{self}, Pools: c.pools})
			if s := fmt.Sprint(got.IPIP); s != c.ipip {
				t.Errorf("IPIP pools = %s, want %s", s, c.ipip)
			}
			if s := fmt.Sprint(got.VXLAN); s != c.vxlan {
				t.Errorf("VXLAN pools = %s, want %s", s, c.vxlan)
			}
		})
	}
}

func TestTunnelAddressOK(t *testing.T) {
	pools := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
	for _, c := range []struct {
		current string
		pools   []netip.Prefix
		ok      bool
	}{
		{"", nil, true},
		{"10.1.0.1", nil, false},
		{"", pools, false},
		{"10.1.0.1", pools, true},
		{"10.9.0.1", pools, false},
		{"garbage", pools, false},
	} {
		if got := TunnelAddressOK(c.current, c.pools); got != c.ok {
			t.Errorf("TunnelAddressOK(%q, %v) = %v, want %v", c.current, c.pools, got, c.ok)
		}
	}
}
