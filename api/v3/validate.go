package v3

import (
	"fmt"
	"slices"
)

// Validate checks a whole resource, as Calico does on write. Call it after
// Default: unset fields that Default fills in are reported as invalid.
// It returns nil or a *ValidationError listing every invalid field.
//
// Rules that need other objects are not checked here: see
// ValidatePoolOverlap and ValidateUpdate.
func Validate(r Resource) error {
	var e errs
	validateInto(&e, r)
	return e.result(r)
}

// validateInto checks r and adds its problems to e.
func validateInto(e *errs, r Resource) {
	k := KindOf(r)
	if k.Kind == "" {
		e.addf("kind", fmt.Sprintf("%T", r), "is not a resource type of %s", APIVersion)
		return
	}
	validateMeta(e, k, r)
	switch o := r.(type) {
	case *IPPool:
		validateIPPool(e, &o.Spec)
	case *Node:
		validateNode(e, o)
	case *BGPPeer:
		validateBGPPeer(e, &o.Spec)
	case *BGPConfiguration:
		validateBGPConfiguration(e, o.Name, &o.Spec)
	case *FelixConfiguration:
		validateFelix(e, &o.Spec)
	case *ClusterInformation:
		validateSingleton(e, o.Name)
	case *KubeControllersConfiguration:
		validateSingleton(e, o.Name)
		validateKubeControllers(e, &o.Spec)
	case *Tier:
		validateTier(e, o.Name, &o.Spec)
	case *NetworkPolicy:
		validateNetworkPolicy(e, &o.Spec)
	case *GlobalNetworkPolicy:
		validateGlobalNetworkPolicy(e, &o.Spec)
	case *Profile:
		validateProfile(e, &o.Spec)
	case *HostEndpoint:
		validateHostEndpoint(e, &o.Spec)
	case *WorkloadEndpoint:
		validateWorkloadEndpoint(e, &o.Spec)
	case *NetworkSet:
		validateNetworkSetLabels(e, o.Labels)
		validateNets(e, "spec.nets", o.Spec.Nets)
	case *GlobalNetworkSet:
		validateNetworkSetLabels(e, o.Labels)
		validateNets(e, "spec.nets", o.Spec.Nets)
	case *IPReservation:
		validateNets(e, "spec.reservedCIDRs", o.Spec.ReservedCIDRs)
	default:
		validateMoreKinds(e, r)
	}
}

// validateMeta checks the TypeMeta and the metadata common to all kinds.
func validateMeta(e *errs, k KindInfo, r Resource) {
	t := r.GetTypeMeta()
	if t.Kind != "" && t.Kind != k.Kind {
		e.add("kind", t.Kind, "must be "+k.Kind)
	}
	if t.APIVersion != "" && t.APIVersion != APIVersion {
		e.add("apiVersion", t.APIVersion, "must be "+APIVersion)
	}
	m := r.GetObjectMeta()
	e.requiredName("metadata.name", m.Name)
	switch {
	case k.Namespaced && m.Namespace == "":
		e.add("metadata.namespace", nil, "is required for "+k.Kind)
	case k.Namespaced && (len(m.Namespace) > 63 || !dns1123LabelRe().MatchString(m.Namespace)):
		e.add("metadata.namespace", m.Namespace, "must be a DNS-1123 label: at most 63 lower case alphanumeric characters or '-', starting and ending with an alphanumeric character")
	case !k.Namespaced && m.Namespace != "":
		e.add("metadata.namespace", m.Namespace, "must be empty: "+k.Kind+" is not namespaced")
	}
	e.labels("metadata.labels", m.Labels)
	e.annotations("metadata.annotations", m.Annotations)
}

// validateSingleton checks the name of a kind that only exists as "default".
func validateSingleton(e *errs, name string) {
	if name != "" && name != SingletonName {
		e.add("metadata.name", name, `must be "default"`)
	}
}

// validateNets checks a list of strictly masked CIDRs or single IPs.
func validateNets(e *errs, field string, nets []string) {
	for i, n := range nets {
		e.maskedNet(at(field, i), n)
	}
}

// ValidateUpdate checks new as Validate does, plus the rules about changing
// old into new: kind, metadata.name and metadata.namespace cannot change;
// an IPPool's cidr and blockSize are immutable, and its allowedUses cannot
// change away from LoadBalancer. Both should have been defaulted.
func ValidateUpdate(old, new Resource) error {
	var e errs
	validateInto(&e, new)
	if KindOf(old).Kind != KindOf(new).Kind {
		e.add("kind", KindOf(new).Kind, "cannot change from "+KindOf(old).Kind)
		return e.result(new)
	}
	om, nm := old.GetObjectMeta(), new.GetObjectMeta()
	if om.Name != nm.Name {
		e.addf("metadata.name", nm.Name, "is immutable (was %q)", om.Name)
	}
	if om.Namespace != nm.Namespace {
		e.addf("metadata.namespace", nm.Namespace, "is immutable (was %q)", om.Namespace)
	}
	if op, ok := old.(*IPPool); ok {
		validateIPPoolUpdate(&e, &op.Spec, &new.(*IPPool).Spec)
	}
	return e.result(new)
}

func validateIPPoolUpdate(e *errs, old, new *IPPoolSpec) {
	if old.CIDR != new.CIDR {
		e.addf("spec.cidr", new.CIDR, "is immutable (was %q); create a new pool and disable this one instead", old.CIDR)
	}
	if old.BlockSize != new.BlockSize {
		e.addf("spec.blockSize", new.BlockSize, "is immutable (was %d)", old.BlockSize)
	}
	if old.HasAllowedUse(AllowedUseLoadBalancer) && !new.HasAllowedUse(AllowedUseLoadBalancer) {
		e.add("spec.allowedUses", new.AllowedUses, "cannot change away from LoadBalancer")
	}
}

// ValidatePoolOverlap checks that p's CIDR overlaps none of others' CIDRs.
// A pool in others with p's name is skipped (it is p's previous version),
// as are pools whose CIDR does not parse.
func ValidatePoolOverlap(p *IPPool, others []*IPPool) error {
	var e errs
	mine, err := parseNet(p.Spec.CIDR)
	if err != nil {
		return nil // Validate reports it.
	}
	for _, o := range others {
		if o == nil || o.Name == p.Name {
			continue
		}
		theirs, err := parseNet(o.Spec.CIDR)
		if err != nil {
			continue
		}
		if mine.Overlaps(theirs) {
			e.addf("spec.cidr", p.Spec.CIDR, "overlaps with IPPool %q (%s)", o.Name, o.Spec.CIDR)
		}
	}
	return e.result(p)
}

// hasDuplicate reports whether s holds a value twice.
func hasDuplicate[T comparable](s []T) bool {
	for i := range s {
		if slices.Contains(s[i+1:], s[i]) {
			return true
		}
	}
	return false
}
