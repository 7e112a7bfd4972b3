package v3

import (
	"net/netip"
	"strconv"
)

// validateMoreKinds checks the kinds added after the first set: staged
// policies, BGP filters and node status requests.
func validateMoreKinds(e *errs, r Resource) {
	switch o := r.(type) {
	case *StagedNetworkPolicy:
		if validateStagedAction(e, o.Spec.StagedAction, len(o.Spec.Ingress)+len(o.Spec.Egress)+len(o.Spec.Types) > 0 || o.Spec.Selector != "") {
			validateNetworkPolicy(e, &o.Spec.NetworkPolicySpec)
		}
	case *StagedGlobalNetworkPolicy:
		if validateStagedAction(e, o.Spec.StagedAction, len(o.Spec.Ingress)+len(o.Spec.Egress)+len(o.Spec.Types) > 0 || o.Spec.Selector != "") {
			validateGlobalNetworkPolicy(e, &o.Spec.GlobalNetworkPolicySpec)
		}
	case *StagedKubernetesNetworkPolicy:
		s := &o.Spec
		if validateStagedAction(e, s.StagedAction, len(s.Ingress)+len(s.Egress)+len(s.PolicyTypes) > 0) {
			validateK8sPolicy(e, s)
		}
	case *BGPFilter:
		validateBGPFilter(e, &o.Spec)
	case *CalicoNodeStatus:
		validateNodeStatus(e, &o.Spec)
	}
}

// validateStagedAction checks the action and says whether the rest of the
// spec is to be checked: a Delete carries no policy, only its name.
func validateStagedAction(e *errs, a StagedAction, hasPolicy bool) bool {
	if a == "" {
		return true // Set
	}
	e.oneOf("spec.stagedAction", string(a), string(StagedActionSet), string(StagedActionDelete), string(StagedActionLearn), string(StagedActionIgnore))
	if a == StagedActionDelete {
		if hasPolicy {
			e.add("spec.stagedAction", a, "a staged Delete must not carry rules, types or a selector")
		}
		return false
	}
	return true
}

// validateK8sPolicy checks a Kubernetes NetworkPolicy spec as the
// Kubernetes API server does.
func validateK8sPolicy(e *errs, s *StagedKubernetesNetworkPolicySpec) {
	validateLabelSelector(e, "spec.podSelector", &s.PodSelector)
	for i, t := range s.PolicyTypes {
		e.oneOf(at("spec.policyTypes", i), string(t), string(PolicyTypeIngress), string(PolicyTypeEgress))
	}
	for _, d := range []struct {
		field, peers, wrong string
		rules               []K8sNetworkPolicyRule
	}{{"spec.ingress", ".from", ".to", s.Ingress}, {"spec.egress", ".to", ".from", s.Egress}} {
		for i, r := range d.rules {
			f := at(d.field, i)
			peers, wrong := r.From, r.To
			if d.field == "spec.egress" {
				peers, wrong = r.To, r.From
			}
			if len(wrong) > 0 {
				e.add(f+d.wrong, nil, "is not allowed in "+d.field+" rules")
			}
			for j, p := range r.Ports {
				validateK8sPort(e, at(f+".ports", j), &p)
			}
			for j, p := range peers {
				validateK8sPeer(e, at(f+d.peers, j), &p)
			}
		}
	}
}

func validateK8sPort(e *errs, f string, p *K8sNetworkPolicyPort) {
	if p.Protocol != nil {
		e.oneOf(f+".protocol", *p.Protocol, "TCP", "UDP", "SCTP")
	}
	if p.Port != nil && p.Port.IsRange() {
		e.add(f+".port", p.Port.String(), "must be a single port number or name")
	}
	if p.EndPort != nil {
		switch {
		case p.Port == nil || p.Port.PortName != "":
			e.add(f+".endPort", *p.EndPort, "needs a numeric port")
		case *p.EndPort < int32(p.Port.MinPort) || *p.EndPort > 65535:
			e.addf(f+".endPort", *p.EndPort, "must be between port (%d) and 65535", p.Port.MinPort)
		}
	}
}

func validateK8sPeer(e *errs, f string, p *K8sNetworkPolicyPeer) {
	if p.IPBlock != nil {
		if p.PodSelector != nil || p.NamespaceSelector != nil {
			e.add(f+".ipBlock", p.IPBlock.CIDR, "cannot be combined with podSelector or namespaceSelector")
		}
		cidr, ok := e.maskedNet(f+".ipBlock.cidr", p.IPBlock.CIDR)
		for i, x := range p.IPBlock.Except {
			if xp, xok := e.maskedNet(at(f+".ipBlock.except", i), x); ok && xok && !(cidr.Contains(xp.Addr()) && xp.Bits() > cidr.Bits()) {
				e.add(at(f+".ipBlock.except", i), x, "must be strictly within "+cidr.String())
			}
		}
	} else if p.PodSelector == nil && p.NamespaceSelector == nil {
		e.add(f, nil, "must have podSelector, namespaceSelector or ipBlock")
	}
	if p.PodSelector != nil {
		validateLabelSelector(e, f+".podSelector", p.PodSelector)
	}
	if p.NamespaceSelector != nil {
		validateLabelSelector(e, f+".namespaceSelector", p.NamespaceSelector)
	}
}

