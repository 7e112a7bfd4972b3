package calc

import (
	"maps"
	"net/netip"
	"slices"

	v3 "github.com/tortienet/tortie/api/v3"
)

// Env is what a node knows of itself, beside the datastore: the fields of
// Input that are not resources.
type Env struct {
	Node                string
	Backend             string
	RouteUnencapsulated bool
	ParentDevice        string
	HostMTU             int
	IPIPSupported       bool
	// UsePodCIDR makes each node's pod CIDRs its blocks (PodCIDRBlocks);
	// blocks put into the Engine are then ignored.
	UsePodCIDR bool
}

// neighKey is what identifies a neighbour entry.
type neighKey struct {
	dev string
	ip  netip.Addr
}

// Engine is Compute made incremental. It is fed changes, one resource at
// a time, and keeps the desired state up to date through indexes, so that
// a change costs work in proportion to what it touches: a remote block
// is one route, a remote endpoint its own addresses, a node its blocks and
// endpoints. A pool, the FelixConfiguration, this node or the Env change
// what every remote route looks like, and re-evaluate those.
//
// It is pure like Compute (no I/O, no clock, no goroutine) and not safe
// for concurrent use. At every point Desired equals Compute(Snapshot()).
type Engine struct {
	env      Env
	felix    *v3.FelixConfigurationSpec
	nodes    map[string]*v3.Node
	nodeAddr map[netip.Addr][]string // node names by address, in no order
	pools    map[string]*v3.IPPool
	blocks   blockIndex
	eps      map[string]*Endpoint
	addrs    addrIndex
	borrowed borrowedIndex // remote addresses outside their node's blocks
	podCIDRs map[string][]netip.Prefix

	scratch *builder // the routing context: self, pools, devices
	glob    Desired  // devices, NAT, pod MTU, the devices' problems

	contribs  map[contribID]contribution
	routes    resolver[netip.Prefix, Route]
	neighbors resolver[neighKey, Neighbor]
	fdb       resolver[string, FDBEntry]
	problems  map[string]int

	bulk  bool
	delta Delta
}

// NewEngine is an Engine with nothing in it, ready for changes.
func NewEngine(env Env) *Engine {
	e := &Engine{}
	e.reset(env)
	return e
}

func (e *Engine) reset(env Env) {
	*e = Engine{env: env, nodes: map[string]*v3.Node{}, nodeAddr: map[netip.Addr][]string{},
		pools: map[string]*v3.IPPool{}, blocks: newBlockIndex(), eps: map[string]*Endpoint{},
		addrs: addrIndex{at: map[netip.Prefix][]addrRef{}}, borrowed: newBorrowedIndex(),
		podCIDRs: map[string][]netip.Prefix{}, contribs: map[contribID]contribution{},
		routes:    newResolver[netip.Prefix](func(a, b Route) bool { return a == b }, routeCompare),
		neighbors: newResolver[neighKey](neighborEqual, neighborCompare),
		fdb:       newResolver[string](fdbEqual, fdbCompare),
		problems:  map[string]int{}}
	e.recomputeGlobals()
}

// Begin starts a replacement of the whole state (the initial list, or a
// resync): everything is forgotten, and the resources that follow are
// only recorded until End computes the state from them all at once.
func (e *Engine) Begin() {
	e.reset(e.env)
	e.bulk = true
}

// End ends what Begin started; the next Flush reports a Full change.
func (e *Engine) End() {
	e.bulk = false
	e.addrs.trim()
	e.recomputeGlobals()
	e.reevalAll()
	e.delta.Full = true
}

// SetEnv changes what the node knows of itself (a new host MTU, ...).
func (e *Engine) SetEnv(env Env) {
	if env == e.env {
		return
	}
	podCIDR := env.UsePodCIDR != e.env.UsePodCIDR
	e.env = env
	if podCIDR {
		// The blocks come from elsewhere now: start again from the resources.
		snap := e.Snapshot()
		e.Begin()
		for _, n := range snap.Nodes {
			e.PutNode(n)
		}
		for _, p := range snap.Pools {
			e.PutPool(p)
		}
		e.felix = snap.Felix
		e.End()
		return
	}
	e.delta.BGP, e.delta.Tunnel = true, true
	if !e.bulk {
		e.recomputeGlobals()
		e.reevalAll()
	}
}

// Bulk says whether a Begin has not been ended yet.
func (e *Engine) Bulk() bool { return e.bulk }

// Env is what the Engine was told of the node.
func (e *Engine) Env() Env { return e.env }

// SetFelix sets the effective FelixConfiguration spec (nil: defaults).
func (e *Engine) SetFelix(f *v3.FelixConfigurationSpec) {
	e.felix = f
	if !e.bulk && e.recomputeGlobals() {
		e.reevalRemote()
	}
}

// PutNode adds or replaces a Node.
func (e *Engine) PutNode(n *v3.Node) {
	old := e.nodes[n.Name]
	e.unindexNode(old)
	e.nodes[n.Name] = n
	e.indexNode(n)
	e.delta.BGP = true
	if n.Name == e.env.Node {
		e.delta.Tunnel = true // its labels choose the pools of its tunnel addresses
	}
	if e.env.UsePodCIDR {
		e.setPodCIDRs(n.Name, PodCIDRBlocks([]*v3.Node{n}))
	}
	e.nodeChanged(n.Name, old == nil || !sameRouting(old, n))
}

// DeleteNode removes a Node.
func (e *Engine) DeleteNode(name string) {
	old, ok := e.nodes[name]
	if !ok {
		return
	}
	e.unindexNode(old)
	delete(e.nodes, name)
	e.delta.BGP = true
	if e.env.UsePodCIDR {
		e.setPodCIDRs(name, nil)
	}
	e.nodeChanged(name, true)
}

