package v3

import "net/netip"

// Link-local ranges that no pool may overlap.
var (
	linkLocalV4 = netip.MustParsePrefix("169.254.0.0/16")
	linkLocalV6 = netip.MustParsePrefix("fe80::/10")
)

const maxPoolCIDRLen = 48

func validateIPPool(e *errs, s *IPPoolSpec) {
	pool, ok := validatePoolCIDR(e, s.CIDR)

	validateEncapMode(e, "spec.ipipMode", s.IPIPMode)
	validateEncapMode(e, "spec.vxlanMode", s.VXLANMode)
	if s.IPIPMode.Enabled() && s.VXLANMode.Enabled() {
		e.add("spec.ipipMode", s.IPIPMode, "cannot be enabled together with vxlanMode "+string(s.VXLANMode))
	}

	if ok {
		v4 := pool.Addr().Is4()
		lo, hi, family := 116, 128, 6
		if v4 {
			lo, hi, family = 20, 32, 4
		}
		switch {
		case s.BlockSize < lo || s.BlockSize > hi:
			e.addf("spec.blockSize", s.BlockSize, "must be between %d and %d for an IPv%d pool", lo, hi, family)
		case !s.Disabled && pool.Bits() > s.BlockSize:
			e.addf("spec.cidr", s.CIDR, "pool is smaller than one block: the prefix length must be at most blockSize %d", s.BlockSize)
		}
		if !v4 && s.IPIPMode.Enabled() {
			e.add("spec.ipipMode", s.IPIPMode, "IPIP is not supported on an IPv6 pool")
		}
	}

	e.selector("spec.nodeSelector", s.NodeSelector, false)
	e.selector("spec.namespaceSelector", s.NamespaceSelector, false)
	if s.IPIP != nil {
		e.add("spec.ipip", nil, "is the Calico v1 form; use ipipMode")
	}
	if s.NATOutgoingV1 {
		e.add("spec.nat-outgoing", true, "is the Calico v1 form; use natOutgoing")
	}
	validateAllowedUses(e, s)
	e.oneOf("spec.assignmentMode", string(s.AssignmentMode), string(AssignmentAutomatic), string(AssignmentManual))
	if s.AssignmentMode == "" {
		e.add("spec.assignmentMode", nil, "is required (Automatic or Manual)")
	}
}

// validatePoolCIDR checks the pool CIDR and returns it when it is usable.
func validatePoolCIDR(e *errs, cidr string) (netip.Prefix, bool) {
	if cidr == "" {
		e.add("spec.cidr", nil, "is required")
		return netip.Prefix{}, false
	}
	if len(cidr) > maxPoolCIDRLen {
		e.addf("spec.cidr", cidr, "must be at most %d characters", maxPoolCIDRLen)
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		e.add("spec.cidr", cidr, "must be a CIDR such as 10.244.0.0/16")
		return netip.Prefix{}, false
	}
	if p.Masked() != p {
		e.addf("spec.cidr", cidr, "must be a masked CIDR (did you mean %s?)", p.Masked())
		return netip.Prefix{}, false
	}
	if p.Addr().Is4() && p.Overlaps(linkLocalV4) {
		e.add("spec.cidr", cidr, "overlaps the IPv4 link-local range 169.254.0.0/16")
		return netip.Prefix{}, false
	}
	if p.Addr().Is6() && p.Overlaps(linkLocalV6) {
		e.add("spec.cidr", cidr, "overlaps the IPv6 link-local range fe80::/10")
		return netip.Prefix{}, false
	}
	return p, true
}

func validateEncapMode(e *errs, field string, m EncapMode) {
	if m == "" {
		e.add(field, nil, "is required (Never, Always or CrossSubnet)")
		return
	}
	e.oneOf(field, string(m), string(EncapNever), string(EncapAlways), string(EncapCrossSubnet))
}

func validateAllowedUses(e *errs, s *IPPoolSpec) {
	if len(s.AllowedUses) == 0 {
		e.add("spec.allowedUses", nil, "must list at least one of Workload, Tunnel, LoadBalancer")
	}
	for i, u := range s.AllowedUses {
		e.oneOf(at("spec.allowedUses", i), string(u), string(AllowedUseWorkload), string(AllowedUseTunnel), string(AllowedUseLoadBalancer))
	}
	if hasDuplicate(s.AllowedUses) {
		e.add("spec.allowedUses", s.AllowedUses, "must not list a use twice")
	}
	if s.NamespaceSelector != "" && s.HasAllowedUse(AllowedUseTunnel) {
		e.add("spec.namespaceSelector", s.NamespaceSelector, "cannot be set on a pool with allowedUses Tunnel")
	}
	if !s.HasAllowedUse(AllowedUseLoadBalancer) {
		return
	}
	if s.HasAllowedUse(AllowedUseWorkload) || s.HasAllowedUse(AllowedUseTunnel) {
		e.add("spec.allowedUses", s.AllowedUses, "LoadBalancer cannot be combined with Workload or Tunnel")
	}
	if !selectsAll(s.NodeSelector) {
		e.add("spec.nodeSelector", s.NodeSelector, "must be all() for a LoadBalancer pool")
	}
	if s.IPIPMode.Enabled() {
		e.add("spec.ipipMode", s.IPIPMode, "must be Never for a LoadBalancer pool")
	}
	if s.VXLANMode.Enabled() {
		e.add("spec.vxlanMode", s.VXLANMode, "must be Never for a LoadBalancer pool")
	}
	if s.DisableBGPExport {
		e.add("spec.disableBGPExport", true, "must be false for a LoadBalancer pool")
	}
}
