package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
)

// Program is what one node must enforce, in terms a dataplane renders:
// its endpoints with the chain each direction dispatches to, the chains
// (tiers of policies, then profiles), the policies' and profiles' rules,
// and the address sets the rules' selectors and named ports stand for.
// Endpoints with the same policy in a direction share one chain, so the
// dataplane holds per endpoint only its dispatch entries.
type Program struct {
	Endpoints []ProgramEndpoint
	// HostEndpoints are this node's host endpoints on named interfaces:
	// their In chain applies to traffic to the host through the interface,
	// Out to traffic from the host out of it, and the chains of their
	// other stages as ProgramEndpoint says.
	HostEndpoints []ProgramEndpoint
	// AllInterfaces is this node's host endpoint with interfaceName "*"
	// (nil: none): it covers every interface that has no host endpoint of
	// its own, except workloads' and the loopback.
	AllInterfaces *ProgramEndpoint
	// EndpointToHost is what happens to traffic from a workload to its
	// own host once the workload's egress policy allowed it: "Drop"
	// (Calico's default), "Accept" or "Return" (host endpoint policy
	// decides). FelixConfiguration defaultEndpointToHostAction.
	EndpointToHost string
	// Failsafes are the ports host endpoint policy never closes (Compile
	// sets Calico's defaults; FailsafesFrom reads FelixConfiguration's).
	Failsafes Failsafes
	// Chains are the endpoint chains by ID.
	Chains map[string]EndpointChain
	// Policies and Profiles are the rule lists by ID ("pol-" or "prof-"
	// and a digest of name and direction).
	Rules map[string]RuleList
	// Sets are the address sets of selectors (by EntitySelector.Key
	// digest) with their members.
	Sets map[string]AddrSet
	// NamedPorts are the (address, protocol, port) sets of named ports,
	// by digest of selector and port name.
	NamedPorts map[string][]AddrPort

	chainOf map[string]string // chain IDs by endpoint signature (Compile only)
}

// ProgramEndpoint is a local endpoint: its interface, its addresses (the
// only sources it may send from) and its chain per direction.
type ProgramEndpoint struct {
	Key       string
	Interface string
	Addrs     []netip.Prefix
	// In and Out are chain IDs: ingress (to the endpoint) and egress.
	In, Out string
	// Host endpoints only, the chains of their other stages: "" where no
	// policy of that stage and direction selects the endpoint (forwarded
	// traffic is then allowed; untracked and preDNAT leave the packet to
	// the next stage).
	FwdIn, FwdOut, PreDNATIn, UntrackedIn, UntrackedOut string
}

// EndpointChain is the evaluation of one direction: tiers in order, then
// the profiles.
type EndpointChain struct {
	// Stage says how the chain ends (see Stage): Normal chains go on to
	// the profiles and drop; Forward chains allow what no tier decided;
	// Untracked and PreDNAT chains leave it undecided.
	Stage    Stage
	Tiers    []ChainTier
	Profiles []string // rule-list IDs
}

// ChainTier is one tier in an endpoint chain: its policies' rule-list IDs
// and what happens when none decided (Deny or Pass).
type ChainTier struct {
	Name          string
	Policies      []string
	DefaultAction string
}

// RuleList is a policy's (or profile's) rules in one direction.
type RuleList struct {
	Name      string // for comments and logs: policy or profile name and direction
	Rules     []Rule
	Direction Direction
	// Digest identifies the rules' content (computed when the policy is
	// compiled: a program's rules are never changed in place), so that a
	// dataplane may keep what it derived from them while it is the same.
	Digest string
}

// AddrSet is the members of a selector's set. Compiled with an Index,
// the Members of a set that did not change are the same slice as in the
// previous Program (see Index).
type AddrSet struct {
	Selector string // the EntitySelector's key, for comments
	Members  []netip.Prefix
}

// AddrPort is one member of a named-port set.
type AddrPort struct {
	Addr     netip.Addr
	Protocol uint8
	Port     uint16
}

// ID makes a short, stable identifier from parts.
func ID(prefix string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + hex.EncodeToString(sum[:6])
}

// SetID names the set of an entity selector.
func SetID(s *EntitySelector) string { return ID("sel-", s.Key) }

// NamedPortID names the set of a named port under a selector (nil: any
// endpoint).
func NamedPortID(s *EntitySelector, name string) string {
	key := ""
	if s != nil {
		key = s.Key
	}
	return ID("np-", key, name)
}

