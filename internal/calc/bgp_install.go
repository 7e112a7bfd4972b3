package calc

import (
	"net/netip"
	"sort"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/conventions"
)

// LearnedRoute is a best path the node's speaker learned from a peer.
type LearnedRoute struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
}

// Values of BGPConfiguration programClusterRoutes (§7.6).
const (
	ProgramClusterRoutesEnabled     = "Enabled"
	ProgramClusterRoutesDisabled    = "Disabled"
	ProgramClusterRoutesIPIPOnly    = "EnabledIPIPOnly"
	ProgramClusterRoutesNoEncapOnly = "EnabledNoEncapOnly"
)

// BGPOwnsPool says whether the routes to other nodes' blocks of a pool
// come from BGP (true) or from the datastore (false). One owner per pool,
// never both (calico-reference.md §7.6): VXLAN pools are always the
// datastore's; IP-in-IP pools are BGP's with programClusterRoutes Enabled
// or EnabledIPIPOnly; unencapsulated pools are BGP's with Enabled or
// EnabledNoEncapOnly (the default). Whatever BGP does not own, the
// datastore path programs, so nobody is left without routes.
func BGPOwnsPool(s v3.IPPoolSpec, programClusterRoutes string) bool {
	mode := programClusterRoutes
	if mode == "" {
		mode = ProgramClusterRoutesNoEncapOnly
	}
	on := func(m v3.EncapMode) bool { return m == v3.EncapAlways || m == v3.EncapCrossSubnet }
	switch {
	case on(s.VXLANMode):
		return false
	case on(s.IPIPMode):
		return mode == ProgramClusterRoutesEnabled || mode == ProgramClusterRoutesIPIPOnly
	}
	return mode == ProgramClusterRoutesEnabled || mode == ProgramClusterRoutesNoEncapOnly
}

// InstallLearned puts the routes learned over BGP into d, as BIRD's
// calico_kernel_programming filter does (§7.5): in a pool BGP owns, the
// routes to other nodes' blocks are exactly the learned ones (via the next
// hop on the underlay; through tunl0 for IP-in-IP Always, and for
// CrossSubnet when the next hop is in another subnet); pools BGP does not
// own keep the datastore's routes; learned routes outside every pool (a
// router's default, another rack's service range) are installed via their
// next hop; a route whose next hop is a workload on this node (a local
// workload peer's) goes out of that workload's interface; service ranges
// this cluster advertises itself, this node's own blocks and next hops
// that are this node are never installed. IPv6 routes are installed the
// same way, against the node's IPv6 address and subnet (IPv6 pools have
// no IP-in-IP).
//
// The fast path: a block of a node that is an Established, directly
// connected BGP peer of this node (direct) comes from the datastore, which
// every node watches: that peer announces exactly this block with itself as
// the next hop, so the route is the same, and it is in the kernel one BGP
// hop sooner. Everything else comes from BGP.
func InstallLearned(in Input, bin BGPInput, d Desired, learned []LearnedRoute, direct []netip.Addr) Desired {
	if in.Backend != "" && in.Backend != "bird" {
		return d
	}
	selfNet, ok := nodeAddress(nodeNamed(in.Nodes, in.Node))
	if !ok {
		return d
	}
	selfNet6, _ := nodeAddress6(nodeNamed(in.Nodes, in.Node))
	d.Problems = append([]string(nil), d.Problems...)
	mode := ""
	for _, c := range bin.Configs {
		if c.Name == v3.SingletonName {
			mode = c.Spec.ProgramClusterRoutes
		}
	}
	owned := func(a netip.Addr) (*v3.IPPool, bool, bool) {
		for _, p := range in.Pools {
			if c, err := netip.ParsePrefix(p.Spec.CIDR); err == nil && c.Contains(a) {
				return p, BGPOwnsPool(p.Spec, mode), true
			}
		}
		return nil, false, false
	}
	fast := map[netip.Addr]bool{}
	for _, a := range direct {
		fast[a] = true
	}
	routes := map[netip.Prefix]Route{}
	kept := map[netip.Prefix]bool{} // datastore routes standing for a direct peer's announcement
	for _, r := range d.Routes {
		pool, bgp, inPool := owned(r.Dst.Addr())
		if inPool && bgp && r.Type != Blackhole && !r.Workload {
			if !fast[r.Gw] || pool.Spec.DisableBGPExport {
				continue // a datastore route where BGP is the owner
			}
			kept[r.Dst] = true
		}
		routes[r.Dst] = r
	}
	reject := map[netip.Prefix]bool{}
	b2 := &bgpBuilder{in: in, selfIP6: selfNet6.Addr()}
	for _, c := range bin.Configs {
		if c.Name == v3.SingletonName {
			b2.global = c.Spec
		}
	}
	for _, p := range b2.serviceRanges() {
		reject[p] = true
	}
	workloads := localWorkloadDevices(in)
	for _, l := range learned {
		p := l.Prefix.Masked()
		self := selfNet
		if p.Addr().Is6() {
			self = selfNet6 // IPv6 routes come over IPv6 sessions
		}
		if !self.IsValid() || p.Addr().Is6() != l.NextHop.Is6() || reject[p] || l.NextHop == self.Addr() {
			continue
		}
		if old, ok := routes[p]; ok && (old.Type == Blackhole || old.Workload || kept[p]) {
			continue // this node's own block or workload, or a direct peer's block
		}
		pool, bgp, inPool := owned(p.Addr())
		if inPool && !bgp {
			continue
		}
		if dev, ok := workloads[l.NextHop]; ok {
			// learned from a workload on this node: out of its interface
			routes[p] = Route{Dst: p, Dev: dev, Gw: l.NextHop, OnLink: true}
			continue
		}
		r, ok := learnedRoute(in, pool, self, p, l.NextHop)
		if !ok {
			d.Problems = append(d.Problems, "route "+p.String()+" learned via "+l.NextHop.String()+
				": the next hop is not in this node's subnet "+self.String())
			continue
		}
		routes[p] = r
	}
	d.Routes = make([]Route, 0, len(routes)) // d's own slices are the caller's: never written
	for _, r := range routes {
		d.Routes = append(d.Routes, r)
	}
	sort.Slice(d.Routes, func(i, j int) bool { return prefixLess(d.Routes[i].Dst, d.Routes[j].Dst) })
	sort.Strings(d.Problems)
	return d
}

// learnedRoute is the kernel route for one learned prefix.
func learnedRoute(in Input, pool *v3.IPPool, selfNet, p netip.Prefix, nh netip.Addr) (Route, bool) {
	same := selfNet.IsValid() && selfNet.Contains(nh)
	if pool != nil && encapFor(pool.Spec, same) == encapIPIP {
		return Route{Dst: p, Dev: conventions.IPIPDevice, Gw: nh, OnLink: true}, true
	}
	if !same {
		return Route{}, false
	}
	return Route{Dst: p, Dev: in.ParentDevice, Gw: nh}, true
}

func nodeNamed(nodes []*v3.Node, name string) *v3.Node {
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}
