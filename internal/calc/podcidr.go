package calc

import (
	"net/netip"

	v3 "github.com/tortienet/tortie/api/v3"
)

// PodCIDRBlocks is what stands for IPAM blocks with USE_POD_CIDR
// (calico-reference.md §4.8): each node's IPv4 pod CIDRs (Kubernetes
// Node spec.podCIDRs, in the Node's status), affine to the node, so that
// routing and BGP treat them as the node's blocks. Nodes without one add
// nothing.
func PodCIDRBlocks(nodes []*v3.Node) []Block {
	var out []Block
	for _, n := range nodes {
		for _, c := range n.Status.PodCIDRs {
			p, err := netip.ParsePrefix(c)
			if err == nil && p.Addr().Is4() {
				out = append(out, Block{CIDR: p.Masked(), Host: n.Name})
			}
		}
	}
	return out
}

// PodCIDRTunnelAddr is the IPIP tunnel address of a node with
// USE_POD_CIDR: the first address of its IPv4 pod CIDR plus one (x.y.z.1);
// ok is false when the node has no IPv4 pod CIDR.
func PodCIDRTunnelAddr(n *v3.Node) (netip.Addr, bool) {
	for _, b := range PodCIDRBlocks([]*v3.Node{n}) {
		return b.CIDR.Addr().Next(), true
	}
	return netip.Addr{}, false
}
