package policy

import v3 "github.com/tortienet/tortie/api/v3"

// Open reports whether ep's policy allows every packet in both directions:
// no policy of any tier selects it, and its profiles, read in order, allow
// any packet with their first rule that can match IPv6 (the common
// Kubernetes case: a namespace profile whose rules allow everything, no
// NetworkPolicy). A dataplane that polices a family only coarsely (IPv6,
// see nft.Guard6) lets open endpoints through and drops the rest.
func (p *Program) Open(ep ProgramEndpoint) bool {
	return p.openChain(ep.In) && p.openChain(ep.Out)
}

// openChain reports whether the Normal chain id accepts every IPv6 packet.
// It errs towards false: a rule it cannot read as allowing everything
// (a deny, a pass, a log, any match) ends the walk closed.
func (p *Program) openChain(id string) bool {
	c, ok := p.Chains[id]
	if !ok || c.Stage != Normal || len(c.Tiers) > 0 {
		return false
	}
	for _, pid := range c.Profiles {
		for _, r := range p.Rules[pid].Rules {
			if r.IPVersion == 4 {
				continue // never matches IPv6
			}
			return allowsAll(r)
		}
	}
	return false // no profile decided: the chain drops
}

// allowsAll reports whether r is an Allow without any match.
func allowsAll(r Rule) bool {
	return r.Action == v3.Allow && r.Protocol == 0 && r.NotProtocol == 0 && r.ICMP == nil && r.NotICMP == nil &&
		emptySide(r.Src) && emptySide(r.Dst)
}

func emptySide(s Side) bool {
	return len(s.Nets) == 0 && len(s.NotNets) == 0 && s.Sel == nil && s.NotSel == nil && len(s.Ports) == 0 && len(s.NotPorts) == 0
}
