package policy

import (
	"fmt"
	"net/netip"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
)

// The fixed tiers Calico defines, with their order and default action
// when no Tier object says otherwise.
var fixedTiers = map[string]Tier{
	v3.DefaultTierName: {Name: v3.DefaultTierName, Order: ptr(1_000_000.0), DefaultAction: v3.Deny},
	"kube-admin":       {Name: "kube-admin", Order: ptr(1_000.0), DefaultAction: v3.Pass},
	"kube-baseline":    {Name: "kube-baseline", Order: ptr(10_000_000.0), DefaultAction: v3.Pass},
}

func ptr[T any](v T) *T { return &v }

func compileTier(t *v3.Tier) Tier {
	out := Tier{Name: t.Name, Order: t.Spec.Order, DefaultAction: v3.Deny}
	if t.Spec.DefaultAction != nil && *t.Spec.DefaultAction == v3.Pass {
		out.DefaultAction = v3.Pass
	}
	if f, ok := fixedTiers[t.Name]; ok && out.Order == nil {
		out.Order = f.Order
	}
	return out
}

// inferTypes applies Calico's rule when a policy names no types: Ingress
// alone without egress rules, Egress alone with egress rules but no
// ingress rules, both with both.
func inferTypes(types []v3.PolicyType, in, out []v3.Rule) (ingress, egress bool) {
	if len(types) == 0 {
		return len(in) > 0 || len(out) == 0, len(out) > 0
	}
	for _, t := range types {
		ingress = ingress || t == v3.PolicyTypeIngress
		egress = egress || t == v3.PolicyTypeEgress
	}
	return ingress, egress
}

func compileNetworkPolicy(np *v3.NetworkPolicy) (*Policy, error) {
	name := np.Namespace + "/" + np.Name
	p := &Policy{Name: name, Namespace: np.Namespace, Tier: tierOf(np.Spec.Tier), Order: np.Spec.Order}
	p.Ingress, p.Egress = inferTypes(np.Spec.Types, np.Spec.Ingress, np.Spec.Egress)
	var err error
	field := "NetworkPolicy " + name + ": spec"
	if p.applies, err = newEntitySelector(field, np.Spec.Selector, scope{namespace: np.Namespace}, nil, np.Spec.ServiceAccountSelector); err != nil {
		return nil, err
	}
	sc := scope{namespace: np.Namespace}
	if p.InRules, err = compileRules(field+".ingress", np.Spec.Ingress, sc); err != nil {
		return nil, err
	}
	if p.OutRules, err = compileRules(field+".egress", np.Spec.Egress, sc); err != nil {
		return nil, err
	}
	p.digests = digests(p.InRules, p.OutRules)
	return p, nil
}

func compileGlobalPolicy(g *v3.GlobalNetworkPolicy) (*Policy, error) {
	p := &Policy{Name: g.Name, Tier: tierOf(g.Spec.Tier), Order: g.Spec.Order,
		DoNotTrack: g.Spec.DoNotTrack, PreDNAT: g.Spec.PreDNAT, ApplyOnForward: g.Spec.ApplyOnForward}
	p.Ingress, p.Egress = inferTypes(g.Spec.Types, g.Spec.Ingress, g.Spec.Egress)
	var err error
	field := "GlobalNetworkPolicy " + g.Name + ": spec"
	if err := checkHostFlags(field, p); err != nil {
		return nil, err
	}
	if p.applies, err = newEntitySelector(field, g.Spec.Selector, scope{nsSel: g.Spec.NamespaceSelector}, nil, g.Spec.ServiceAccountSelector); err != nil {
		return nil, err
	}
	if p.InRules, err = compileRules(field+".ingress", g.Spec.Ingress, scope{}); err != nil {
		return nil, err
	}
	if p.OutRules, err = compileRules(field+".egress", g.Spec.Egress, scope{}); err != nil {
		return nil, err
	}
	p.digests = digests(p.InRules, p.OutRules)
	return p, nil
}

// checkHostFlags refuses what Calico refuses of the host endpoint flags
// (validation does at apply; a datastore written by another tool may
// still hold it): preDNAT with doNotTrack, either without
// applyOnForward, and a preDNAT policy with egress.
func checkHostFlags(field string, p *Policy) error {
	switch {
	case p.PreDNAT && p.DoNotTrack:
		return fmt.Errorf("%s.preDNAT = true: cannot be combined with doNotTrack", field)
	case (p.PreDNAT || p.DoNotTrack) && !p.ApplyOnForward:
		return fmt.Errorf("%s.applyOnForward = false: must be true when doNotTrack or preDNAT is set", field)
	case p.PreDNAT && p.Egress:
		return fmt.Errorf("%s.types: a preDNAT policy cannot apply to Egress", field)
	}
	return nil
}

