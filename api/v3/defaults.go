package v3

import "net/netip"

// Default applies the defaults Calico applies when a resource is written:
// it sets the TypeMeta and fills in the fields Calico defaults on write.
// Fields Calico leaves unset (most of FelixConfiguration, BGPConfiguration)
// stay unset. Default is idempotent and never fails; an unparsable value is
// left for Validate to report.
func Default(r Resource) {
	if k := KindOf(r); k.Kind != "" {
		*r.GetTypeMeta() = TypeMeta{Kind: k.Kind, APIVersion: APIVersion}
	}
	switch o := r.(type) {
	case *IPPool:
		defaultIPPool(&o.Spec)
	case *NetworkPolicy:
		o.Spec.Tier = defaultTier(o.Spec.Tier)
		o.Spec.Types = defaultTypes(o.Spec.Types, o.Spec.Ingress, o.Spec.Egress)
	case *GlobalNetworkPolicy:
		o.Spec.Tier = defaultTier(o.Spec.Tier)
		o.Spec.Types = defaultTypes(o.Spec.Types, o.Spec.Ingress, o.Spec.Egress)
	case *Tier:
		defaultTierSpec(o.Name, &o.Spec)
	case *StagedNetworkPolicy:
		o.Spec.Tier = defaultTier(o.Spec.Tier)
		if o.Spec.StagedAction != StagedActionDelete {
			o.Spec.Types = defaultTypes(o.Spec.Types, o.Spec.Ingress, o.Spec.Egress)
		}
	case *StagedGlobalNetworkPolicy:
		o.Spec.Tier = defaultTier(o.Spec.Tier)
		if o.Spec.StagedAction != StagedActionDelete {
			o.Spec.Types = defaultTypes(o.Spec.Types, o.Spec.Ingress, o.Spec.Egress)
		}
	}
}

// defaultIPPool converts the v1 fields and fills in the v3 defaults.
func defaultIPPool(s *IPPoolSpec) {
	if s.IPIP != nil {
		if s.IPIP.Enabled && s.IPIPMode == "" {
			s.IPIPMode = EncapAlways
			if s.IPIP.Mode == "cross-subnet" {
				s.IPIPMode = EncapCrossSubnet
			}
		}
		s.IPIP = nil
	}
	if s.NATOutgoingV1 {
		s.NATOutgoing = true
		s.NATOutgoingV1 = false
	}
	if s.VXLANMode == "" {
		s.VXLANMode = EncapNever
	}
	if s.IPIPMode == "" {
		s.IPIPMode = EncapNever
	}
	if s.BlockSize == 0 {
		if p, err := netip.ParsePrefix(s.CIDR); err == nil {
			if p.Addr().Is4() {
				s.BlockSize = 26
			} else {
				s.BlockSize = 122
			}
		}
	}
	if s.NodeSelector == "" {
		s.NodeSelector = "all()"
	}
	if len(s.AllowedUses) == 0 {
		s.AllowedUses = []IPPoolAllowedUse{AllowedUseWorkload, AllowedUseTunnel}
	}
	if s.AssignmentMode == "" {
		s.AssignmentMode = AssignmentAutomatic
	}
}

func defaultTier(t string) string {
	if t == "" {
		return DefaultTierName
	}
	return t
}

// defaultTypes returns types unchanged when set; otherwise [Ingress] when
// there are no egress rules, [Egress] when there are egress rules but no
// ingress rules, and both when there are both.
func defaultTypes(types []PolicyType, ingress, egress []Rule) []PolicyType {
	switch {
	case len(types) > 0:
		return types
	case len(egress) == 0:
		return []PolicyType{PolicyTypeIngress}
	case len(ingress) == 0:
		return []PolicyType{PolicyTypeEgress}
	default:
		return []PolicyType{PolicyTypeIngress, PolicyTypeEgress}
	}
}

// defaultTierSpec sets defaultAction Deny, and the fixed order and action of
// Calico's own tiers (default, kube-admin, kube-baseline).
func defaultTierSpec(name string, s *TierSpec) {
	order, action, fixed := fixedTier(name)
	if fixed && s.Order == nil {
		s.Order = &order
	}
	if s.DefaultAction == nil {
		a := Deny
		if fixed {
			a = action
		}
		s.DefaultAction = &a
	}
}

// fixedTier reports the fixed order and default action of Calico's own tiers.
func fixedTier(name string) (order float64, action Action, ok bool) {
	switch name {
	case DefaultTierName:
		return DefaultTierOrder, Deny, true
	case KubeAdminTierName:
		return KubeAdminTierOrder, Pass, true
	case KubeBaselineTierName:
		return KubeBaselineTierOrder, Pass, true
	}
	return 0, "", false
}
