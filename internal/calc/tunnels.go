package calc

import (
	"net/netip"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/selector"
)

// encapsulates says whether a pool's mode turns its encapsulation on for
// any peer: Always, or CrossSubnet for peers in other subnets. The one
// place that reads a mode that way.
func encapsulates(m v3.EncapMode) bool {
	return m == v3.EncapAlways || m == v3.EncapCrossSubnet
}

// encapsulatesTo says whether the mode encapsulates traffic to a peer in
// this node's subnet (sameSubnet) or in another.
func encapsulatesTo(m v3.EncapMode, sameSubnet bool) bool {
	return m == v3.EncapAlways || (m == v3.EncapCrossSubnet && !sameSubnet)
}

// TunnelPools are the pools this node's tunnel addresses must come from,
// per tunnel type; an empty list means the node should have no address of
// that type (and must release one it holds).
type TunnelPools struct {
	IPIP, VXLAN []netip.Prefix
}

// TunnelAddressPools decides, as calico-node's allocate-tunnel-addrs does,
// which pools may give this node its IPIP and VXLAN tunnel addresses: the
// enabled IPv4 pools that allow Tunnel use, encapsulate with that type
// (Always or CrossSubnet), and whose nodeSelector selects this node.
//
// The tunnel devices are a different question (see devices): a node needs
// tunl0 or vxlan.calico to reach other nodes' blocks of an encapsulating
// pool even when that pool does not select it, or is disabled and still
// has blocks; so the devices follow every pool, and the addresses only
// the pools that select the node.
func TunnelAddressPools(in Input) TunnelPools {
	var self *v3.Node
	for _, n := range in.Nodes {
		if n.Name == in.Node {
			self = n
		}
	}
	if self == nil {
		return TunnelPools{}
	}
	return TunnelPools{
		IPIP:  tunnelPools(in.Pools, self, ipipMode),
		VXLAN: tunnelPools(in.Pools, self, vxlanMode),
	}
}

func tunnelPools(ps []*v3.IPPool, self *v3.Node, mode func(v3.IPPoolSpec) v3.EncapMode) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		c, err := netip.ParsePrefix(p.Spec.CIDR)
		if err != nil || !c.Addr().Is4() || p.Spec.Disabled || !p.Spec.HasAllowedUse(v3.AllowedUseTunnel) {
			continue
		}
		if !encapsulates(mode(p.Spec)) {
			continue
		}
		if sel, err := selector.Parse(p.Spec.NodeSelector); err != nil || !sel.Evaluate(self.Labels) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// TunnelAddressOK says whether a node's current tunnel address (""
// for none) is what pools ask for: none when pools is empty, else an
// address inside one of them. When it is not, the node allocates, moves
// or releases it.
func TunnelAddressOK(current string, pools []netip.Prefix) bool {
	if len(pools) == 0 {
		return current == ""
	}
	a, err := netip.ParseAddr(current)
	if err != nil {
		return false
	}
	for _, p := range pools {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
