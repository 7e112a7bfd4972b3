package nft

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/knftables"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/conventions"
)

// The policy part's names and marks. Workload traffic that is forwarded
// passes the sender's egress chain (from its interface) and then the
// receiver's ingress chain (to its interface). Each endpoint is one
// element in each dispatch map and one per address in the anti-spoofing
// set: the chains behind them are shared by endpoints with the same
// policy, so no rule is written per endpoint.
const (
	PolicyChain   = "filter-forward"
	FromWLChain   = "from-wl"
	ToWLChain     = "to-wl"
	FromWLMap     = "from-wl-dispatch"
	ToWLMap       = "to-wl-dispatch"
	WLSourcesSet  = "wl-sources"
	markAccept    = 0x10000
	markPass      = 0x20000
	markBoth      = markAccept | markPass
	logPrefix     = "tortie-packet: "
	workloadIface = conventions.HostIfPrefix + "*"
)

var (
	clearMarks  = fmt.Sprintf("meta mark set meta mark & 0x%x", ^uint32(markBoth))
	clearPass   = fmt.Sprintf("meta mark set meta mark & 0x%x", ^uint32(markPass))
	ifAccepted  = fmt.Sprintf("meta mark & 0x%x == 0x%x", markAccept, markAccept)
	ifUndecided = fmt.Sprintf("meta mark & 0x%x == 0", markBoth)
)

// policyPart renders a policy program; nil renders nothing. merged
// collects the merged sets (and may hold the previous rendering's).
func policyPart(p *policy.Program, merged *runs) content {
	if p == nil {
		return content{}
	}
	var c content
	c.chains = append(c.chains, dispatchChains()...)
	c.chains = append(c.chains, toHostChain(p))
	c.maps = []mapDef{{name: FromWLMap, typ: "ifname : verdict"}, {name: ToWLMap, typ: "ifname : verdict"}}
	spoof := setDef{name: WLSourcesSet, typ: "ifname . ipv4_addr"}
	for _, e := range p.Endpoints {
		c.maps[0].elements = append(c.maps[0].elements, e.Interface+" : jump "+e.Out)
		c.maps[1].elements = append(c.maps[1].elements, e.Interface+" : jump "+e.In)
		for _, a := range e.Addrs {
			if a.Addr().Is4() && a.IsSingleIP() {
				spoof.elements = append(spoof.elements, e.Interface+" . "+a.Addr().String())
			}
		}
	}
	c.sets = append(c.sets, spoof)
	for _, id := range sortedKeys(p.Chains) {
		c.chains = append(c.chains, chainDef{name: id, rules: endpointChain(p, p.Chains[id], merged)})
	}
	for _, name := range sortedKeys(merged.sets) {
		c.sets = append(c.sets, merged.sets[name])
	}
	// Only rule lists some endpoint chain jumps to get a chain: merged
	// ones live in their sets.
	targets := jumpTargets(c.chains)
	for _, id := range sortedKeys(p.Rules) {
		if targets[id] {
			c.chains = append(c.chains, chainDef{name: id, rules: merged.ruleChain(p.Rules[id])})
		}
	}
	c.sets = append(c.sets, selectorSets(p, merged)...)
	return c
}

// dispatchChains: the forward hook, connection tracking first, then the
// workloads' dispatch. An interface with no map entry (a workload whose
// policy is not programmed yet) gets no accept mark and is dropped.
func dispatchChains() []chainDef {
	return []chainDef{
		{name: PolicyChain, typ: knftables.FilterType, hook: knftables.ForwardHook, priority: knftables.FilterPriority, rules: []string{
			"ct state established,related accept",
			"ct state invalid drop",
			"iifname " + quote(workloadIface) + " jump " + FromWLChain,
			"oifname " + quote(workloadIface) + " jump " + ToWLChain,
		}},
		{name: FromWLChain, rules: []string{
			"iifname . ip saddr != @" + WLSourcesSet + " drop",
			clearMarks,
			"iifname vmap @" + FromWLMap,
			ifAccepted + " return",
			"drop",
		}},
		{name: ToWLChain, rules: []string{
			clearMarks,
			"oifname vmap @" + ToWLMap,
			ifAccepted + " accept",
			"drop",
		}},
	}
}

