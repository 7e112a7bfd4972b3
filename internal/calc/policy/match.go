package policy

import (
	"net/netip"
	"slices"
)

// matches reports whether rule r matches packet p.
func (m *Model) matches(r Rule, p Packet) bool {
	switch {
	case r.IPVersion == 4 && !p.Src.Is4(), r.IPVersion == 6 && !p.Src.Is6():
		return false
	case r.Protocol != 0 && r.Protocol != p.Protocol:
		return false
	case r.NotProtocol != 0 && r.NotProtocol == p.Protocol:
		return false
	case r.ICMP != nil && !icmpMatches(r.ICMP, p):
		return false
	case r.NotICMP != nil && icmpMatches(r.NotICMP, p):
		return false
	}
	return m.sideMatches(r.Src, p.Src, p.SrcPort, p) && m.sideMatches(r.Dst, p.Dst, p.DstPort, p)
}

func icmpMatches(m *ICMPMatch, p Packet) bool {
	if p.Protocol != ProtoICMP && p.Protocol != ProtoICMPv6 {
		return false
	}
	return m.Type == p.ICMPType && (m.Code < 0 || m.Code == p.ICMPCode)
}

func (m *Model) sideMatches(s Side, a netip.Addr, port uint16, p Packet) bool {
	switch {
	case len(s.Nets) > 0 && !inAny(s.Nets, a):
		return false
	case len(s.NotNets) > 0 && inAny(s.NotNets, a):
		return false
	case s.Sel != nil && !m.addrSelected(s.Sel, a):
		return false
	case s.NotSel != nil && m.addrSelected(s.NotSel, a):
		return false
	case len(s.Ports) > 0 && !m.portIn(s.Ports, s.Sel, a, port, p):
		return false
	case len(s.NotPorts) > 0 && m.portIn(s.NotPorts, s.Sel, a, port, p):
		return false
	}
	return true
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) })
}

// addrSelected reports whether a belongs to an entity sel matches: an
// endpoint with that address or a network set holding it.
func (m *Model) addrSelected(sel *EntitySelector, a netip.Addr) bool {
	for _, e := range m.byAddr[a] {
		if sel.Matches(e) {
			return true
		}
	}
	for _, e := range m.sets {
		if inAny(e.Nets, a) && sel.Matches(e) {
			return true
		}
	}
	return false
}

// portIn reports whether the packet's port on this side is one of ps. A
// named port is the port of that name of an endpoint holding the address
// (one the side's selector matches, when it has one), with the packet's
// protocol.
func (m *Model) portIn(ps []PortMatch, sel *EntitySelector, a netip.Addr, port uint16, p Packet) bool {
	if !p.hasPorts() {
		return false
	}
	for _, pm := range ps {
		if pm.Name == "" {
			if port >= pm.Min && port <= pm.Max {
				return true
			}
			continue
		}
		for _, e := range m.byAddr[a] {
			if sel != nil && !sel.Matches(e) {
				continue
			}
			for _, np := range e.Ports {
				if np.Name == pm.Name && np.Protocol == p.Protocol && np.Port == port {
					return true
				}
			}
		}
	}
	return false
}
