package calc

import (
	"bytes"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"sort"

	v3 "github.com/tortienet/tortie/api/v3"
)

// Delta is what changed in the desired state since the last Flush.
type Delta struct {
	AddedRoutes, RemovedRoutes       []Route
	AddedNeighbors, RemovedNeighbors []Neighbor
	AddedFDB, RemovedFDB             []FDBEntry
	// Devices, NAT, PodMTU and Problems say whether that part changed.
	Devices, NAT, PodMTU, Problems bool
	// BGP says that something the BGP calculation reads changed: a node, a
	// pool, a block of this node or holding one of its workloads' addresses,
	// one of its endpoints, the Env.
	BGP bool
	// Tunnel says that this node or a pool changed (its tunnel addresses).
	Tunnel bool
	// Full says that the whole state was replaced (Begin ... End).
	Full bool
}

// Dataplane says whether the kernel's part of the state changed.
func (d Delta) Dataplane() bool {
	return d.Full || d.Devices || d.NAT || d.PodMTU || d.Problems ||
		len(d.AddedRoutes)+len(d.RemovedRoutes)+len(d.AddedNeighbors)+len(d.RemovedNeighbors)+
			len(d.AddedFDB)+len(d.RemovedFDB) > 0
}

// PutEndpoint adds or replaces the endpoint of a key (its datastore key).
// The Engine keeps ep's slices and labels; the caller must not change them.
func (e *Engine) PutEndpoint(key string, ep Endpoint) {
	old := e.eps[key]
	if old != nil && old.Equal(ep) {
		return
	}
	e.removeEndpoint(key, old)
	e.eps[key] = &ep
	for i, a := range ep.Addrs {
		for bits := range e.blocks.lengths(a) {
			e.addrs.add(netip.PrefixFrom(a, bits).Masked(), addrRef{key, i})
		}
	}
	if ep.Node == e.env.Node {
		e.delta.BGP = true
	}
	if !e.bulk {
		for i := range ep.Addrs {
			e.evalAddrOf(addrRef{key, i}, &ep)
		}
	}
}

// DeleteEndpoint removes the endpoint of a key.
func (e *Engine) DeleteEndpoint(key string) {
	if old := e.eps[key]; old != nil {
		e.removeEndpoint(key, old)
	}
}

func (e *Engine) removeEndpoint(key string, old *Endpoint) {
	if old == nil {
		return
	}
	if old.Node == e.env.Node {
		e.delta.BGP = true
	}
	for i, a := range old.Addrs {
		r := addrRef{key, i}
		e.apply(contribID{key: key, idx: i}, contribution{})
		e.borrowed.del(r, old.Node)
		for bits := range e.blocks.lengths(a) {
			e.addrs.remove(netip.PrefixFrom(a, bits).Masked(), r)
		}
	}
	delete(e.eps, key)
}

// Endpoint is the endpoint of a key.
func (e *Engine) Endpoint(key string) (Endpoint, bool) {
	if ep := e.eps[key]; ep != nil {
		return *ep, true
	}
	return Endpoint{}, false
}

// EndpointRef is the Engine's own endpoint key (nil: none), read-only as
// Endpoints' are.
func (e *Engine) EndpointRef(key string) *Endpoint { return e.eps[key] }

// Endpoints yields the endpoints in key order. They are the Engine's:
// read-only, and an endpoint put again is a new *Endpoint (the old one
// stays as it was), so a caller may know an endpoint by its pointer.
func (e *Engine) Endpoints() iter.Seq2[string, *Endpoint] {
	return func(yield func(string, *Endpoint) bool) {
		for _, key := range slices.Sorted(maps.Keys(e.eps)) {
			if !yield(key, e.eps[key]) {
				return
			}
		}
	}
}