func validateLabelSelector(e *errs, f string, s *LabelSelector) {
	e.labels(f+".matchLabels", s.MatchLabels)
	for i, r := range s.MatchExpressions {
		g := at(f+".matchExpressions", i)
		e.labels(g, map[string]string{r.Key: ""})
		switch r.Operator {
		case "In", "NotIn":
			if len(r.Values) == 0 {
				e.add(g+".values", nil, "must be non-empty for operator "+r.Operator)
			}
		case "Exists", "DoesNotExist":
			if len(r.Values) > 0 {
				e.add(g+".values", r.Values, "must be empty for operator "+r.Operator)
			}
		default:
			e.add(g+".operator", r.Operator, "must be In, NotIn, Exists or DoesNotExist")
		}
	}
}

// bgpFilterIfaceRe is a BGPFilter rule's interface: a name, or a pattern
// with * wildcards (BIRD's ifname match: "*.calico", "eth*").
var bgpFilterIfaceRe = lazyRegexp(`^[a-zA-Z0-9_.*-]{1,15}$`)

// validateBGPFilter checks every rule against its address family.
func validateBGPFilter(e *errs, s *BGPFilterSpec) {
	for _, fam := range []struct {
		field string
		rules []BGPFilterRule
		bits  int
	}{{"spec.exportV4", s.ExportV4, 32}, {"spec.importV4", s.ImportV4, 32}, {"spec.exportV6", s.ExportV6, 128}, {"spec.importV6", s.ImportV6, 128}} {
		for i, r := range fam.rules {
			validateBGPFilterRule(e, at(fam.field, i), &r, fam.bits)
		}
	}
}

func validateBGPFilterRule(e *errs, f string, r *BGPFilterRule, bits int) {
	e.oneOf(f+".action", r.Action, "Accept", "Reject")
	if (r.CIDR == "") != (r.MatchOperator == "") {
		e.add(f+".cidr", r.CIDR, "cidr and matchOperator must be given together")
	}
	var cidr netip.Prefix
	if r.CIDR != "" {
		p, ok := e.maskedNet(f+".cidr", r.CIDR)
		if ok && p.Addr().BitLen() != bits {
			e.add(f+".cidr", r.CIDR, "must be an IPv"+map[int]string{32: "4", 128: "6"}[bits]+" CIDR in this list")
		}
		cidr = p
	}
	if r.MatchOperator != "" {
		e.oneOf(f+".matchOperator", r.MatchOperator, "Equal", "NotEqual", "In", "NotIn")
	}
	if r.Source != "" {
		e.oneOf(f+".source", r.Source, "RemotePeers")
	}
	if r.Interface != "" && !bgpFilterIfaceRe().MatchString(r.Interface) {
		e.add(f+".interface", r.Interface, "must be an interface name or pattern of 1-15 characters from [a-zA-Z0-9_.-] and * (any run)")
	}
	if r.PeerType != "" {
		e.oneOf(f+".peerType", r.PeerType, "eBGP", "iBGP")
	}
	e.intRange(f+".priority", r.Priority, minRoutePriority, maxRoutePriority)
	if pl := r.PrefixLength; pl != nil {
		validatePrefixLength(e, f+".prefixLength", pl, cidr, bits)
	}
}

func validatePrefixLength(e *errs, f string, pl *BGPFilterPrefixLength, cidr netip.Prefix, bits int) {
	lo := 0
	if cidr.IsValid() {
		lo = cidr.Bits()
	}
	for _, b := range []struct {
		name string
		v    *int32
	}{{"min", pl.Min}, {"max", pl.Max}} {
		if name, v := b.name, b.v; v != nil && (int(*v) < lo || int(*v) > bits) {
			e.add(f+"."+name, *v, "must be between "+strconv.Itoa(lo)+" (the cidr's length) and "+strconv.Itoa(bits))
		}
	}
	if pl.Min != nil && pl.Max != nil && *pl.Min > *pl.Max {
		e.add(f+".min", *pl.Min, "must not be greater than max")
	}
}

// validateNodeStatus checks a CalicoNodeStatus request.
func validateNodeStatus(e *errs, s *CalicoNodeStatusSpec) {
	e.requiredName("spec.node", s.Node)
	for i, c := range s.Classes {
		e.oneOf(at("spec.classes", i), c, "Agent", "BGP", "Routes")
	}
	if hasDuplicate(s.Classes) {
		e.add("spec.classes", s.Classes, "must not list a class twice")
	}
}
