package node

import (
	"context"
	"net/netip"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/ipam"
)

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
	want := calc.TunnelAddressPools(in)
	types := []struct {
		typ   string
		pools []netip.Prefix
	}{
		{ipam.TypeIPIPTunnel, want.IPIP},
		{ipam.TypeVXLANTunnel, want.VXLAN},
	}
	for _, t := range types {
		probe := *self
		if self.Spec.BGP != nil {
			bgp := *self.Spec.BGP
			probe.Spec.BGP = &bgp
		}
		pools := t.pools
		podCIDRAddr, fromPodCIDR := calc.PodCIDRTunnelAddr(self)
		fromPodCIDR = fromPodCIDR && a.cfg.UsePodCIDR && t.typ == ipam.TypeIPIPTunnel && len(pools) > 0
		switch {
		case fromPodCIDR && *tunnelField(&probe, t.typ) == podCIDRAddr.String():
			continue
		case !fromPodCIDR && calc.TunnelAddressOK(*tunnelField(&probe, t.typ), pools):
			continue
		}
		value := ""
		if fromPodCIDR {
			value = podCIDRAddr.String()
		} else if len(pools) == 0 {
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
