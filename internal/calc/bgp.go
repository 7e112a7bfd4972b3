package calc

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
)

// bgpBuilder computes BGPDesired (calico-reference.md §7.1-§7.4).
type bgpBuilder struct {
	in       Input
	bin      BGPInput
	self     *v3.Node
	selfIP   netip.Addr
	selfIP6  netip.Addr              // invalid: this node has no IPv6 address, no IPv6 sessions
	global   v3.BGPConfigurationSpec // "default"
	local    v3.BGPConfigurationSpec // "node.<self>"
	configs  map[string]*v3.BGPConfiguration
	nodes    []*v3.Node
	peers    map[netip.Addr]BGPPeer
	problems map[string]bool
}

// BGP is the node's desired BGP state for a snapshot.
func BGP(in Input, bin BGPInput) BGPDesired { return buildBGP(in, bin, true) }

// buildBGP computes BGPDesired; FastPath only with fast (it computes the
// other nodes' sessions).
func buildBGP(in Input, bin BGPInput, fast bool) BGPDesired {
	b := &bgpBuilder{in: in, bin: bin, configs: map[string]*v3.BGPConfiguration{},
		peers: map[netip.Addr]BGPPeer{}, problems: map[string]bool{}}
	for _, c := range bin.Configs {
		b.configs[c.Name] = c
	}
	if c := b.configs[v3.SingletonName]; c != nil {
		b.global = c.Spec
	}
	if c := b.configs["node."+in.Node]; c != nil {
		b.local = c.Spec
	}
	b.nodes = slices.Clone(in.Nodes)
	sort.Slice(b.nodes, func(i, j int) bool { return b.nodes[i].Name < b.nodes[j].Name })
	for _, n := range b.nodes {
		if n.Name == in.Node {
			b.self = n
		}
	}
	var d BGPDesired
	if in.Backend != "" && in.Backend != "bird" {
		return d
	}
	if p, ok := nodeAddress(b.self); ok {
		b.selfIP = p.Addr()
	}
	if !b.selfIP.IsValid() {
		return d
	}
	if p, ok := nodeAddress6(b.self); ok {
		b.selfIP6 = p.Addr()
	}
	d = BGPDesired{Enabled: true, ASN: b.asOf(b.self), RouterID: b.selfIP, IPv6Address: b.selfIP6, ListenPort: b.listenPort(in.Node)}
	if b.local.BindMode == "NodeIP" || (b.local.BindMode == "" && b.global.BindMode == "NodeIP") {
		d.ListenAddresses = []netip.Addr{b.selfIP}
		if b.selfIP6.IsValid() {
			d.ListenAddresses = append(d.ListenAddresses, b.selfIP6)
		}
	}
	b.explicitPeers()
	b.localWorkloadPeers()
	b.meshPeers()
	b.reflect()
	d.Routes = b.routes()
	b.peerFilters(d.Routes)
	if fast {
		d.FastPath = b.fastPath()
	}
	addrs := make([]netip.Addr, 0, len(b.peers))
	for a := range b.peers {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare) // sorting the addresses, not the large peers
	d.Peers = make([]BGPPeer, 0, len(addrs))
	for _, a := range addrs {
		d.Peers = append(d.Peers, b.peers[a])
	}
	for p := range b.problems {
		d.Problems = append(d.Problems, p)
	}
	sort.Strings(d.Problems)
	return d
}

func (b *bgpBuilder) problem(format string, args ...any) {
	b.problems[fmt.Sprintf(format, args...)] = true
}

// asOf is a node's AS: its own, else the global one, else 64512.
func (b *bgpBuilder) asOf(n *v3.Node) uint32 {
	if n != nil && n.Spec.BGP != nil && n.Spec.BGP.ASNumber != nil {
		return uint32(*n.Spec.BGP.ASNumber)
	}
	if b.global.ASNumber != nil {
		return uint32(*b.global.ASNumber)
	}
	return DefaultASN
}

// listenPort is a node's BGP port: node.<name>'s, else the global one,
// else 179.
func (b *bgpBuilder) listenPort(node string) int {
	if c := b.configs["node."+node]; c != nil && c.Spec.ListenPort > 0 {
		return c.Spec.ListenPort
	}
	if b.global.ListenPort > 0 {
		return b.global.ListenPort
	}
	return DefaultListenPort
}

