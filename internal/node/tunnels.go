package node

import (
	"context"
	"net/netip"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/ipam"
	"github.com/tortienet/tortie/internal/selector"
)

// tunnelPools lists the enabled IPv4 pools that select the node, allow
// Tunnel use and use the encapsulation, as allocate-tunnel-addrs decides.
func tunnelPools(in calc.Input, self *v3.Node, mode func(v3.IPPoolSpec) v3.EncapMode) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range in.Pools {
		c, err := netip.ParsePrefix(p.Spec.CIDR)
		if err != nil || !c.Addr().Is4() || p.Spec.Disabled || !p.Spec.HasAllowedUse(v3.AllowedUseTunnel) {
			continue
		}
		if m := mode(p.Spec); m != v3.EncapAlways && m != v3.EncapCrossSubnet {
			continue
		}
		if sel, err := selector.Parse(p.Spec.NodeSelector); err != nil || !sel.Evaluate(self.Labels) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// tunnelField points at the Node field holding a tunnel type's address.
func tunnelField(n *v3.Node, typ string) *string {
	if typ == ipam.TypeVXLANTunnel {
		return &n.Spec.IPv4VXLANTunnelAddr
	}
	if n.Spec.BGP == nil {
		n.Spec.BGP = &v3.NodeBGPSpec{}
	}
	return &n.Spec.BGP.IPv4IPIPTunnelAddr
}

// tunnelWork says whether the node's tunnel address of a type needs IPAM:
// it has none but should, has one but should not, or has one outside the
// pools that need it.
func tunnelWork(current string, pools []netip.Prefix) bool {
	a, err := netip.ParseAddr(current)
	if len(pools) == 0 {
		return current != ""
	}
	if err != nil {
		return true
	}
	for _, p := range pools {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// ensureTunnelAddresses allocates, moves or releases the node's IPIP and
// VXLAN tunnel addresses and records them on the Node.
func (a *Agent) ensureTunnelAddresses(ctx context.Context, in calc.Input) error {
	var self *v3.Node
	for _, n := range in.Nodes {
		if n.Name == a.cfg.NodeName {
			self = n
		}
	}
	if self == nil {
		return nil
	}
	types := []struct {
		typ  string
		mode func(v3.IPPoolSpec) v3.EncapMode
	}{
		{ipam.TypeIPIPTunnel, func(s v3.IPPoolSpec) v3.EncapMode { return s.IPIPMode }},
		{ipam.TypeVXLANTunnel, func(s v3.IPPoolSpec) v3.EncapMode { return s.VXLANMode }},
	}
	for _, t := range types {
		probe := *self
		if self.Spec.BGP != nil {
			bgp := *self.Spec.BGP
			probe.Spec.BGP = &bgp
		}
		pools := tunnelPools(in, self, t.mode)
		if !tunnelWork(*tunnelField(&probe, t.typ), pools) {
			continue
		}
		value := ""
		if len(pools) == 0 {
			if err := a.ipam.ReleaseTunnelAddress(ctx, a.cfg.NodeName, t.typ); err != nil {
				return err
			}
		} else {
			names := make([]string, len(pools))
			for i, p := range pools {
				names[i] = p.String()
			}
			addr, err := a.ipam.EnsureTunnelAddress(ctx, a.cfg.NodeName, t.typ, names)
			if err != nil {
				return err
			}
			value = addr.String()
		}
		a.log.Info("tunnel address", "type", t.typ, "address", value)
		if err := update(ctx, a.c, kind("Node"), a.cfg.NodeName,
			func() *v3.Node { return &v3.Node{ObjectMeta: v3.ObjectMeta{Name: a.cfg.NodeName}} },
			func(n *v3.Node) {
				*tunnelField(n, t.typ) = value
				if n.Spec.BGP != nil && *n.Spec.BGP == (v3.NodeBGPSpec{}) {
					n.Spec.BGP = nil
				}
			}); err != nil {
			return err
		}
	}
	return nil
}