// recomputeGlobals decides the devices, NAT and pod MTU (cheap: they read
// the pools, the FelixConfiguration and this node) and the routing
// context; it says whether remote routes may differ now.
func (e *Engine) recomputeGlobals() bool {
	in := Input{Node: e.env.Node, Felix: e.felix, Backend: e.env.Backend, RouteUnencapsulated: e.env.RouteUnencapsulated,
		ParentDevice: e.env.ParentDevice, HostMTU: e.env.HostMTU, IPIPSupported: e.env.IPIPSupported, Pools: e.sortedPools()}
	if self := e.nodes[e.env.Node]; self != nil {
		in.Nodes = []*v3.Node{self}
	}
	b := newBuilder(in)
	b.nat()
	if in.Backend == "none" {
		b.d.PodMTU = b.hostMTU()
	} else {
		b.devices()
	}
	b.d.Problems = slices.Sorted(maps.Keys(b.problems))
	old := e.glob
	e.glob = b.d
	e.delta.NAT = e.delta.NAT || !slices.Equal(old.NAT.AllPools, b.d.NAT.AllPools) || !slices.Equal(old.NAT.MasqPools, b.d.NAT.MasqPools)
	e.delta.PodMTU = e.delta.PodMTU || old.PodMTU != b.d.PodMTU
	e.delta.Devices = e.delta.Devices || !ipipEqual(old.IPIP, b.d.IPIP) || !vxlanEqual(old.VXLAN, b.d.VXLAN)
	for _, p := range old.Problems {
		e.decProblem(p)
	}
	for _, p := range b.d.Problems {
		e.incProblem(p)
	}
	b.nodes = e.nodes // routeTo looks peers up here
	changed := e.scratch == nil || e.scratch.selfNet != b.selfNet || selfNet6(e.scratch) != selfNet6(b) ||
		(old.IPIP == nil) != (b.d.IPIP == nil) || (old.VXLAN == nil) != (b.d.VXLAN == nil)
	e.scratch = b
	return changed
}

func selfNet6(b *builder) netip.Prefix {
	p, _ := nodeAddress6(b.self)
	return p
}

func (e *Engine) sortedPools() []*v3.IPPool {
	names := slices.Sorted(maps.Keys(e.pools))
	out := make([]*v3.IPPool, len(names))
	for i, n := range names {
		out[i] = e.pools[n]
	}
	return out
}

func ipipEqual(a, b *IPIPDeviceSpec) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func vxlanEqual(a, b *VXLANDeviceSpec) bool {
	if (a == nil) != (b == nil) || a == nil {
		return a == nil && b == nil
	}
	x, y := *a, *b
	x.MAC, y.MAC = nil, nil
	return bytes.Equal(a.MAC, b.MAC) && x.VNI == y.VNI && x.Port == y.Port && x.Addr == y.Addr &&
		x.LocalIP == y.LocalIP && x.Parent == y.Parent && x.MTU == y.MTU
}

// reevalRemote re-evaluates what depends on the routing context: every
// block and every borrowed address.
func (e *Engine) reevalRemote() {
	for c := range e.blocks.host {
		e.evalBlock(c)
	}
	for _, r := range slices.Collect(maps.Keys(e.borrowed.all)) {
		e.evalAddr(r)
	}
}

// reevalAll re-evaluates every contributor.
func (e *Engine) reevalAll() {
	for c := range e.blocks.host {
		e.evalBlock(c)
	}
	for key, ep := range e.eps {
		for i := range ep.Addrs {
			e.evalAddrOf(addrRef{key, i}, ep)
		}
	}
}

// evalBlock: a blackhole for a local block, a route to its node for a
// remote one.
func (e *Engine) evalBlock(c netip.Prefix) {
	var ct contribution
	host, ok := e.blocks.host[c]
	switch {
	case !ok || host == "" || e.env.Backend == "none":
	case host == e.env.Node:
		ct.route, ct.hasRoute = Route{Dst: c, Type: Blackhole}, true
	default:
		ct = e.routeTo(c, host)
	}
	e.apply(contribID{block: c}, ct)
}