func compileProfile(pr *v3.Profile) (*Profile, error) {
	p := &Profile{Name: pr.Name, Labels: pr.Spec.LabelsToApply}
	field := "Profile " + pr.Name + ": spec"
	var err error
	if p.InRules, err = compileRules(field+".ingress", pr.Spec.Ingress, scope{}); err != nil {
		return nil, err
	}
	if p.OutRules, err = compileRules(field+".egress", pr.Spec.Egress, scope{}); err != nil {
		return nil, err
	}
	for i, r := range append(p.InRules, p.OutRules...) {
		if r.Action == v3.Pass {
			return nil, fmt.Errorf("%s: rule %d: action Pass is not allowed in a Profile", field, i)
		}
	}
	p.digests = digests(p.InRules, p.OutRules)
	return p, nil
}

func tierOf(t string) string {
	if t == "" {
		return v3.DefaultTierName
	}
	return t
}

func compileRules(field string, rs []v3.Rule, sc scope) ([]Rule, error) {
	out := make([]Rule, 0, len(rs))
	for i, r := range rs {
		c, err := compileRule(fmt.Sprintf("%s[%d]", field, i), r, sc)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func compileRule(field string, r v3.Rule, sc scope) (Rule, error) {
	out := Rule{Action: r.Action}
	switch r.Action {
	case v3.Allow, v3.Deny, v3.Pass, v3.Log:
	default:
		return out, fmt.Errorf("%s.action = %q: must be Allow, Deny, Pass or Log", field, r.Action)
	}
	if r.IPVersion != nil {
		out.IPVersion = *r.IPVersion
	}
	var err error
	if out.Protocol, err = protocolNumber(field+".protocol", r.Protocol); err != nil {
		return out, err
	}
	if out.NotProtocol, err = protocolNumber(field+".notProtocol", r.NotProtocol); err != nil {
		return out, err
	}
	out.ICMP, out.NotICMP = icmpMatch(r.ICMP), icmpMatch(r.NotICMP)
	if out.Src, err = compileSide(field+".source", r.Source, sc); err != nil {
		return out, err
	}
	if out.Dst, err = compileSide(field+".destination", r.Destination, sc); err != nil {
		return out, err
	}
	return out, nil
}

func protocolNumber(field string, p *v3.Protocol) (uint8, error) {
	if p == nil {
		return 0, nil
	}
	n, ok := p.Number()
	if !ok || n < 1 || n > 255 {
		return 0, fmt.Errorf("%s = %q: not a protocol name or number 1-255", field, p.String())
	}
	return uint8(n), nil
}

func icmpMatch(f *v3.ICMPFields) *ICMPMatch {
	if f == nil || f.Type == nil {
		return nil
	}
	m := &ICMPMatch{Type: *f.Type, Code: -1}
	if f.Code != nil {
		m.Code = *f.Code
	}
	return m
}

func compileSide(field string, e v3.EntityRule, sc scope) (Side, error) {
	var s Side
	var err error
	if s.Nets, err = parseNets(field+".nets", e.Nets); err != nil {
		return s, err
	}
	if s.NotNets, err = parseNets(field+".notNets", e.NotNets); err != nil {
		return s, err
	}
	if e.NamespaceSelector != "" {
		sc = scope{nsSel: e.NamespaceSelector}
	}
	var saNames []string
	saSel := ""
	if e.ServiceAccounts != nil {
		saNames, saSel = e.ServiceAccounts.Names, e.ServiceAccounts.Selector
	}
	if e.Selector != "" || e.NamespaceSelector != "" || e.ServiceAccounts != nil {
		if s.Sel, err = newEntitySelector(field, e.Selector, sc, saNames, saSel); err != nil {
			return s, err
		}
	}
	if e.NotSelector != "" {
		if s.NotSel, err = newEntitySelector(field+".not", e.NotSelector, scope{}, nil, ""); err != nil {
			return s, err
		}
	}
	s.Ports, s.NotPorts = portMatches(e.Ports), portMatches(e.NotPorts)
	return s, nil
}

func parseNets(field string, nets []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, n := range nets {
		p, err := ParseNet(n)
		if err != nil {
			return nil, fmt.Errorf("%s[%d] = %q: not a CIDR or IP address", field, i, n)
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseNet reads a CIDR, or a single address as its /32 or /128.
func ParseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func portMatches(ps []v3.Port) []PortMatch {
	var out []PortMatch
	for _, p := range ps {
		out = append(out, PortMatch{Min: p.MinPort, Max: p.MaxPort, Name: p.PortName})
	}
	return out
}
