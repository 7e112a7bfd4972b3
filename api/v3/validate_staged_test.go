package v3

import "testing"

func TestValidateStagedPolicies(t *testing.T) {
	type P = *StagedNetworkPolicy
	base := func() P {
		p := &StagedNetworkPolicy{ObjectMeta: ObjectMeta{Name: "p", Namespace: "ns"},
			Spec: StagedNetworkPolicySpec{NetworkPolicySpec: NetworkPolicySpec{Selector: "all()", Ingress: []Rule{{Action: Allow}}}}}
		Default(p)
		return p
	}
	runCases(t, base, []vcase[P]{
		ok("set by default", func(P) {}),
		ok("learn", func(p P) { p.Spec.StagedAction = StagedActionLearn }),
		bad("unknown action", "spec.stagedAction", `"Apply"`, func(p P) { p.Spec.StagedAction = "Apply" }),
		bad("delete with rules", "spec.stagedAction", "must not carry", func(p P) { p.Spec.StagedAction = StagedActionDelete }),
		ok("delete without rules", func(p P) { p.Spec = StagedNetworkPolicySpec{StagedAction: StagedActionDelete} }),
		bad("policy checked", "spec.selector", `"a =="`, func(p P) { p.Spec.Selector = "a ==" }),
	})
	type G = *StagedGlobalNetworkPolicy
	gbase := func() G {
		g := &StagedGlobalNetworkPolicy{ObjectMeta: ObjectMeta{Name: "g"},
			Spec: StagedGlobalNetworkPolicySpec{GlobalNetworkPolicySpec: GlobalNetworkPolicySpec{Selector: "all()"}}}
		Default(g)
		return g
	}
	runCases(t, gbase, []vcase[G]{
		ok("plain", func(G) {}),
		bad("preDNAT rules apply", "spec.applyOnForward", "false", func(g G) { g.Spec.PreDNAT = true }),
	})
}

func TestValidateStagedKubernetesPolicy(t *testing.T) {
	type P = *StagedKubernetesNetworkPolicy
	tcp := "TCP"
	port := SinglePort(80)
	base := func() P {
		return &StagedKubernetesNetworkPolicy{ObjectMeta: ObjectMeta{Name: "k", Namespace: "ns"}, Spec: StagedKubernetesNetworkPolicySpec{
			PodSelector: LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Ingress:     []K8sNetworkPolicyRule{{Ports: []K8sNetworkPolicyPort{{Protocol: &tcp, Port: &port}}, From: []K8sNetworkPolicyPeer{{IPBlock: &K8sIPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}}}},
			PolicyTypes: []PolicyType{PolicyTypeIngress},
		}}
	}
	end := int32(70)
	runCases(t, base, []vcase[P]{
		ok("plain", func(P) {}),
		bad("protocol", "spec.ingress[0].ports[0].protocol", `"ICMP"`, func(p P) { icmp := "ICMP"; p.Spec.Ingress[0].Ports[0].Protocol = &icmp }),
		bad("endPort below port", "spec.ingress[0].ports[0].endPort", "70", func(p P) { p.Spec.Ingress[0].Ports[0].EndPort = &end }),
		bad("except outside", "spec.ingress[0].from[0].ipBlock.except[0]", `"192.168.0.0/16"`, func(p P) {
			p.Spec.Ingress[0].From[0].IPBlock.Except = []string{"192.168.0.0/16"}
		}),
		bad("to in ingress", "spec.ingress[0].to", "not allowed", func(p P) {
			p.Spec.Ingress[0].To = p.Spec.Ingress[0].From
		}),
		bad("operator", "spec.podSelector.matchExpressions[0].operator", `"Like"`, func(p P) {
			p.Spec.PodSelector.MatchExpressions = []LabelSelectorRequirement{{Key: "a", Operator: "Like"}}
		}),
		bad("In without values", "spec.podSelector.matchExpressions[0].values", "non-empty", func(p P) {
			p.Spec.PodSelector.MatchExpressions = []LabelSelectorRequirement{{Key: "a", Operator: "In"}}
		}),
		bad("policy type", "spec.policyTypes[0]", `"Both"`, func(p P) { p.Spec.PolicyTypes = []PolicyType{"Both"} }),
		bad("empty peer", "spec.ingress[0].from[0]", "must have", func(p P) { p.Spec.Ingress[0].From[0].IPBlock = nil }),
	})
}