// evalAddr: a local workload's /32 (/128) on its interface (and, for
// IPv4, its neighbour entry); for a remote one, a /32 (/128) to its node
// when the address is borrowed from a block affine to another node.
func (e *Engine) evalAddr(r addrRef) { e.evalAddrOf(r, e.eps[r.key]) }

// evalAddrOf is evalAddr of r, an address of ep.
func (e *Engine) evalAddrOf(r addrRef, ep *Endpoint) {
	a := ep.Addrs[r.idx]
	dst := netip.PrefixFrom(a, a.BitLen())
	var ct contribution
	if ep.Node == e.env.Node {
		e.borrowed.del(r, ep.Node)
		if iface := ep.Interface(); iface != "" && e.env.Backend != "none" {
			ct.route, ct.hasRoute = Route{Dst: dst, Dev: iface, Workload: true}, true
			if mac := ep.MAC(); mac != nil && a.Is4() { // IPv6 neighbours are the CNI plugin's
				ct.neigh, ct.hasNeigh = Neighbor{Dev: iface, IP: a, MAC: mac}, true
			}
		}
	} else if _, owner, _ := e.blocks.lookup(a); owner != ep.Node {
		e.borrowed.add(r, ep.Node)
		if e.env.Backend != "none" {
			ct = e.routeTo(dst, ep.Node)
		}
	} else {
		e.borrowed.del(r, ep.Node)
	}
	e.apply(contribID{key: r.key, idx: r.idx}, ct)
}

// routeTo is Compute's routeTo for one destination.
func (e *Engine) routeTo(dst netip.Prefix, peer string) contribution {
	b := e.scratch
	clear(b.routes)
	clear(b.neighbors)
	clear(b.fdb)
	clear(b.problems)
	b.routeTo(dst, peer)
	var ct contribution
	for _, r := range b.routes {
		ct.route, ct.hasRoute = r, true
	}
	for _, n := range b.neighbors {
		ct.neigh, ct.hasNeigh = n, true
	}
	for _, f := range b.fdb {
		ct.fdb, ct.hasFDB = f, true
	}
	for p := range b.problems {
		ct.problem = p
	}
	return ct
}

// apply replaces what id contributes with ct.
func (e *Engine) apply(id contribID, ct contribution) {
	old, had := e.contribs[id]
	if had && contribEqual(old, ct) || !had && ct.empty() {
		return
	}
	if had {
		e.withdraw(id, old)
	}
	if ct.empty() {
		delete(e.contribs, id)
		return
	}
	e.contribs[id] = ct
	if ct.hasRoute {
		e.routes.set(ct.route.Dst, id, ct.route)
	}
	if ct.hasNeigh {
		e.neighbors.set(neighKey{ct.neigh.Dev, ct.neigh.IP}, id, ct.neigh)
	}
	if ct.hasFDB {
		e.fdb.set(string(ct.fdb.MAC), id, ct.fdb)
	}
	if ct.problem != "" {
		e.incProblem(ct.problem)
	}
}

func (e *Engine) withdraw(id contribID, ct contribution) {
	if ct.hasRoute {
		e.routes.unset(ct.route.Dst, id)
	}
	if ct.hasNeigh {
		e.neighbors.unset(neighKey{ct.neigh.Dev, ct.neigh.IP}, id)
	}
	if ct.hasFDB {
		e.fdb.unset(string(ct.fdb.MAC), id)
	}
	if ct.problem != "" {
		e.decProblem(ct.problem)
	}
}

func contribEqual(a, b contribution) bool {
	return a.hasRoute == b.hasRoute && a.route == b.route && a.hasNeigh == b.hasNeigh && neighborEqual(a.neigh, b.neigh) &&
		a.hasFDB == b.hasFDB && fdbEqual(a.fdb, b.fdb) && a.problem == b.problem
}

func (e *Engine) incProblem(p string) {
	if e.problems[p] == 0 {
		e.delta.Problems = true
	}
	e.problems[p]++
}

func (e *Engine) decProblem(p string) {
	if e.problems[p]--; e.problems[p] <= 0 {
		delete(e.problems, p)
		e.delta.Problems = true
	}
}

