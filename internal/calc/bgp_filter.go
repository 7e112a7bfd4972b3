package calc

import (
	"net/netip"
	"path"
	"slices"

	v3 "github.com/tortienet/tortie/api/v3"
)

// BGPFilterRule is one rule of a session's import or export filter, in
// the speaker's terms: the BGPFilters a BGPPeer names, in order, their
// rules in order; the first rule that matches a route decides; a route no
// rule matches gets Calico's default (imported; exported when this node
// originates it). What the speaker cannot see (the route's interface, the
// session's type) is resolved here.
type BGPFilterRule struct {
	// Prefixes the route's prefix must be within, with a length in
	// [Min, Max]; empty: every prefix.
	Prefixes []BGPPrefixRange
	// Invert matches the routes not within Prefixes (NotEqual, NotIn).
	Invert bool
	// Source is "" (any route), BGPSourceLocal (this node's own) or
	// BGPSourceRemote (learned from peers: Calico's RemotePeers).
	Source string
	// LocalPref, when not 0, matches only routes whose LOCAL_PREF is
	// this: a rule's priority P (a route's priority is its kernel metric,
	// in FelixConfiguration's ...RoutePriority units) is, for a route
	// learned from a peer, LOCAL_PREF 2147483647-P, as Calico's BIRD
	// derives the metric from the local preference (§7.5). This node's
	// own routes, all at the normal priority, are resolved here.
	LocalPref uint32
	Accept    bool
}

// BGPPrefixRange is a prefix and the lengths of the routes within it that
// match.
type BGPPrefixRange struct {
	Prefix   netip.Prefix
	Min, Max int
}

// BGPFilterRule sources.
const (
	BGPSourceLocal  = "local"
	BGPSourceRemote = "remote"
)

// peerFilters resolves each session's filters: the V4 rule lists for an
// IPv4 session, the V6 ones for an IPv6 session (BIRD and BIRD6). A name
// with no BGPFilter is a problem and is skipped; the others still apply.
func (b *bgpBuilder) peerFilters(routes []BGPRoute) {
	if !slices.ContainsFunc(b.bin.Peers, func(bp *v3.BGPPeer) bool { return len(bp.Spec.Filters) > 0 }) {
		return // no session has a filter
	}
	byName := map[string]*v3.BGPFilter{}
	for _, f := range b.bin.Filters {
		byName[f.Name] = f
	}
	ifaces := b.routeInterfaces()
	for ip, p := range b.peers {
		ebgp := p.ASN != p.LocalASN
		for _, name := range p.Filters {
			f := byName[name]
			if f == nil {
				b.problem("BGP peer %s: spec.filters: BGPFilter %q does not exist: not applied", p.Name, name)
				continue
			}
			imports, exports := f.Spec.ImportV4, f.Spec.ExportV4
			if ip.Is6() {
				imports, exports = f.Spec.ImportV6, f.Spec.ExportV6
			}
			for _, r := range imports {
				if rr, ok := b.importRule(r, ebgp, ip.Is6(), b.sessionDevice(p)); ok {
					p.Import = append(p.Import, rr)
				}
			}
			for _, r := range exports {
				p.Export = append(p.Export, b.exportRules(r, ebgp, ip.Is6(), routes, ifaces)...)
			}
		}
		b.peers[ip] = p
	}
}