func (e *Engine) nodeChanged(name string, routing bool) {
	if e.bulk || !routing {
		return
	}
	if name == e.env.Node {
		e.delta.Tunnel = true
		e.recomputeGlobals()
		e.reevalRemote() // the subnet test changes with this node's address
		return
	}
	for _, c := range e.blocks.byNode[name] {
		e.evalBlock(c)
	}
	// Of the node's endpoints only the borrowed addresses route to it (the
	// others are inside its blocks, routed with them).
	for _, r := range slices.Collect(maps.Keys(e.borrowed.byNode[name])) {
		e.evalAddr(r)
	}
}

// sameRouting says whether two versions of a node route alike.
func sameRouting(a, b *v3.Node) bool {
	ap, _ := nodeAddress(a)
	bp, _ := nodeAddress(b)
	a6, _ := nodeAddress6(a)
	b6, _ := nodeAddress6(b)
	ipip := func(n *v3.Node) string {
		if n.Spec.BGP == nil {
			return ""
		}
		return n.Spec.BGP.IPv4IPIPTunnelAddr
	}
	return ap == bp && a6 == b6 && ipip(a) == ipip(b) && a.Spec.IPv4VXLANTunnelAddr == b.Spec.IPv4VXLANTunnelAddr &&
		a.Spec.VXLANTunnelMACAddr == b.Spec.VXLANTunnelMACAddr && slices.Equal(a.Status.PodCIDRs, b.Status.PodCIDRs)
}

func (e *Engine) indexNode(n *v3.Node) {
	if p, ok := nodeAddress(n); ok {
		e.nodeAddr[p.Addr()] = append(e.nodeAddr[p.Addr()], n.Name)
	}
}

func (e *Engine) unindexNode(n *v3.Node) {
	if n == nil {
		return
	}
	if p, ok := nodeAddress(n); ok {
		unlist(e.nodeAddr, p.Addr(), n.Name)
	}
}

// NodesAt yields the names of the nodes whose BGP IPv4 address is a.
func (e *Engine) NodesAt(a netip.Addr) []string {
	return slices.Sorted(slices.Values(e.nodeAddr[a]))
}

// Node is the node of that name, or nil.
func (e *Engine) Node(name string) *v3.Node { return e.nodes[name] }

// PutPool adds or replaces an IPPool.
func (e *Engine) PutPool(p *v3.IPPool) {
	e.pools[p.Name] = p
	e.poolsChanged()
}

// DeletePool removes an IPPool.
func (e *Engine) DeletePool(name string) {
	if _, ok := e.pools[name]; ok {
		delete(e.pools, name)
		e.poolsChanged()
	}
}

func (e *Engine) poolsChanged() {
	e.delta.BGP, e.delta.Tunnel = true, true
	if !e.bulk {
		e.recomputeGlobals()
		e.reevalRemote() // a pool's modes decide its routes
	}
}

// PutBlock adds or replaces the block of b.CIDR.
func (e *Engine) PutBlock(b Block) {
	if !e.env.UsePodCIDR {
		e.putBlock(b.CIDR.Masked(), b.Host)
	}
}

// DeleteBlock removes the block of cidr.
func (e *Engine) DeleteBlock(cidr netip.Prefix) {
	if !e.env.UsePodCIDR {
		e.deleteBlock(cidr.Masked())
	}
}

func (e *Engine) putBlock(c netip.Prefix, host string) {
	old, had := e.blocks.host[c]
	if had && old == host {
		return
	}
	if e.blocks.put(c, host) {
		e.indexLength(c)
	}
	e.blockChanged(c, old, host)
}

func (e *Engine) deleteBlock(c netip.Prefix) {
	old, had := e.blocks.host[c]
	if !had {
		return
	}
	gone := e.blocks.del(c)
	// The addresses inside are evaluated again before a block length that
	// has gone out of use takes them out of the index.
	e.blockChanged(c, old, "")
	if gone {
		e.unindexLength(c)
	}
}

// blockChanged re-evaluates the block's route and the addresses inside
// it (borrowed or not now).
func (e *Engine) blockChanged(c netip.Prefix, old, host string) {
	self := e.env.Node
	if old == self || host == self {
		e.delta.BGP = true
	}
	if e.bulk {
		return
	}
	e.evalBlock(c)
	for _, r := range e.addrs.at[c] {
		if e.eps[r.key].Node == self {
			e.delta.BGP = true // a local address is borrowed or not now
		}
		e.evalAddr(r)
	}
}

func (e *Engine) setPodCIDRs(name string, blocks []Block) {
	var now []netip.Prefix
	for _, b := range blocks {
		now = append(now, b.CIDR)
	}
	for _, c := range e.podCIDRs[name] {
		if !slices.Contains(now, c) && e.blocks.host[c] == name {
			e.deleteBlock(c)
		}
	}
	for _, c := range now {
		e.putBlock(c, name)
	}
	if len(now) == 0 {
		delete(e.podCIDRs, name)
	} else {
		e.podCIDRs[name] = now
	}
}

// indexLength files every endpoint address under a block length that
// has just come into use (rare: a pool with a new block size).
func (e *Engine) indexLength(c netip.Prefix) {
	for key, ep := range e.eps {
		for i, a := range ep.Addrs {
			if family(a) == family(c.Addr()) {
				e.addrs.add(netip.PrefixFrom(a, c.Bits()).Masked(), addrRef{key, i})
			}
		}
	}
}

func (e *Engine) unindexLength(c netip.Prefix) {
	for key, ep := range e.eps {
		for i, a := range ep.Addrs {
			if family(a) == family(c.Addr()) {
				e.addrs.remove(netip.PrefixFrom(a, c.Bits()).Masked(), addrRef{key, i})
			}
		}
	}
}
