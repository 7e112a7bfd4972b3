package calc

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/conventions"
)

// encap is how traffic to one peer in one pool travels.
type encap int

const (
	encapNone encap = iota
	encapIPIP
	encapVXLAN
)

// pool is an IPPool with its parsed CIDR.
type pool struct {
	*v3.IPPool
	cidr netip.Prefix
}

// builder accumulates the desired state.
type builder struct {
	in        Input
	self      *v3.Node
	selfNet   netip.Prefix // this node's address with its subnet
	nodes     map[string]*v3.Node
	pools     []pool
	blocks    []Block
	d         Desired
	routes    map[netip.Prefix]Route
	neighbors map[string]Neighbor
	fdb       map[string]FDBEntry
	problems  map[string]bool
}

// Compute is the node's desired dataplane state for a snapshot. It is
// the oracle of the incremental Engine: both must always agree.
func Compute(in Input) Desired {
	b := newBuilder(in)
	b.blocks = in.Blocks
	b.nat()
	if in.Backend == "none" {
		b.d.PodMTU = b.hostMTU()
		return b.finish()
	}
	b.devices()
	b.blockRoutes()
	b.endpointRoutes()
	return b.finish()
}

// newBuilder indexes the nodes and pools of in.
func newBuilder(in Input) *builder {
	b := &builder{in: in, nodes: map[string]*v3.Node{}, routes: map[netip.Prefix]Route{},
		neighbors: map[string]Neighbor{}, fdb: map[string]FDBEntry{}, problems: map[string]bool{}}
	for _, n := range in.Nodes {
		b.nodes[n.Name] = n
	}
	b.self = b.nodes[in.Node]
	if b.self != nil {
		b.selfNet, _ = nodeAddress(b.self)
	}
	for _, p := range in.Pools {
		if c, err := netip.ParsePrefix(p.Spec.CIDR); err == nil {
			b.pools = append(b.pools, pool{p, c.Masked()})
		}
	}
	return b
}

func (b *builder) problem(format string, args ...any) {
	b.problems[fmt.Sprintf(format, args...)] = true
}

func (b *builder) hostMTU() int {
	if b.in.HostMTU > 0 {
		return b.in.HostMTU
	}
	return DefaultHostMTU
}

func (b *builder) felix() v3.FelixConfigurationSpec {
	if b.in.Felix == nil {
		return v3.FelixConfigurationSpec{}
	}
	return *b.in.Felix
}

// nodeAddress is the node's IPv4 address with its subnet (bgp.ipv4Address).
func nodeAddress(n *v3.Node) (netip.Prefix, bool) {
	if n == nil || n.Spec.BGP == nil {
		return netip.Prefix{}, false
	}
	return addressField(n.Spec.BGP.IPv4Address)
}

// nodeAddress6 is the node's IPv6 address with its subnet
// (bgp.ipv6Address).
func nodeAddress6(n *v3.Node) (netip.Prefix, bool) {
	if n == nil || n.Spec.BGP == nil {
		return netip.Prefix{}, false
	}
	p, ok := addressField(n.Spec.BGP.IPv6Address)
	return p, ok && p.Addr().Is6()
}

// nodeAddressOf is the node's address of a's family.
func nodeAddressOf(n *v3.Node, a netip.Addr) (netip.Prefix, bool) {
	if a.Is6() {
		return nodeAddress6(n)
	}
	return nodeAddress(n)
}