func clusterID(n *v3.Node) string {
	if n == nil || n.Spec.BGP == nil {
		return ""
	}
	return n.Spec.BGP.RouteReflectorClusterID
}

// nodeIPs are a node's BGP addresses: IPv4, then IPv6.
func nodeIPs(n *v3.Node) []netip.Addr {
	var out []netip.Addr
	if p, ok := nodeAddress(n); ok && p.Addr().Is4() {
		out = append(out, p.Addr())
	}
	if p, ok := nodeAddress6(n); ok {
		out = append(out, p.Addr())
	}
	return out
}

// sessionIPs are the addresses of node n this node holds sessions to: one
// per family both have (bird for IPv4, bird6 for IPv6).
func (b *bgpBuilder) sessionIPs(n *v3.Node) []netip.Addr {
	ips := nodeIPs(n)
	return slices.DeleteFunc(ips, func(a netip.Addr) bool { return !b.selfAddr(a).IsValid() })
}

// selfAddr is this node's address of a's family (invalid: none).
func (b *bgpBuilder) selfAddr(a netip.Addr) netip.Addr {
	if a.Is6() {
		return b.selfIP6
	}
	return b.selfIP
}

// isSelf says whether a is one of this node's addresses.
func (b *bgpBuilder) isSelf(a netip.Addr) bool {
	return a.IsValid() && (a == b.selfIP || a == b.selfIP6)
}

// meshPeers: with the mesh on and this node not a route reflector, every
// other node that is not a route reflector, at each address of a family
// this node has too (§7.2). An explicit peer at the same address wins.
func (b *bgpBuilder) meshPeers() {
	if b.global.NodeToNodeMeshEnabled != nil && !*b.global.NodeToNodeMeshEnabled {
		return
	}
	if clusterID(b.self) != "" {
		return
	}
	for _, n := range b.nodes {
		if n == b.self || clusterID(n) != "" {
			continue
		}
		for _, ip := range b.sessionIPs(n) {
			if _, taken := b.peers[ip]; taken || b.isSelf(ip) {
				continue
			}
			p := b.nodePeer("Mesh_", PeerTypeMesh, n, ip)
			if pw := b.global.NodeMeshPassword; pw != nil {
				p.Password = pw.SecretKeyRef
			}
			p.RestartTime = durationOf(b.global.NodeMeshMaxRestartTime)
			b.peers[ip] = p
		}
	}
}

// nodePeer is a session to another Calico node: its AS and port, and
// Calico's lexical rule for which side waits.
func (b *bgpBuilder) nodePeer(prefix, typ string, n *v3.Node, ip netip.Addr) BGPPeer {
	p := BGPPeer{Type: typ, Address: ip, ASN: b.asOf(n), LocalASN: b.asOf(b.self),
		SourceAddress: b.selfAddr(ip), Passive: ip.String() > b.selfAddr(ip).String(), Node: n.Name}
	if port := b.listenPort(n.Name); port != DefaultListenPort {
		p.Port = uint16(port)
	}
	p.Name = peerName(prefix, ip, p.Port)
	return p
}

var nameReplacer = strings.NewReplacer(".", "_", ":", "_")

// peerName is BIRD's protocol name for a peer (§7.1).
func peerName(prefix string, ip netip.Addr, port uint16) string {
	s := prefix + nameReplacer.Replace(ip.String())
	if port != 0 {
		s += "_port_" + strconv.Itoa(int(port))
	}
	return s
}

func durationOf(d *v3.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

// reflect makes iBGP peers route-reflector clients when this node is a
// route reflector, except reflectors of the same cluster (§7.4).
func (b *bgpBuilder) reflect() {
	id := clusterID(b.self)
	if id == "" {
		return
	}
	for ip, p := range b.peers {
		if p.ASN != p.LocalASN {
			continue
		}
		if p.Node != "" && clusterID(b.nodeByName(p.Node)) == id {
			continue
		}
		p.RRClient, p.RRClusterID = true, id
		b.peers[ip] = p
	}
}

func (b *bgpBuilder) nodeByName(name string) *v3.Node {
	for _, n := range b.nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}
