package nft

import (
	"fmt"
	"slices"

	"github.com/tortienet/tortie/internal/calc/policy"

	"sigs.k8s.io/knftables"
)

// Host endpoints: once a host interface has a HostEndpoint, traffic to the
// host through it and from the host out of it passes the endpoint's policy
// and is dropped when nothing allows it, as Calico does; connection
// tracking and Felix's failsafe ports come first, so that a bad policy can
// never cut the node off its SSH, BGP, datastore and API server.
//
// Each stage of policy.Stage has its own base chains, at the hook and
// priority where Calico applies it:
//
//	untracked  prerouting and output at raw priority (-300), before
//	           connection tracking: Allow sets the early mark and notrack;
//	           egress on forwarded traffic at raw + 1, by the interface
//	           a route lookup (fib) says the packet will leave by: Allow
//	           sets the early-out mark and notrack
//	preDNAT    prerouting at mangle priority (-150), before DNAT (-100):
//	           Allow sets the early mark
//	normal     input and output at filter priority: the early mark accepts
//	forward    forward at filter priority: the early mark skips the
//	           ingress side, the early-out mark the egress side
//
// A stage's dispatch is a verdict map from interface to the endpoint's
// chain; the all-interfaces endpoint (interfaceName "*") catches, after the
// map, every interface that is neither a workload's, the loopback, nor in
// the set of interfaces with their own host endpoint. Base chains on one
// hook all see the packet and a drop in any is final, so the host stages'
// chains and the workloads' chains each decide their own part.
const (
	HostInChain      = "host-input"
	HostOutChain     = "host-output"
	HostFwdChain     = "host-forward"
	HostPreDNATChain = "host-prednat"
	HostRawInChain   = "host-untracked-in"
	HostRawOutChain  = "host-untracked-out"
	HostRawFwdChain  = "host-untracked-fwd"
	HostInMap        = "hep-in-dispatch"
	HostOutMap       = "hep-out-dispatch"
	HostFwdInMap     = "hep-fwd-in-dispatch"
	HostFwdOutMap    = "hep-fwd-out-dispatch"
	HostPreDNATMap   = "hep-prednat-dispatch"
	HostRawInMap     = "hep-untracked-in-dispatch"
	HostRawOutMap    = "hep-untracked-out-dispatch"
	HostIfacesSet    = "hep-ifaces"
	markEarly        = 0x40000 // an untracked or preDNAT policy allowed the packet
	markEarlyOut     = 0x80000 // an untracked egress policy allowed a forwarded packet
	loopback         = "lo"
	ctFirst          = "ct state established,related accept"
	ctInvalid        = "ct state invalid drop"
)

var (
	ifEarly    = fmt.Sprintf("meta mark & 0x%x == 0x%x", markEarly, markEarly)
	ifNotEarly = fmt.Sprintf("meta mark & 0x%x == 0", markEarly)
	setEarly   = fmt.Sprintf("meta mark set meta mark | 0x%x", markEarly)
	// The early-out mark is set, and so tested, only on forwarded traffic.
	ifNotEarlyOut = fmt.Sprintf("meta mark & 0x%x == 0", markEarlyOut)
	setEarlyOut   = fmt.Sprintf("meta mark set meta mark | 0x%x", markEarlyOut)
)

// hostStage is one stage and direction of host endpoint dispatch: the
// map's name, which of a ProgramEndpoint's chains it holds, and the
// interface match.
type hostStage struct {
	mapName string
	chain   func(policy.ProgramEndpoint) string
	ifname  string // "iifname" or "oifname"
}

var (
	stageIn      = hostStage{HostInMap, func(e policy.ProgramEndpoint) string { return e.In }, "iifname"}
	stageOut     = hostStage{HostOutMap, func(e policy.ProgramEndpoint) string { return e.Out }, "oifname"}
	stageFwdIn   = hostStage{HostFwdInMap, func(e policy.ProgramEndpoint) string { return e.FwdIn }, "iifname"}
	stageFwdOut  = hostStage{HostFwdOutMap, func(e policy.ProgramEndpoint) string { return e.FwdOut }, "oifname"}
	stagePreDNAT = hostStage{HostPreDNATMap, func(e policy.ProgramEndpoint) string { return e.PreDNATIn }, "iifname"}
	stageRawIn   = hostStage{HostRawInMap, func(e policy.ProgramEndpoint) string { return e.UntrackedIn }, "iifname"}
	stageRawOut  = hostStage{HostRawOutMap, func(e policy.ProgramEndpoint) string { return e.UntrackedOut }, "oifname"}
)

// used reports whether any host endpoint of p has a chain in stage s.
func (s hostStage) used(p *policy.Program) bool {
	for _, e := range hostEndpoints(p) {
		if s.chain(e) != "" {
			return true
		}
	}
	return false
}

