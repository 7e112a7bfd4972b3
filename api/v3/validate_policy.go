package v3

import (
	"strconv"
	"strings"
)

const (
	maxRules     = 1024
	maxPorts     = 50
	maxNets      = 256
	maxHTTPItems = 20
	maxHTTPPath  = 1024
)

func validateNetworkPolicy(e *errs, s *NetworkPolicySpec) {
	validatePolicyCommon(e, s.Tier, s.Selector, s.ServiceAccountSelector, s.Types, s.PerformanceHints)
	validateRules(e, "spec.ingress", s.Ingress)
	validateRules(e, "spec.egress", s.Egress)
}

func validateGlobalNetworkPolicy(e *errs, s *GlobalNetworkPolicySpec) {
	validatePolicyCommon(e, s.Tier, s.Selector, s.ServiceAccountSelector, s.Types, s.PerformanceHints)
	e.selector("spec.namespaceSelector", s.NamespaceSelector, false)
	validateRules(e, "spec.ingress", s.Ingress)
	validateRules(e, "spec.egress", s.Egress)
	if s.DoNotTrack && s.PreDNAT {
		e.add("spec.preDNAT", true, "cannot be combined with doNotTrack")
	}
	if (s.DoNotTrack || s.PreDNAT) && !s.ApplyOnForward {
		e.add("spec.applyOnForward", false, "must be true when doNotTrack or preDNAT is set")
	}
	if s.PreDNAT {
		if len(s.Egress) > 0 {
			e.addf("spec.egress", nil, "a preDNAT policy cannot have egress rules (has %d)", len(s.Egress))
		}
		for i, t := range s.Types {
			if t == PolicyTypeEgress {
				e.add(at("spec.types", i), t, "a preDNAT policy cannot have type Egress")
			}
		}
	}
}

func validatePolicyCommon(e *errs, tier, sel, saSel string, types []PolicyType, hints []PolicyPerformanceHint) {
	e.requiredName("spec.tier", tier)
	e.selector("spec.selector", sel, false)
	e.selector("spec.serviceAccountSelector", saSel, false)
	if len(types) == 0 {
		e.add("spec.types", nil, "is required (Ingress, Egress or both)")
	}
	for i, t := range types {
		e.oneOf(at("spec.types", i), string(t), string(PolicyTypeIngress), string(PolicyTypeEgress))
	}
	if hasDuplicate(types) {
		e.add("spec.types", types, "must not list a type twice")
	}
	for i, h := range hints {
		e.oneOf(at("spec.performanceHints", i), string(h), string(PerfHintAssumeNeededOnEveryNode))
	}
	if hasDuplicate(hints) {
		e.add("spec.performanceHints", hints, "must not list a hint twice")
	}
}

func validateTier(e *errs, name string, s *TierSpec) {
	if s.DefaultAction == nil {
		e.add("spec.defaultAction", nil, "is required (Deny or Pass)")
	} else {
		e.oneOf("spec.defaultAction", string(*s.DefaultAction), string(Deny), string(Pass))
	}
	order, action, fixed := fixedTier(name)
	if !fixed {
		return
	}
	if s.Order == nil || *s.Order != order {
		e.addf("spec.order", s.Order, "must be %s for the %q tier", strconv.FormatFloat(order, 'f', -1, 64), name)
	}
	if s.DefaultAction != nil && *s.DefaultAction != action {
		e.addf("spec.defaultAction", *s.DefaultAction, "must be %s for the %q tier", action, name)
	}
}

func validateProfile(e *errs, s *ProfileSpec) {
	validateRules(e, "spec.ingress", s.Ingress)
	validateRules(e, "spec.egress", s.Egress)
	for _, dir := range []struct {
		field string
		rules []Rule
	}{{"spec.ingress", s.Ingress}, {"spec.egress", s.Egress}} {
		for i, r := range dir.rules {
			if r.Action == Pass {
				e.add(at(dir.field, i)+".action", r.Action, "Pass is not allowed in a Profile (profiles come after the last tier)")
			}
		}
	}
	e.labels("spec.labelsToApply", s.LabelsToApply)
}

func validateRules(e *errs, field string, rules []Rule) {
	if len(rules) > maxRules {
		e.addf(field, nil, "must have at most %d rules (has %d)", maxRules, len(rules))
	}
	for i := range rules {
		validateRule(e, at(field, i), &rules[i])
	}
}