func TestValidateBGPFilter(t *testing.T) {
	type F = *BGPFilter
	base := func() F {
		return &BGPFilter{ObjectMeta: ObjectMeta{Name: "f"}, Spec: BGPFilterSpec{
			ExportV4: []BGPFilterRule{{CIDR: "10.0.0.0/8", MatchOperator: "In", Action: "Accept"}},
			ImportV6: []BGPFilterRule{{Action: "Reject", Source: "RemotePeers", PeerType: "eBGP"}},
		}}
	}
	lo, hi := int32(4), int32(24)
	runCases(t, base, []vcase[F]{
		ok("plain", func(F) {}),
		bad("action", "spec.exportV4[0].action", `"Drop"`, func(f F) { f.Spec.ExportV4[0].Action = "Drop" }),
		bad("v6 cidr in v4 list", "spec.exportV4[0].cidr", `"fd00::/8"`, func(f F) { f.Spec.ExportV4[0].CIDR = "fd00::/8" }),
		bad("cidr without operator", "spec.exportV4[0].cidr", "together", func(f F) { f.Spec.ExportV4[0].MatchOperator = "" }),
		bad("operator", "spec.exportV4[0].matchOperator", `"Like"`, func(f F) { f.Spec.ExportV4[0].MatchOperator = "Like" }),
		bad("prefix min below cidr", "spec.exportV4[0].prefixLength.min", "4", func(f F) {
			f.Spec.ExportV4[0].PrefixLength = &BGPFilterPrefixLength{Min: &lo}
		}),
		ok("prefix length", func(f F) { f.Spec.ExportV4[0].PrefixLength = &BGPFilterPrefixLength{Max: &hi} }),
		bad("source", "spec.importV6[0].source", `"Local"`, func(f F) { f.Spec.ImportV6[0].Source = "Local" }),
		bad("peer type", "spec.importV6[0].peerType", `"any"`, func(f F) { f.Spec.ImportV6[0].PeerType = "any" }),
		ok("interface pattern", func(f F) { f.Spec.ExportV4[0].Interface = "*.calico" }),
		bad("interface", "spec.exportV4[0].interface", `"eth 0"`, func(f F) { f.Spec.ExportV4[0].Interface = "eth 0" }),
		ok("priority", func(f F) { p := 512; f.Spec.ExportV4[0].Priority = &p }),
		bad("priority 0", "spec.exportV4[0].priority", "0", func(f F) { p := 0; f.Spec.ExportV4[0].Priority = &p }),
		bad("priority too large", "spec.importV6[0].priority", "2147483647", func(f F) { p := 2147483647; f.Spec.ImportV6[0].Priority = &p }),
	})
}

func TestValidateCalicoNodeStatus(t *testing.T) {
	type S = *CalicoNodeStatus
	base := func() S {
		return &CalicoNodeStatus{ObjectMeta: ObjectMeta{Name: "s"}, Spec: CalicoNodeStatusSpec{Node: "node1", Classes: []string{"Agent", "BGP"}}}
	}
	runCases(t, base, []vcase[S]{
		ok("plain", func(S) {}),
		bad("node required", "spec.node", "required", func(s S) { s.Spec.Node = "" }),
		bad("class", "spec.classes[1]", `"Peers"`, func(s S) { s.Spec.Classes[1] = "Peers" }),
		bad("duplicate class", "spec.classes", "twice", func(s S) { s.Spec.Classes[1] = "Agent" }),
	})
}
