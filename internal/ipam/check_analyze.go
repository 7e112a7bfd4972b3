package ipam

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
)

// analyze is Check's pure part: the snapshot in, the report out. It
// follows calicoctl's ipam check: an allocation is in use when a node
// (its tunnel addresses) or a workload endpoint uses its address.
func analyze(in checkInput) *Report {
	r := &Report{AllocationsByNode: map[string]int{}, AllocationsByPool: map[string]int{}}
	var pools []pool
	for _, p := range parsePools(in.pools) {
		if !p.Spec.Disabled {
			pools = append(pools, p)
			r.Pools = append(r.Pools, p.cidr.String())
		}
	}
	users := usersOf(r, in)
	allocated, perHandle := scanBlocks(r, in.blocks, pools, users)
	scanInUse(r, users, pools, allocated)
	scanHandles(r, in.handles, perHandle)
	nodes := map[string]bool{}
	for _, n := range in.nodes {
		nodes[n.Name] = true
	}
	for _, a := range in.affinities {
		if !nodes[a.Host] {
			r.StaleAffinities = append(r.StaleAffinities, StaleAffinity{Host: a.Host, Block: a.CIDR.String()})
		}
	}
	r.NodesWithoutEndpoints = nodesWithoutEndpoints(r, in.weps)
	r.sort()
	return r
}

// usersOf maps every address a node or workload uses to who uses it, and
// counts the node tunnel and workload addresses.
func usersOf(r *Report, in checkInput) map[netip.Addr][]string {
	users := map[netip.Addr][]string{}
	use := func(s, owner string) bool {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return false
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		users[p.Addr()] = append(users[p.Addr()], owner)
		return true
	}
	for _, n := range in.nodes {
		for _, a := range nodeTunnelAddrs(n) {
			if use(a, "Node("+n.Name+")") {
				r.NodeTunnelIPs++
			}
		}
	}
	for _, w := range in.weps {
		for _, n := range w.Spec.IPNetworks {
			if use(n, "Workload("+w.Namespace+"/"+w.Name+")") {
				r.WorkloadIPs++
			}
		}
	}
	r.InUse = len(users)
	return users
}

// nodeTunnelAddrs are the addresses a node's tunnel devices use.
func nodeTunnelAddrs(n *v3.Node) []string {
	var out []string
	if n.Spec.BGP != nil {
		out = append(out, n.Spec.BGP.IPv4IPIPTunnelAddr)
	}
	out = append(out, n.Spec.IPv4VXLANTunnelAddr, n.Spec.IPv6VXLANTunnelAddr)
	if w := n.Spec.Wireguard; w != nil {
		out = append(out, w.InterfaceIPv4Address, w.InterfaceIPv6Address)
	}
	kept := out[:0]
	for _, a := range out {
		if a != "" {
			kept = append(kept, a)
		}
	}
	return kept
}

// scanBlocks counts the allocations, reports those nobody uses, and
// returns the allocated addresses and each handle's count per block.
func scanBlocks(r *Report, blocks []*Block, pools []pool, users map[netip.Addr][]string) (map[netip.Addr]bool, map[string]map[string]int) {
	allocated := map[netip.Addr]bool{}
	perHandle := map[string]map[string]int{}
	for _, b := range blocks {
		r.Blocks = append(r.Blocks, BlockSummary{CIDR: b.CIDR, Affinity: ptrString(b.Affinity), InUse: b.InUse(), Size: b.Size()})
		for ord := range b.Allocations {
			owner, held := b.Owner(ord)
			if !held {
				continue
			}
			a := b.Addr(ord)
			allocated[a] = true
			r.Allocations++
			node := owner.ActiveOwnerAttrs[AttrNode]
			r.AllocationsByNode[node]++
			poolCIDR := poolOf(pools, a)
			r.AllocationsByPool[poolCIDR]++
			if perHandle[owner.HandleID] == nil {
				perHandle[owner.HandleID] = map[string]int{}
			}
			perHandle[owner.HandleID][b.CIDR]++
			if len(users[a]) > 0 {
				continue
			}
			r.Leaked = append(r.Leaked, LeakedIP{IP: a.String(), Handle: owner.HandleID, Node: node, Block: b.CIDR, Pool: poolCIDR,
				SequenceNumber: b.SequenceNumberForAllocation[strconv.Itoa(ord)]})
		}
	}
	return allocated, perHandle
}