// ruleChain renders a policy's or profile's rules in order.
func ruleChain(l policy.RuleList) []string {
	var out []string
	for _, r := range l.Rules {
		out = append(out, renderRule(r)...)
	}
	return out
}

func action(a v3.Action) string {
	switch a {
	case v3.Allow:
		return fmt.Sprintf("meta mark set meta mark | 0x%x return", markAccept)
	case v3.Pass:
		return fmt.Sprintf("meta mark set meta mark | 0x%x return", markPass)
	case v3.Log:
		return "log prefix " + quote(logPrefix)
	}
	return "drop"
}

// renderRule is one rule as nft rules: one, or one per kind of port match
// when a side mixes numbers and named ports (the same action, so the
// first-match order is kept); none for an IPv6-only rule in this table.
func renderRule(r policy.Rule) []string {
	if r.IPVersion == 6 {
		return nil
	}
	var base []string
	if r.Protocol != 0 {
		base = append(base, "meta l4proto "+strconv.Itoa(int(r.Protocol)))
	}
	if r.NotProtocol != 0 {
		base = append(base, "meta l4proto != "+strconv.Itoa(int(r.NotProtocol)))
	}
	base = append(base, icmp(r.ICMP, false)...)
	base = append(base, icmp(r.NotICMP, true)...)
	base = append(base, sideMatches(r.Src, "saddr")...)
	base = append(base, sideMatches(r.Dst, "daddr")...)
	var out []string
	for _, ports := range portVariants(r) {
		m := append(slices.Clone(base), ports...)
		out = append(out, strings.TrimSpace(strings.Join(m, " ")+" "+action(r.Action)))
	}
	return out
}

func icmp(m *policy.ICMPMatch, negate bool) []string {
	if m == nil {
		return nil
	}
	op := ""
	if negate {
		op = "!= "
	}
	if m.Code < 0 {
		return []string{fmt.Sprintf("icmp type %s%d", op, m.Type)}
	}
	return []string{fmt.Sprintf("icmp type . icmp code %s%d . %d", op, m.Type, m.Code)}
}

func sideMatches(s policy.Side, addr string) []string {
	var out []string
	if len(s.Nets) > 0 {
		out = append(out, "ip "+addr+" "+anonSet(s.Nets))
	}
	if len(s.NotNets) > 0 {
		out = append(out, "ip "+addr+" != "+anonSet(s.NotNets))
	}
	if s.Sel != nil {
		out = append(out, "ip "+addr+" @"+policy.SetID(s.Sel))
	}
	if s.NotSel != nil {
		out = append(out, "ip "+addr+" != @"+policy.SetID(s.NotSel))
	}
	return out
}

// portVariants are the port matches of a rule: each alternative of the
// positive port lists (numbers together, each named port alone) combined
// with every negative one.
func portVariants(r policy.Rule) [][]string {
	variants := [][]string{nil}
	for _, side := range []struct {
		s          policy.Side
		addr, port string
	}{{r.Src, "saddr", "sport"}, {r.Dst, "daddr", "dport"}} {
		alts := portAlternatives(side.s, side.addr, side.port)
		neg := notPorts(side.s, side.addr, side.port)
		var next [][]string
		for _, v := range variants {
			for _, a := range alts {
				next = append(next, append(append(slices.Clone(v), a...), neg...))
			}
		}
		variants = next
	}
	return variants
}

func portAlternatives(s policy.Side, addr, port string) [][]string {
	if len(s.Ports) == 0 {
		return [][]string{nil}
	}
	var nums []string
	var out [][]string
	for _, p := range s.Ports {
		if p.Name != "" {
			out = append(out, []string{"ip " + addr + " . meta l4proto . th " + port + " @" + policy.NamedPortID(s.Sel, p.Name)})
			continue
		}
		nums = append(nums, portText(p))
	}
	if len(nums) > 0 {
		out = append([][]string{{"th " + port + " { " + strings.Join(nums, ", ") + " }"}}, out...)
	}
	return out
}