// fastPath lists the sessions to Calico nodes that filter nothing either
// way: this node imports everything from them, and they export to it
// every block they originate. Only those may have their blocks installed
// from the datastore before BGP announces them.
func (b *bgpBuilder) fastPath() []netip.Addr {
	filtered := false
	for _, bp := range b.bin.Peers {
		filtered = filtered || len(bp.Spec.Filters) > 0
	}
	var out []netip.Addr
	for ip, p := range b.peers {
		if p.Node == "" || len(p.Import) > 0 || (filtered && b.exportsFiltered(p.Node, ip)) {
			continue
		}
		out = append(out, ip)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// exportsFiltered says whether node's session to this node (of the family
// of ip, node's address) has an export filter.
func (b *bgpBuilder) exportsFiltered(node string, ip netip.Addr) bool {
	in := b.in
	in.Node = node
	for _, p := range buildBGP(in, b.bin, false).Peers {
		if p.Address == b.selfAddr(ip) {
			return len(p.Export) > 0
		}
	}
	return false
}

// ruleMatch is a rule's prefix condition: Equal and NotEqual the CIDR
// itself; In and NotIn the CIDR and the routes within it, with lengths in
// prefixLength's [min, max] (by default the CIDR's length to 32, or 128
// for a rule of the V6 lists, v6). A prefixLength with no CIDR bounds the
// length of any route.
func ruleMatch(r v3.BGPFilterRule, v6 bool) ([]BGPPrefixRange, bool, bool) {
	c, err := netip.ParsePrefix(r.CIDR)
	if r.CIDR != "" && (err != nil || c.Addr().Is6() != v6) {
		return nil, false, false // refused at apply; never matches if stored anyway
	}
	if r.CIDR == "" {
		if r.PrefixLength == nil {
			return nil, false, true
		}
		any := netip.IPv4Unspecified()
		if v6 {
			any = netip.IPv6Unspecified()
		}
		c, r.MatchOperator = netip.PrefixFrom(any, 0), "In"
	}
	c = c.Masked()
	lo, hi := c.Bits(), c.Addr().BitLen()
	switch r.MatchOperator {
	case "Equal", "NotEqual":
		hi = lo
	case "In", "NotIn":
		if pl := r.PrefixLength; pl != nil && pl.Min != nil {
			lo = max(lo, int(*pl.Min))
		}
		if pl := r.PrefixLength; pl != nil && pl.Max != nil {
			hi = min(hi, int(*pl.Max))
		}
	default:
		return nil, false, false
	}
	invert := r.MatchOperator == "NotEqual" || r.MatchOperator == "NotIn"
	if lo > hi {
		// no route matches the range: In never matches, NotIn always
		return nil, false, invert
	}
	return []BGPPrefixRange{{Prefix: c, Min: lo, Max: hi}}, invert, true
}

// peerTypeOK says whether a rule's peerType allows the session.
func peerTypeOK(r v3.BGPFilterRule, ebgp bool) bool {
	return r.PeerType == "" || (r.PeerType == "eBGP") == ebgp
}

// importRule: every imported route is learned from a peer (source
// RemotePeers always holds) over the session's device (interface is
// matched against it).
func (b *bgpBuilder) importRule(r v3.BGPFilterRule, ebgp, v6 bool, dev string) (BGPFilterRule, bool) {
	pfx, invert, ok := ruleMatch(r, v6)
	if !ok || !peerTypeOK(r, ebgp) || (r.Interface != "" && !globMatch(r.Interface, dev)) {
		return BGPFilterRule{}, false
	}
	return BGPFilterRule{Prefixes: pfx, Invert: invert, Accept: r.Action == "Accept", LocalPref: localPrefOf(r.Priority)}, true
}

// exportRules: a rule with an interface matches this node's routes out of
// that interface (the borrowed /32s of workloads behind it; blocks and
// service ranges have none), resolved here into the exact prefixes, and
// routes learned from peers when the underlay device matches.
func (b *bgpBuilder) exportRules(r v3.BGPFilterRule, ebgp, v6 bool, routes []BGPRoute, ifaces map[netip.Prefix]string) []BGPFilterRule {
	pfx, invert, ok := ruleMatch(r, v6)
	if !ok || !peerTypeOK(r, ebgp) {
		return nil
	}
	rule := BGPFilterRule{Prefixes: pfx, Invert: invert, Accept: r.Action == "Accept"}
	if r.Source == "RemotePeers" {
		rule.Source = BGPSourceRemote
	}
	// This node's own routes are all at the normal priority: a rule with
	// another priority can only match routes learned from peers.
	ownToo := r.Priority == nil || *r.Priority == b.normalPriority()
	if r.Interface == "" {
		if r.Priority == nil {
			return []BGPFilterRule{rule}
		}
		var out []BGPFilterRule
		if rule.Source == "" && ownToo {
			own := rule
			own.Source = BGPSourceLocal
			out = append(out, own)
		}
		rule.Source, rule.LocalPref = BGPSourceRemote, localPrefOf(r.Priority)
		return append(out, rule)
	}
	var out []BGPFilterRule
	if rule.Source == "" && ownToo {
		local := BGPFilterRule{Source: BGPSourceLocal, Accept: rule.Accept}
		for _, rt := range routes {
			if ifc := ifaces[rt.Prefix]; ifc != "" && rt.Prefix.Addr().Is6() == v6 && globMatch(r.Interface, ifc) && rangesHold(pfx, invert, rt.Prefix) {
				local.Prefixes = append(local.Prefixes, BGPPrefixRange{Prefix: rt.Prefix, Min: rt.Prefix.Bits(), Max: rt.Prefix.Bits()})
			}
		}
		if len(local.Prefixes) > 0 {
			out = append(out, local)
		}
	}
	if globMatch(r.Interface, b.in.ParentDevice) {
		rule.Source, rule.LocalPref = BGPSourceRemote, localPrefOf(r.Priority)
		out = append(out, rule)
	}
	return out
}

// normalPriority is the priority of this node's own routes: BGPConfiguration
// default's ipv4NormalRoutePriority, else 1024.
func (b *bgpBuilder) normalPriority() int {
	if p := b.global.IPv4NormalRoutePriority; p != nil && *p >= 1 && *p <= maxRoutePriority {
		return *p
	}
	return DefaultRoutePriority
}

// localPrefOf is the LOCAL_PREF a route of priority p carries (0: any).
func localPrefOf(p *int) uint32 {
	if p == nil || *p < 1 || *p > maxRoutePriority {
		return 0 // refused at apply; any if stored anyway
	}
	return uint32(maxLocalPref - *p)
}

// rangesHold evaluates a rule's prefix condition on one route.
func rangesHold(rs []BGPPrefixRange, invert bool, p netip.Prefix) bool {
	if len(rs) == 0 {
		return true
	}
	in := false
	for _, r := range rs {
		in = in || (r.Prefix.Contains(p.Addr()) && p.Bits() >= r.Min && p.Bits() <= r.Max)
	}
	return in != invert
}

// routeInterfaces is the interface of each originated route that has one:
// a borrowed /32 (/128) is out of its workload's interface.
func (b *bgpBuilder) routeInterfaces() map[netip.Prefix]string {
	out := map[netip.Prefix]string{}
	for _, w := range b.in.Endpoints {
		if w.Spec.Node != b.in.Node || w.Spec.InterfaceName == "" {
			continue
		}
		for _, s := range w.Spec.IPNetworks {
			if p, err := netip.ParsePrefix(s); err == nil {
				out[netip.PrefixFrom(p.Addr(), p.Addr().BitLen())] = w.Spec.InterfaceName
			}
		}
	}
	return out
}

// globMatch is BIRD's string match: * and ? wildcards.
func globMatch(pattern, s string) bool {
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}