func validateRule(e *errs, f string, r *Rule) {
	if r.Action == "" {
		e.add(f+".action", nil, "is required (Allow, Deny, Log or Pass)")
	} else {
		e.oneOf(f+".action", string(r.Action), string(Allow), string(Deny), string(Log), string(Pass))
	}
	if r.IPVersion != nil && *r.IPVersion != 4 && *r.IPVersion != 6 {
		e.add(f+".ipVersion", *r.IPVersion, "must be 4 or 6")
	}
	validateProtocol(e, f+".protocol", r.Protocol)
	validateProtocol(e, f+".notProtocol", r.NotProtocol)
	validateRuleICMP(e, f, r)

	ports := r.Protocol != nil && r.Protocol.SupportsPorts()
	validateEntityRule(e, f+".source", &r.Source, ports)
	validateEntityRule(e, f+".destination", &r.Destination, ports)
	if r.Destination.Services != nil && (len(r.Destination.Ports) > 0 || len(r.Destination.NotPorts) > 0) {
		e.add(f+".destination.ports", nil, "ports and notPorts cannot be combined with destination services")
	}
	validateRuleNetFamilies(e, f, r)

	if h := r.HTTP; h != nil {
		if r.Action != Allow {
			e.add(f+".http", nil, "is only allowed on Allow rules")
		}
		if r.Protocol != nil && !r.Protocol.Is(ProtocolTCP) {
			e.add(f+".protocol", r.Protocol, "must be TCP (or unset) with an http match")
		}
		validateHTTP(e, f+".http", h)
	}
	if r.Metadata != nil {
		e.annotations(f+".metadata.annotations", r.Metadata.Annotations)
	}
}

func validateProtocol(e *errs, field string, p *Protocol) {
	if p == nil || p.valid() {
		return
	}
	if p.Name != "" {
		e.add(field, p.Name, "must be one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255")
	} else {
		e.add(field, p.Num, "must be between 1 and 255")
	}
}

// validateRuleICMP checks the icmp/notICMP matches and that ICMP and ICMPv6
// agree with ipVersion.
func validateRuleICMP(e *errs, f string, r *Rule) {
	isICMP := func(p *Protocol) bool { return p != nil && (p.Is(ProtocolICMP) || p.Is(ProtocolICMPv6)) }
	for _, m := range []struct {
		field string
		icmp  *ICMPFields
	}{{f + ".icmp", r.ICMP}, {f + ".notICMP", r.NotICMP}} {
		if m.icmp == nil {
			continue
		}
		if !isICMP(r.Protocol) {
			e.add(m.field, nil, "requires protocol ICMP or ICMPv6")
		}
		if t := m.icmp.Type; t != nil && (*t < 0 || *t > 254) {
			e.add(m.field+".type", *t, "must be between 0 and 254")
		}
		if c := m.icmp.Code; c != nil {
			if *c < 0 || *c > 255 {
				e.add(m.field+".code", *c, "must be between 0 and 255")
			}
			if m.icmp.Type == nil {
				e.add(m.field+".code", *c, "requires an ICMP type")
			}
		}
	}
	if r.IPVersion == nil {
		return
	}
	for _, p := range []struct {
		field string
		p     *Protocol
	}{{f + ".protocol", r.Protocol}, {f + ".notProtocol", r.NotProtocol}} {
		switch {
		case p.p == nil:
		case p.p.Is(ProtocolICMP) && *r.IPVersion != 4:
			e.add(p.field, p.p, "ICMP requires ipVersion 4")
		case p.p.Is(ProtocolICMPv6) && *r.IPVersion != 6:
			e.add(p.field, p.p, "ICMPv6 requires ipVersion 6")
		}
	}
}