// dispatch is the stage's map and its rules: the map lookup, then the
// all-interfaces endpoint's chain for the interfaces the map does not
// name. cond prefixes both rules.
func (s hostStage) dispatch(p *policy.Program, cond string) (mapDef, []string) {
	m := mapDef{name: s.mapName, typ: "ifname : verdict"}
	for _, e := range p.HostEndpoints {
		if c := s.chain(e); c != "" {
			m.elements = append(m.elements, e.Interface+" : jump "+c)
		}
	}
	rules := []string{cond + s.ifname + " vmap @" + s.mapName}
	if p.AllInterfaces != nil && s.chain(*p.AllInterfaces) != "" {
		rules = append(rules, fmt.Sprintf("%s%s != %s %s != %s %s != @%s jump %s", cond,
			s.ifname, quote(workloadIface), s.ifname, quote(loopback), s.ifname, HostIfacesSet, s.chain(*p.AllInterfaces)))
	}
	return m, rules
}

func hostEndpoints(p *policy.Program) []policy.ProgramEndpoint {
	if p.AllInterfaces == nil {
		return p.HostEndpoints
	}
	return append([]policy.ProgramEndpoint{*p.AllInterfaces}, p.HostEndpoints...)
}

// hostPart renders the host endpoints' hooks and dispatch; nothing when
// the node has none, and no hook for a stage no endpoint uses.
func hostPart(p *policy.Program) content {
	if p == nil || len(hostEndpoints(p)) == 0 {
		return content{}
	}
	// Failsafe ports (policy.Failsafes): before connection tracking the
	// answers to the other direction's failsafe ports pass too.
	fsIn, fsOut := failsafeRules(p.Failsafes.In, "dport", true), failsafeRules(p.Failsafes.Out, "dport", false)
	rawIn := append(slices.Clone(fsIn), failsafeRules(p.Failsafes.Out, "sport", true)...)
	rawOut := append(slices.Clone(fsOut), failsafeRules(p.Failsafes.In, "sport", false)...)
	var c content
	if p.AllInterfaces != nil {
		ifaces := setDef{name: HostIfacesSet, typ: "ifname"}
		for _, e := range p.HostEndpoints {
			ifaces.elements = append(ifaces.elements, e.Interface)
		}
		c.sets = append(c.sets, ifaces)
	}
	// stage adds a stage's map and returns its dispatch rules.
	stage := func(s hostStage, cond string) []string {
		m, r := s.dispatch(p, cond)
		c.maps = append(c.maps, m)
		return append([]string{clearMarks}, r...)
	}
	hook := func(name string, h knftables.BaseChainHook, prio knftables.BaseChainPriority, parts ...[]string) {
		var rules []string
		for _, part := range parts {
			rules = append(rules, part...)
		}
		c.chains = append(c.chains, chainDef{name: name, typ: knftables.FilterType, hook: h, priority: prio, rules: rules})
	}
	tracked := []string{ctFirst, ctInvalid, ifEarly + " accept"}
	hook(HostInChain, knftables.InputHook, knftables.FilterPriority, tracked, fsIn, stage(stageIn, ""))
	hook(HostOutChain, knftables.OutputHook, knftables.FilterPriority, tracked, fsOut, stage(stageOut, ""))
	if stageFwdIn.used(p) || stageFwdOut.used(p) {
		// The ingress side is skipped when an early stage allowed the
		// packet; the egress side applies regardless.
		hook(HostFwdChain, knftables.ForwardHook, knftables.FilterPriority, []string{ctFirst, ctInvalid},
			stage(stageFwdIn, ifNotEarly+" "), stage(stageFwdOut, ifNotEarlyOut+" "))
	}
	if stagePreDNAT.used(p) {
		hook(HostPreDNATChain, knftables.PreroutingHook, knftables.ManglePriority, []string{ctFirst, ctInvalid}, fsIn,
			stage(stagePreDNAT, ""), []string{ifAccepted + " " + setEarly})
	}
	if stageRawIn.used(p) || stageRawOut.used(p) {
		untracked := []string{ifAccepted + " " + setEarly + " notrack accept"}
		hook(HostRawInChain, knftables.PreroutingHook, knftables.RawPriority, rawIn, stage(stageRawIn, ""), untracked)
		hook(HostRawOutChain, knftables.OutputHook, knftables.RawPriority, rawOut, stage(stageRawOut, ""), untracked)
	}
	if stageRawOut.used(p) {
		hook(HostRawFwdChain, knftables.PreroutingHook, knftables.RawPriority+" + 1", untrackedForwardOut(p))
	}
	return c
}

// untrackedForwardOut is the untracked egress stage of forwarded traffic,
// in prerouting, where only a route lookup tells the interface a packet
// will leave by: one rule per host endpoint (the all-interfaces one has no
// untracked stage; a node has few host interfaces), as fib's interface
// name is a string that an ifname map cannot be keyed by. It runs after
// the untracked ingress stage, whose Allow does not skip it.
func untrackedForwardOut(p *policy.Program) []string {
	rules := []string{"fib daddr type local return", clearMarks}
	for _, e := range p.HostEndpoints {
		if e.UntrackedOut != "" {
			rules = append(rules, fmt.Sprintf("fib daddr oifname %s jump %s", quote(e.Interface), e.UntrackedOut))
		}
	}
	return append(rules, ifAccepted+" "+setEarlyOut+" notrack accept")
}
