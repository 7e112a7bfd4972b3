package calc

import (
	"net/netip"
	"sort"
	"strings"
)

// routes is what the node originates (§7.5): its own blocks, aggregated;
// addresses its workloads borrowed from other nodes' blocks, as /32s
// (/128s); the service ranges of BGPConfiguration default. Never host
// routes, never another node's block; nothing from a pool with
// disableBGPExport; IPv6 only when the node has an IPv6 address.
func (b *bgpBuilder) routes() []BGPRoute {
	set := map[netip.Prefix]bool{}
	exported := func(a netip.Addr) bool {
		for _, p := range b.in.Pools {
			c, err := netip.ParsePrefix(p.Spec.CIDR)
			if err == nil && c.Contains(a) {
				return !p.Spec.DisableBGPExport
			}
		}
		return false
	}
	for _, blk := range b.in.Blocks {
		if blk.Host == b.in.Node && b.speaks(blk.CIDR.Addr()) && exported(blk.CIDR.Addr()) {
			set[blk.CIDR] = true
		}
	}
	for _, w := range b.in.Endpoints {
		if w.Spec.Node != b.in.Node {
			continue
		}
		for _, s := range w.Spec.IPNetworks {
			p, err := netip.ParsePrefix(s)
			if err != nil || !b.speaks(p.Addr()) || !exported(p.Addr()) {
				continue
			}
			if hostOfBlock(b.in.Blocks, p.Addr()) != b.in.Node {
				set[netip.PrefixFrom(p.Addr(), p.Addr().BitLen())] = true
			}
		}
	}
	for _, c := range b.serviceRanges() {
		set[c] = true
	}
	out := make([]BGPRoute, 0, len(set))
	for p := range set {
		out = append(out, b.withCommunities(BGPRoute{Prefix: p, LocalPref: uint32(maxLocalPref - b.normalPriority())}))
	}
	sort.Slice(out, func(i, j int) bool { return prefixLess(out[i].Prefix, out[j].Prefix) })
	return out
}

// speaks says whether this node has sessions of a's family.
func (b *bgpBuilder) speaks(a netip.Addr) bool { return a.Is4() || b.selfIP6.IsValid() }

func (b *bgpBuilder) serviceRanges() []netip.Prefix {
	var cidrs []string
	for _, s := range b.global.ServiceClusterIPs {
		cidrs = append(cidrs, s.CIDR)
	}
	for _, s := range b.global.ServiceExternalIPs {
		cidrs = append(cidrs, s.CIDR)
	}
	for _, s := range b.global.ServiceLoadBalancerIPs {
		cidrs = append(cidrs, s.CIDR)
	}
	var out []netip.Prefix
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && (p.Addr().Is4() || b.selfIP6.IsValid()) {
			out = append(out, p.Masked())
		}
	}
	return out
}

// withCommunities attaches the communities of every prefixAdvertisement
// whose CIDR holds the route; a name is looked up in spec.communities.
func (b *bgpBuilder) withCommunities(r BGPRoute) BGPRoute {
	names := map[string]string{}
	for _, c := range b.global.Communities {
		names[c.Name] = c.Value
	}
	for _, pa := range b.global.PrefixAdvertisements {
		c, err := netip.ParsePrefix(pa.CIDR)
		if err != nil || !c.Contains(r.Prefix.Addr()) || c.Bits() > r.Prefix.Bits() {
			continue
		}
		for _, v := range pa.Communities {
			if n, ok := names[v]; ok {
				v = n
			}
			if strings.Count(v, ":") == 2 {
				r.LargeCommunities = append(r.LargeCommunities, v)
			} else {
				r.Communities = append(r.Communities, v)
			}
		}
	}
	return r
}

// hostOfBlock is the node the block holding a is affine to ("" for none).
// Should blocks overlap (a pool re-made with another block size while
// blocks of the old one remain), the most specific block holding a says.
func hostOfBlock(blocks []Block, a netip.Addr) string {
	host, bits := "", -1
	for _, blk := range blocks {
		if blk.CIDR.Bits() > bits && blk.CIDR.Contains(a) {
			host, bits = blk.Host, blk.CIDR.Bits()
		}
	}
	return host
}