func validateEntityRule(e *errs, f string, er *EntityRule, protoHasPorts bool) {
	validateRuleNets(e, f+".nets", er.Nets)
	validateRuleNets(e, f+".notNets", er.NotNets)
	e.selector(f+".selector", er.Selector, false)
	e.selector(f+".notSelector", er.NotSelector, false)
	e.selector(f+".namespaceSelector", er.NamespaceSelector, true)
	validateRulePorts(e, f+".ports", er.Ports, protoHasPorts)
	validateRulePorts(e, f+".notPorts", er.NotPorts, protoHasPorts)
	if sa := er.ServiceAccounts; sa != nil {
		e.selector(f+".serviceAccounts.selector", sa.Selector, false)
		for i, n := range sa.Names {
			e.requiredName(at(f+".serviceAccounts.names", i), n)
		}
	}
	if svc := er.Services; svc != nil {
		e.requiredName(f+".services.name", svc.Name)
		if svc.Namespace != "" {
			e.name(f+".services.namespace", svc.Namespace)
		}
		for _, c := range []struct {
			field string
			set   bool
		}{
			{"selector", er.Selector != ""},
			{"notSelector", er.NotSelector != ""},
			{"namespaceSelector", er.NamespaceSelector != ""},
			{"nets", len(er.Nets) > 0},
			{"notNets", len(er.NotNets) > 0},
			{"serviceAccounts", er.ServiceAccounts != nil},
		} {
			if c.set {
				e.add(f+"."+c.field, nil, "cannot be combined with services")
			}
		}
	}
}

func validateRuleNets(e *errs, field string, nets []string) {
	if len(nets) > maxNets {
		e.addf(field, nil, "must have at most %d entries (has %d)", maxNets, len(nets))
	}
	validateNets(e, field, nets)
}

// validateRuleNetFamilies checks that a rule's nets are all of one IP
// family, and of its ipVersion when that is set.
func validateRuleNetFamilies(e *errs, f string, r *Rule) {
	var v4, v6 bool
	for _, l := range []struct {
		field string
		nets  []string
	}{
		{f + ".source.nets", r.Source.Nets}, {f + ".source.notNets", r.Source.NotNets},
		{f + ".destination.nets", r.Destination.Nets}, {f + ".destination.notNets", r.Destination.NotNets},
	} {
		for i, n := range l.nets {
			p, err := parseNet(n)
			if err != nil {
				continue // reported by validateNets
			}
			is4 := p.Addr().Is4()
			v4, v6 = v4 || is4, v6 || !is4
			if r.IPVersion != nil && (is4 && *r.IPVersion == 6 || !is4 && *r.IPVersion == 4) {
				e.addf(at(l.field, i), n, "does not match ipVersion %d", *r.IPVersion)
			}
		}
	}
	if v4 && v6 {
		e.add(f, nil, "rule mixes IPv4 and IPv6 networks")
	}
}

func validateRulePorts(e *errs, field string, ports []Port, protoHasPorts bool) {
	if len(ports) == 0 {
		return
	}
	if !protoHasPorts {
		e.add(field, nil, "ports require protocol TCP, UDP or SCTP")
	}
	if len(ports) > maxPorts {
		e.addf(field, nil, "must have at most %d entries (has %d)", maxPorts, len(ports))
	}
	for i, p := range ports {
		validatePort(e, at(field, i), p, true)
	}
}

// validatePort checks a port, range or (when allowName) named port.
func validatePort(e *errs, field string, p Port, allowName bool) {
	switch {
	case p.PortName != "":
		if !allowName {
			e.add(field, p, "must be a number or a range, not a port name")
		} else if msg := portNameProblem(p.PortName); msg != "" {
			e.add(field, p, msg)
		}
	case p.MinPort < 1:
		e.add(field, p, "port numbers must be between 1 and 65535")
	case p.MinPort > p.MaxPort:
		e.add(field, p, "range start must not be greater than its end")
	}
}

func validateHTTP(e *errs, f string, h *HTTPMatch) {
	if len(h.Methods) > maxHTTPItems {
		e.addf(f+".methods", nil, "must have at most %d entries", maxHTTPItems)
	}
	if hasDuplicate(h.Methods) {
		e.add(f+".methods", h.Methods, "must not list a method twice")
	}
	if len(h.Paths) > maxHTTPItems {
		e.addf(f+".paths", nil, "must have at most %d entries", maxHTTPItems)
	}
	for i, p := range h.Paths {
		pf := at(f+".paths", i)
		v := p.Exact + p.Prefix
		switch {
		case p.Exact != "" && p.Prefix != "":
			e.add(pf, v, "must set only one of exact and prefix")
		case v == "":
			e.add(pf, nil, "must set exact or prefix")
		case len(v) > maxHTTPPath:
			e.addf(pf, v, "must be at most %d characters", maxHTTPPath)
		case !strings.HasPrefix(v, "/") || strings.ContainsAny(v, "? #"):
			e.add(pf, v, "must start with '/' and not contain '?', '#' or spaces")
		}
	}
}
