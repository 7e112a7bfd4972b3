package calc

import (
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/selector"
)

// explicitPeers applies the BGPPeers (§7.3). Global peers go first, so
// that a node-scoped peer at the same address is dropped, as confd drops
// it; the first of several at one address wins, in name order.
func (b *bgpBuilder) explicitPeers() {
	peers := slices.Clone(b.bin.Peers)
	slices.SortFunc(peers, func(x, y *v3.BGPPeer) int { return strings.Compare(x.Name, y.Name) })
	for _, globalPass := range []bool{true, false} {
		for _, bp := range peers {
			global := bp.Spec.Node == "" && bp.Spec.NodeSelector == ""
			if global != globalPass || bp.Spec.LocalWorkloadSelector != "" {
				continue
			}
			if b.selects(bp, &bp.Spec, false) {
				b.forward(bp, global)
			}
			if bp.Spec.ReversePeering != v3.ReversePeeringManual && b.selects(bp, &bp.Spec, true) {
				b.reverse(bp)
			}
		}
	}
}

// selects says whether this node is on the local side of bp (peerSide
// false: node, nodeSelector, or every node for a global peer) or on its
// remote side (peerSide true: picked by peerSelector or peerIP).
func (b *bgpBuilder) selects(bp *v3.BGPPeer, s *v3.BGPPeerSpec, peerSide bool) bool {
	if peerSide {
		if s.PeerSelector != "" {
			return b.match(bp, "peerSelector", s.PeerSelector, b.self)
		}
		ip, _, ok := parsePeerIP(s.PeerIP)
		return ok && b.isSelf(ip)
	}
	return b.localSide(bp, b.self)
}

// localSide says whether node n is on bp's local side.
func (b *bgpBuilder) localSide(bp *v3.BGPPeer, n *v3.Node) bool {
	switch {
	case bp.Spec.Node != "":
		return bp.Spec.Node == n.Name
	case bp.Spec.NodeSelector != "":
		return b.match(bp, "nodeSelector", bp.Spec.NodeSelector, n)
	}
	return true
}

func (b *bgpBuilder) match(bp *v3.BGPPeer, field, sel string, n *v3.Node) bool {
	s, err := selector.Parse(sel)
	if err != nil {
		b.problem("BGPPeer %s: spec.%s %q: %v", bp.Name, field, sel, err)
		return false
	}
	return n != nil && s.Evaluate(n.Labels)
}

// forward adds the sessions bp gives this node: to peerIP, or to every
// node peerSelector picks.
func (b *bgpBuilder) forward(bp *v3.BGPPeer, global bool) {
	prefix, typ := "Node_", PeerTypeNode
	if global {
		prefix, typ = "Global_", PeerTypeGlobal
	}
	if bp.Spec.PeerIP != "" {
		ip, port, ok := parsePeerIP(bp.Spec.PeerIP)
		self := b.selfAddr(ip)
		if !ok || !self.IsValid() || ip == self {
			return // no address of the peer's family here (no bird6); a peer at our own address is skipped
		}
		p := BGPPeer{Type: typ, Address: ip, Port: port, ASN: uint32(bp.Spec.ASNumber),
			LocalASN: b.asOf(b.self), SourceAddress: self, Name: peerName(prefix, ip, port)}
		if n := b.nodeAt(ip); n != nil {
			p.Node, p.Passive = n.Name, ip.String() > self.String()
		}
		b.add(b.withSpec(p, &bp.Spec))
		return
	}
	for _, n := range b.nodes {
		if n == b.self || !b.match(bp, "peerSelector", bp.Spec.PeerSelector, n) {
			continue
		}
		for _, ip := range b.sessionIPs(n) {
			b.add(b.withSpec(b.nodePeer(prefix, typ, n, ip), &bp.Spec))
		}
	}
}

// reverse adds, on a node bp's peer side picks, the sessions back to every
// node on bp's local side (reversePeering Auto).
func (b *bgpBuilder) reverse(bp *v3.BGPPeer) {
	for _, n := range b.nodes {
		if n == b.self || !b.localSide(bp, n) {
			continue
		}
		for _, ip := range b.sessionIPs(n) {
			p := b.withSpec(b.nodePeer("Node_", PeerTypeNode, n, ip), &bp.Spec)
			p.LocalASN = b.asOf(b.self)
			b.add(p)
		}
	}
}

func (b *bgpBuilder) nodeAt(ip netip.Addr) *v3.Node {
	for _, n := range b.nodes {
		if slices.Contains(nodeIPs(n), ip) {
			return n
		}
	}
	return nil
}

// add keeps the first session at an address.
func (b *bgpBuilder) add(p BGPPeer) {
	if _, taken := b.peers[p.Address]; !taken && !b.isSelf(p.Address) {
		b.peers[p.Address] = p
	}
}

// withSpec applies a BGPPeer's per-session settings.
func (b *bgpBuilder) withSpec(p BGPPeer, s *v3.BGPPeerSpec) BGPPeer {
	if s.LocalASNumber != nil {
		p.LocalASN = uint32(*s.LocalASNumber)
	}
	if s.Password != nil {
		p.Password = s.Password.SecretKeyRef
	}
	p.RestartTime = durationOf(s.MaxRestartTime)
	p.KeepaliveTime = durationOf(s.KeepaliveTime)
	if s.TTLSecurity != nil {
		p.TTLSecurity = *s.TTLSecurity
	}
	if s.SourceAddress == v3.SourceAddressNone {
		p.SourceAddress = netip.Addr{}
	}
	p.NextHopKeep = s.NextHopMode == v3.NextHopModeKeep || (s.NextHopMode == "" && s.KeepOriginalNextHop)
	p.NextHopSelf = s.NextHopMode == v3.NextHopModeSelf
	p.Filters = slices.Clone(s.Filters)
	return p
}

// parsePeerIP parses "IP", "IPv4:port" or "[IPv6]:port".
func parsePeerIP(s string) (netip.Addr, uint16, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, 0, true
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return ap.Addr(), ap.Port(), true
}