func notPorts(s policy.Side, addr, port string) []string {
	var nums, out []string
	for _, p := range s.NotPorts {
		if p.Name != "" {
			out = append(out, "ip "+addr+" . meta l4proto . th "+port+" != @"+policy.NamedPortID(s.Sel, p.Name))
			continue
		}
		nums = append(nums, portText(p))
	}
	if len(nums) > 0 {
		out = append([]string{"th " + port + " != { " + strings.Join(nums, ", ") + " }"}, out...)
	}
	return out
}

func portText(p policy.PortMatch) string {
	if p.Min == p.Max {
		return strconv.Itoa(int(p.Min))
	}
	return fmt.Sprintf("%d-%d", p.Min, p.Max)
}

func anonSet(ps []netip.Prefix) string {
	var parts []string
	for _, p := range ps {
		if p.Addr().Is4() {
			parts = append(parts, p.String())
		}
	}
	if len(parts) == 0 {
		parts = []string{"0.0.0.0/32"} // IPv6-only nets match no IPv4 packet
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// selectorSets are the selector and named-port sets the rules use. A
// set whose members are the same slice as in the previous rendering (an
// Index-compiled Program's unchanged set) keeps its elements as rendered
// then, and one of single addresses that changed is patched with the
// difference (see patchSet): a change renders only what it touched.
func selectorSets(p *policy.Program, merged *runs) []setDef {
	var out []setDef
	for _, id := range sortedKeys(p.Sets) {
		members := p.Sets[id].Members
		r, ok := merged.patchSet(id, members)
		if !ok {
			r = renderedSet{members: members, elements: addrElements(members), single: singles(members), ordered: ordered(members)}
		}
		els := r.elements
		merged.selSets[id] = r
		out = append(out, setDef{name: id, typ: "ipv4_addr", flags: []knftables.SetFlag{knftables.IntervalFlag}, elements: els, sorted: true})
	}
	for _, id := range sortedKeys(p.NamedPorts) {
		members := p.NamedPorts[id]
		els, ok := merged.cachedPorts(id, members)
		if !ok {
			els = portElements(members)
		}
		merged.portSets[id] = renderedPorts{members: members, elements: els}
		out = append(out, setDef{name: id, typ: "ipv4_addr . inet_proto . inet_service", elements: els, sorted: true})
	}
	return out
}

// singles says whether every IPv4 member is a single address (so that
// the set's elements are the members as they are, nothing merged).
func singles(members []netip.Prefix) bool {
	for _, m := range members {
		if m.Addr().Is4() && !m.IsSingleIP() {
			return false
		}
	}
	return true
}

// addrElements are a selector set's IPv4 members as sorted elements.
func addrElements(members []netip.Prefix) []string {
	var v4 []netip.Prefix
	for _, m := range members {
		if m.Addr().Is4() {
			v4 = append(v4, m)
		}
	}
	var out []string
	for _, m := range normalise(v4) {
		out = append(out, m.String())
	}
	slices.Sort(out)
	return out
}

// portElements are a named-port set's IPv4 members as sorted elements.
func portElements(members []policy.AddrPort) []string {
	var out []string
	for _, m := range members {
		if m.Addr.Is4() {
			out = append(out, fmt.Sprintf("%s . %s . %d", m.Addr, protoName(m.Protocol), m.Port))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// jumpTargets are the chains the rules of chains jump to.
func jumpTargets(chains []chainDef) map[string]bool {
	out := map[string]bool{}
	for _, ch := range chains {
		for _, r := range ch.rules {
			if _, target, ok := strings.Cut(r, "jump "); ok {
				out[target] = true
			}
		}
	}
	return out
}

func quote(s string) string { return `"` + s + `"` }

// protoName is a protocol as nft prints it in a set element.
func protoName(p uint8) string {
	switch p {
	case policy.ProtoTCP:
		return "tcp"
	case policy.ProtoUDP:
		return "udp"
	case policy.ProtoSCTP:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