// addressField parses "IP/len" or a bare IP (a host prefix).
func addressField(s string) (netip.Prefix, bool) {
	if s == "" {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return p, true
}

// uses: does any pool (any family, enabled or not, selecting this node or
// not) use the encapsulation? Any such pool may have blocks on other nodes
// that this node routes to through the device (see TunnelAddressPools).
func (b *builder) uses(get func(v3.IPPoolSpec) v3.EncapMode) bool {
	for _, p := range b.pools {
		if encapsulates(get(p.Spec)) {
			return true
		}
	}
	return false
}

func ipipMode(s v3.IPPoolSpec) v3.EncapMode  { return s.IPIPMode }
func vxlanMode(s v3.IPPoolSpec) v3.EncapMode { return s.VXLANMode }

// devices decides the tunnel devices and the pod MTU.
func (b *builder) devices() {
	f := b.felix()
	host := b.hostMTU()
	mtus := []int{}
	ipip := b.uses(ipipMode)
	if f.IPIPEnabled != nil {
		ipip = *f.IPIPEnabled
	}
	if ipip && b.in.Backend != "vxlan" {
		if !b.in.IPIPSupported {
			b.problem("IP-in-IP is needed by the pools but this kernel has no ipip support (modprobe ipip failed): remote blocks of IPIP pools are not routed")
		} else {
			spec := &IPIPDeviceSpec{MTU: orDefault(f.IPIPMTU, host-IPIPOverhead)}
			if b.self != nil && b.self.Spec.BGP != nil {
				spec.Addr, _ = netip.ParseAddr(b.self.Spec.BGP.IPv4IPIPTunnelAddr)
			}
			b.d.IPIP = spec
			mtus = append(mtus, spec.MTU)
		}
	}
	vxlan := b.uses(vxlanMode)
	if f.VXLANEnabled != nil {
		vxlan = *f.VXLANEnabled
	}
	if vxlan {
		spec := &VXLANDeviceSpec{
			VNI:    orDefault(f.VXLANVNI, DefaultVXLANVNI),
			Port:   orDefault(f.VXLANPort, DefaultVXLANPort),
			MTU:    orDefault(f.VXLANMTU, host-VXLANOverhead),
			Parent: b.in.ParentDevice,
		}
		spec.LocalIP = b.selfNet.Addr()
		if b.self != nil {
			spec.Addr, _ = netip.ParseAddr(b.self.Spec.IPv4VXLANTunnelAddr)
			spec.MAC = VTEPMAC(b.self)
		}
		b.d.VXLAN = spec
		mtus = append(mtus, spec.MTU)
	}
	b.d.PodMTU = host
	if len(mtus) > 0 {
		b.d.PodMTU = slices.Min(mtus)
	}
}

func orDefault(p *int, def int) int {
	if p != nil && *p > 0 {
		return *p
	}
	return def
}

// VTEPMAC is a node's VXLAN MAC: vxlanTunnelMACAddr, or Calico's derived
// one (0x66, then the first five bytes of SHA-1 of the node name).
func VTEPMAC(n *v3.Node) net.HardwareAddr {
	if m, err := net.ParseMAC(n.Spec.VXLANTunnelMACAddr); err == nil {
		return m
	}
	sum := sha1.Sum([]byte(n.Name))
	return net.HardwareAddr{0x66, sum[0], sum[1], sum[2], sum[3], sum[4]}
}

// poolOf is the pool holding an address.
func (b *builder) poolOf(a netip.Addr) (pool, bool) {
	for _, p := range b.pools {
		if p.cidr.Contains(a) {
			return p, true
		}
	}
	return pool{}, false
}

// blockRoutes: a blackhole for each local block, a route to its node for
// each remote one.
func (b *builder) blockRoutes() {
	for _, blk := range b.blocks {
		switch blk.Host {
		case "":
		case b.in.Node:
			b.routes[blk.CIDR] = Route{Dst: blk.CIDR, Type: Blackhole}
		default:
			b.routeTo(blk.CIDR, blk.Host)
		}
	}
}

// endpointRoutes: each local workload's /32 (/128) on its interface, and a
// /32 (/128) to the hosting node for each remote workload whose address is
// borrowed from a block affine to another node.
func (b *builder) endpointRoutes() {
	for _, w := range b.in.Endpoints {
		for _, n := range w.Spec.IPNetworks {
			p, err := netip.ParsePrefix(n)
			if err != nil {
				continue
			}
			a := p.Addr()
			host := netip.PrefixFrom(a, a.BitLen())
			if w.Spec.Node == b.in.Node {
				if w.Spec.InterfaceName == "" {
					continue
				}
				b.routes[host] = Route{Dst: host, Dev: w.Spec.InterfaceName, Workload: true}
				// IPv6 neighbours are the CNI plugin's (linklayer keeps IPv4 ones)
				if mac, err := net.ParseMAC(w.Spec.MAC); err == nil && a.Is4() {
					b.neighbors[w.Spec.InterfaceName+"/"+a.String()] = Neighbor{Dev: w.Spec.InterfaceName, IP: a, MAC: mac}
				}
				continue
			}
			if owner := b.blockHost(a); owner != w.Spec.Node {
				b.routeTo(host, w.Spec.Node)
			}
		}
	}
}

func (b *builder) blockHost(a netip.Addr) string { return hostOfBlock(b.blocks, a) }

// routeTo adds the route for dst to node peer, encapsulated as dst's pool
// says for that peer.
func (b *builder) routeTo(dst netip.Prefix, peerName string) {
	peer := b.nodes[peerName]
	if peer == nil {
		return // the node is gone: nothing to route to
	}
	p, ok := b.poolOf(dst.Addr())
	if !ok {
		return
	}
	if dst.Addr().Is6() {
		b.routeTo6(dst, peer, p)
		return
	}
	peerNet, ok := nodeAddress(peer)
	if !ok {
		b.problem("node %s has no IPv4 address: its blocks are not routed", peerName)
		return
	}
	peerIP := peerNet.Addr()
	same := b.selfNet.IsValid() && b.selfNet.Contains(peerIP)
	switch encapFor(p.Spec, same) {
	case encapVXLAN:
		if b.d.VXLAN == nil {
			return
		}
		vtep, err := netip.ParseAddr(peer.Spec.IPv4VXLANTunnelAddr)
		if err != nil {
			b.problem("node %s has no VXLAN tunnel address yet: its blocks are not routed", peerName)
			return
		}
		mac := VTEPMAC(peer)
		b.routes[dst] = Route{Dst: dst, Dev: conventions.VXLANDevice, Gw: vtep, OnLink: true}
		b.neighbors[conventions.VXLANDevice+"/"+vtep.String()] = Neighbor{Dev: conventions.VXLANDevice, IP: vtep, MAC: mac}
		b.fdb[mac.String()] = FDBEntry{Dev: conventions.VXLANDevice, MAC: mac, Dst: peerIP}
	case encapIPIP:
		if b.d.IPIP == nil {
			return // reported by devices()
		}
		b.routes[dst] = Route{Dst: dst, Dev: conventions.IPIPDevice, Gw: peerIP, OnLink: true}
	default:
		if !b.in.RouteUnencapsulated {
			return // BGP programs these
		}
		if !same {
			b.problem("node %s is in another subnet (%s) and pool %s does not encapsulate: its blocks need BGP through a router", peerName, peerNet, p.Name)
			return
		}
		b.routes[dst] = Route{Dst: dst, Dev: b.in.ParentDevice, Gw: peerIP}
	}
}

// routeTo6 routes an IPv6 destination to a peer node through the
// underlay, to the peer's IPv6 address (IPv6 pools have no IP-in-IP, and
// there is no IPv6 VXLAN device yet).
func (b *builder) routeTo6(dst netip.Prefix, peer *v3.Node, p pool) {
	if encapsulatesTo(p.Spec.VXLANMode, true) || encapsulatesTo(p.Spec.VXLANMode, false) {
		b.problem("IP pool %s: VXLAN for IPv6 pools is not supported: its remote blocks are not routed", p.Name)
		return
	}
	if !b.in.RouteUnencapsulated {
		return // BGP programs these
	}
	peerNet, ok := nodeAddress6(peer)
	if !ok {
		b.problem("node %s has no IPv6 address: its IPv6 blocks are not routed", peer.Name)
		return
	}
	selfNet, _ := nodeAddress6(b.self)
	if !selfNet.IsValid() || !selfNet.Contains(peerNet.Addr()) {
		b.problem("node %s is in another IPv6 subnet (%s): its IPv6 blocks need BGP through a router", peer.Name, peerNet)
		return
	}
	b.routes[dst] = Route{Dst: dst, Dev: b.in.ParentDevice, Gw: peerNet.Addr()}
}

// encapFor applies a pool's modes to a peer in the same subnet or not.
func encapFor(s v3.IPPoolSpec, sameSubnet bool) encap {
	switch {
	case encapsulatesTo(s.VXLANMode, sameSubnet):
		return encapVXLAN
	case encapsulatesTo(s.IPIPMode, sameSubnet):
		return encapIPIP
	}
	return encapNone
}

// nat collects the pool sets of natOutgoing.
func (b *builder) nat() {
	for _, p := range b.pools {
		if len(p.Spec.AllowedUses) == 1 && p.Spec.AllowedUses[0] == v3.AllowedUseLoadBalancer {
			continue
		}
		b.d.NAT.AllPools = append(b.d.NAT.AllPools, p.cidr)
		if p.Spec.NATOutgoing {
			b.d.NAT.MasqPools = append(b.d.NAT.MasqPools, p.cidr)
		}
	}
	sortPrefixes(b.d.NAT.AllPools)
	sortPrefixes(b.d.NAT.MasqPools)
}

// finish turns the maps into sorted slices.
func (b *builder) finish() Desired {
	for _, r := range b.routes {
		b.d.Routes = append(b.d.Routes, r)
	}
	sort.Slice(b.d.Routes, func(i, j int) bool { return prefixLess(b.d.Routes[i].Dst, b.d.Routes[j].Dst) })
	for _, n := range b.neighbors {
		b.d.Neighbors = append(b.d.Neighbors, n)
	}
	sort.Slice(b.d.Neighbors, func(i, j int) bool {
		x, y := b.d.Neighbors[i], b.d.Neighbors[j]
		return x.Dev < y.Dev || (x.Dev == y.Dev && x.IP.Less(y.IP))
	})
	for _, f := range b.fdb {
		b.d.FDB = append(b.d.FDB, f)
	}
	sort.Slice(b.d.FDB, func(i, j int) bool { return fdbCompare(b.d.FDB[i], b.d.FDB[j]) < 0 })
	for p := range b.problems {
		b.d.Problems = append(b.d.Problems, p)
	}
	sort.Strings(b.d.Problems)
	return b.d
}

// fdbCompare orders FDB entries by destination, then MAC (two nodes may
// share an address while one of them is being re-addressed).
func fdbCompare(x, y FDBEntry) int {
	if c := x.Dst.Compare(y.Dst); c != 0 {
		return c
	}
	return bytes.Compare(x.MAC, y.MAC)
}

func sortPrefixes(ps []netip.Prefix) {
	sort.Slice(ps, func(i, j int) bool { return prefixLess(ps[i], ps[j]) })
}

func prefixLess(a, b netip.Prefix) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Bits() < b.Bits()
}