// scanInUse reports used addresses with several users, outside every
// active pool, or without an allocation.
func scanInUse(r *Report, users map[netip.Addr][]string, pools []pool, allocated map[netip.Addr]bool) {
	for a, owners := range users {
		u := InUseIP{IP: a.String(), Owners: owners}
		sort.Strings(u.Owners)
		if len(owners) > 1 {
			r.MultipleOwners = append(r.MultipleOwners, u)
		}
		if allocated[a] {
			continue
		}
		if poolOf(pools, a) == "" {
			r.OutsidePools = append(r.OutsidePools, u)
		} else {
			r.NotAllocated = append(r.NotAllocated, u)
		}
	}
}

// scanHandles compares the handle records with the blocks' allocations.
func scanHandles(r *Report, handles map[string]Handle, perHandle map[string]map[string]int) {
	for id, blocks := range perHandle {
		h, ok := handles[id]
		for cidr, n := range blocks {
			switch {
			case !ok:
				r.MissingHandles = append(r.MissingHandles, HandleProblem{Handle: id, Block: cidr, Actual: n})
			case h.Block[cidr] != n:
				r.HandleMismatches = append(r.HandleMismatches, HandleProblem{Handle: id, Block: cidr, Recorded: h.Block[cidr], Actual: n})
			}
		}
	}
	for id, h := range handles {
		for cidr, n := range h.Block {
			if _, ok := perHandle[id][cidr]; !ok && n > 0 {
				r.HandleMismatches = append(r.HandleMismatches, HandleProblem{Handle: id, Block: cidr, Recorded: n})
			}
		}
		if len(perHandle[id]) == 0 {
			r.EmptyHandles = append(r.EmptyHandles, id)
		} else {
			r.GoodHandles++
		}
	}
}

// nodesWithoutEndpoints lists the nodes with leaked workload allocations
// and no WorkloadEndpoint at all.
func nodesWithoutEndpoints(r *Report, weps []*v3.WorkloadEndpoint) []string {
	hasWEP := map[string]bool{}
	for _, w := range weps {
		hasWEP[w.Spec.Node] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range r.Leaked {
		if l.Node != "" && !hasWEP[l.Node] && !seen[l.Node] && !isTunnelHandle(l.Handle) {
			seen[l.Node] = true
			out = append(out, l.Node)
		}
	}
	sort.Strings(out)
	return out
}

// isTunnelHandle tells a node's tunnel address allocation by its handle.
func isTunnelHandle(h string) bool {
	for _, p := range []string{"ipip-tunnel-addr-", "vxlan-tunnel-addr-", "vxlan-v6-tunnel-addr-", "wireguard-tunnel-addr-"} {
		if strings.HasPrefix(h, p) {
			return true
		}
	}
	return false
}

// poolOf returns the CIDR of the active pool holding a, or "".
func poolOf(pools []pool, a netip.Addr) string {
	for _, p := range pools {
		if p.cidr.Contains(a) {
			return p.cidr.String()
		}
	}
	return ""
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (r *Report) sort() {
	sort.Slice(r.Leaked, func(i, j int) bool { return addrLess(r.Leaked[i].IP, r.Leaked[j].IP) })
	for _, us := range [][]InUseIP{r.NotAllocated, r.OutsidePools, r.MultipleOwners} {
		sort.Slice(us, func(i, j int) bool { return addrLess(us[i].IP, us[j].IP) })
	}
	byHandle := func(ps []HandleProblem) {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Handle+ps[i].Block < ps[j].Handle+ps[j].Block })
	}
	byHandle(r.HandleMismatches)
	byHandle(r.MissingHandles)
	sort.Strings(r.EmptyHandles)
	sort.Slice(r.StaleAffinities, func(i, j int) bool {
		return r.StaleAffinities[i].Host+r.StaleAffinities[i].Block < r.StaleAffinities[j].Host+r.StaleAffinities[j].Block
	})
}

func addrLess(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil {
		return a < b
	}
	return x.Less(y)
}