func routeCompare(a, b Route) int { return prefixCompare(a.Dst, b.Dst) }

func neighborEqual(a, b Neighbor) bool {
	return a.Dev == b.Dev && a.IP == b.IP && bytes.Equal(a.MAC, b.MAC)
}

func neighborCompare(a, b Neighbor) int {
	if a.Dev != b.Dev {
		if a.Dev < b.Dev {
			return -1
		}
		return 1
	}
	return a.IP.Compare(b.IP)
}

func fdbEqual(a, b FDBEntry) bool {
	return a.Dev == b.Dev && a.Dst == b.Dst && bytes.Equal(a.MAC, b.MAC)
}

// Flush reports what changed since the last Flush.
func (e *Engine) Flush() Delta {
	d := e.delta
	e.routes.flush(&d.AddedRoutes, &d.RemovedRoutes)
	e.neighbors.flush(&d.AddedNeighbors, &d.RemovedNeighbors)
	e.fdb.flush(&d.AddedFDB, &d.RemovedFDB)
	e.delta = Delta{}
	return d
}

// Desired is the whole desired state (without Policy), as of the last
// Flush: Globals with the lists filled in (FillLists).
func (e *Engine) Desired() Desired {
	d := e.Globals()
	e.FillLists(&d)
	return d
}

// Globals is the desired state without its routes, neighbours and FDB
// entries: what a change applied as a Delta reads beside it. It is cheap
// and does not grow with the cluster.
func (e *Engine) Globals() Desired {
	d := Desired{PodMTU: e.glob.PodMTU, NAT: e.glob.NAT}
	if e.glob.IPIP != nil {
		v := *e.glob.IPIP
		d.IPIP = &v
	}
	if e.glob.VXLAN != nil {
		v := *e.glob.VXLAN
		d.VXLAN = &v
	}
	if len(e.problems) > 0 {
		d.Problems = slices.Sorted(maps.Keys(e.problems))
	}
	return d
}

// FillLists sets d's routes, neighbours and FDB entries, as of the last
// Flush (Begin forgets them: until the Flush after End they are empty).
// They are the Engine's own sorted slices, which it never changes
// in place (the caller must not either); when Flushes changed them since
// they were last asked for, they are rebuilt first (the changes merged
// into the old: work and garbage in proportion to the table, paid only by
// a full Apply).
func (e *Engine) FillLists(d *Desired) {
	d.Routes, d.Neighbors, d.FDB = e.routes.list(), e.neighbors.list(), e.fdb.list()
}

// Snapshot is the Input the Engine holds, for Compute (the oracle) and
// for the calculations that read a whole snapshot (BGP). Endpoints carry
// only what the Engine keeps of them.
func (e *Engine) Snapshot() Input {
	in := e.Resources()
	for _, key := range slices.Sorted(maps.Keys(e.eps)) {
		in.Endpoints = append(in.Endpoints, e.eps[key].workload())
	}
	return in
}

// Resources is Snapshot without the endpoints.
func (e *Engine) Resources() Input {
	in := Input{Node: e.env.Node, Backend: e.env.Backend, RouteUnencapsulated: e.env.RouteUnencapsulated,
		ParentDevice: e.env.ParentDevice, HostMTU: e.env.HostMTU, IPIPSupported: e.env.IPIPSupported,
		Felix: e.felix, Pools: e.sortedPools(), Blocks: e.Blocks()}
	for _, n := range slices.Sorted(maps.Keys(e.nodes)) {
		in.Nodes = append(in.Nodes, e.nodes[n])
	}
	return in
}

// Blocks are the blocks, by CIDR.
func (e *Engine) Blocks() []Block {
	out := make([]Block, 0, len(e.blocks.host))
	for c, h := range e.blocks.host {
		out = append(out, Block{CIDR: c, Host: h})
	}
	sort.Slice(out, func(i, j int) bool { return prefixLess(out[i].CIDR, out[j].CIDR) })
	return out
}