// Compile is the Program for the endpoints on node.
func Compile(m *Model, node string) Program {
	p := Program{Chains: map[string]EndpointChain{}, Rules: map[string]RuleList{}, Sets: map[string]AddrSet{}, NamedPorts: map[string][]AddrPort{},
		chainOf: map[string]string{}, Failsafes: DefaultFailsafes()}
	entities := m.Entities
	if m.index != nil {
		entities = m.index.Local()
		defer m.index.Sweep()
	}
	for _, e := range entities {
		if e.Kind == NetworkSet || e.Node != node || e.Interface == "" {
			continue
		}
		pe := ProgramEndpoint{Key: e.Key, Interface: e.Interface, Addrs: e.Nets}
		pe.In = p.chainFor(m, e, Normal, Ingress)
		pe.Out = p.chainFor(m, e, Normal, Egress)
		switch {
		case e.Kind == WorkloadEndpoint:
			p.Endpoints = append(p.Endpoints, pe)
			continue
		case e.Interface == AllInterfaces && p.AllInterfaces != nil:
			continue // one per node: the first by key
		}
		pe.FwdIn, pe.FwdOut = p.chainFor(m, e, Forward, Ingress), p.chainFor(m, e, Forward, Egress)
		pe.PreDNATIn = p.chainFor(m, e, PreDNAT, Ingress)
		pe.UntrackedIn, pe.UntrackedOut = p.chainFor(m, e, Untracked, Ingress), p.chainFor(m, e, Untracked, Egress)
		if e.Interface == AllInterfaces {
			p.AllInterfaces = &pe
		} else {
			p.HostEndpoints = append(p.HostEndpoints, pe)
		}
	}
	byIface := func(a, b ProgramEndpoint) int { return strings.Compare(a.Interface, b.Interface) }
	slices.SortFunc(p.Endpoints, byIface)
	slices.SortFunc(p.HostEndpoints, byIface)
	return p
}

// chainFor adds (or finds) the chain of e's policy of stage s in
// direction d; endpoints alike in what policy sees (replicas) share the
// work. It is "" for a stage other than Normal that no policy fills.
func (p *Program) chainFor(m *Model, e *Entity, s Stage, d Direction) string {
	memo := signature(e, s, d) + "\x00" + strings.Join(e.Profiles, "\x00")
	if id, ok := p.chainOf[memo]; ok {
		return id
	}
	id := p.newChain(m, e, s, d)
	p.chainOf[memo] = id
	return id
}

func (p *Program) newChain(m *Model, e *Entity, s Stage, d Direction) string {
	c := EndpointChain{Stage: s}
	var key []string
	if s != Normal {
		key = append(key, s.String()) // Normal chains keep the IDs they had before stages
	}
	for _, tp := range m.ForStage(e, s, d) {
		ct := ChainTier{Name: tp.Tier.Name, DefaultAction: string(tp.Tier.DefaultAction)}
		for _, pol := range tp.Policies {
			id := p.addRules(m, ID("pol-", pol.Name, d.String()), RuleList{Name: pol.Name + " " + d.String(), Rules: pol.rules(d), Direction: d, Digest: pol.digests[d]})
			ct.Policies = append(ct.Policies, id)
		}
		c.Tiers = append(c.Tiers, ct)
		key = append(key, "tier", ct.Name, ct.DefaultAction)
		key = append(key, ct.Policies...)
	}
	if s != Normal && len(c.Tiers) == 0 {
		return ""
	}
	for _, name := range e.Profiles {
		if prof := m.Profiles[name]; prof != nil && s == Normal {
			id := p.addRules(m, ID("prof-", name, d.String()), RuleList{Name: name + " " + d.String(), Rules: prof.rules(d), Direction: d, Digest: prof.digests[d]})
			c.Profiles = append(c.Profiles, id)
			key = append(key, "profile", id)
		}
	}
	id := ID("ep-", append([]string{d.String()}, key...)...)
	p.Chains[id] = c
	return id
}

// addRules records a rule list and the sets its rules use.
func (p *Program) addRules(m *Model, id string, l RuleList) string {
	if _, ok := p.Rules[id]; ok {
		return id
	}
	p.Rules[id] = l
	for _, r := range l.Rules {
		for _, s := range []Side{r.Src, r.Dst} {
			for _, sel := range []*EntitySelector{s.Sel, s.NotSel} {
				if sel != nil {
					p.addSet(m, sel)
				}
			}
			for _, pm := range append(slices.Clone(s.Ports), s.NotPorts...) {
				if pm.Name != "" {
					p.addNamedPort(m, s.Sel, pm.Name)
				}
			}
		}
	}
	return id
}

func (p *Program) addSet(m *Model, sel *EntitySelector) {
	id := SetID(sel)
	if _, ok := p.Sets[id]; ok {
		return
	}
	set := AddrSet{Selector: sel.Key}
	if m.index != nil {
		set.Members, _ = m.index.Members(sel)
		p.Sets[id] = set
		return
	}
	for _, e := range m.Entities {
		if sel.Matches(e) {
			set.Members = append(set.Members, e.Nets...)
		}
	}
	p.Sets[id] = set
}

func (p *Program) addNamedPort(m *Model, sel *EntitySelector, name string) {
	id := NamedPortID(sel, name)
	if _, ok := p.NamedPorts[id]; ok {
		return
	}
	if m.index != nil {
		p.NamedPorts[id] = m.index.NamedPort(sel, name)
		return
	}
	var members []AddrPort
	for _, e := range m.Entities {
		if sel == nil || sel.Matches(e) {
			members = append(members, namedPortMembers(e, name)...)
		}
	}
	p.NamedPorts[id] = members
}
