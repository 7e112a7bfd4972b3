package node

import (
	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
)

// The view keeps what policy selectors match in a policy.Index, fed with
// each change as it comes (feedPolicy), so that a policy build reads the
// members of the selectors from it instead of evaluating every selector
// over every endpoint: a remote endpoint's relabel touches the selectors
// that may match it, a policy change reuses the sets that exist.

// feedPolicy passes a change of an endpoint, network set or profile
// (obj nil: old was deleted) to the view's policy Index.
func (v *view) feedPolicy(obj, old any) {
	if obj == nil {
		v.unfeedPolicy(old)
		return
	}
	switch o := obj.(type) {
	case *v3.WorkloadEndpoint:
		v.pol.PutWorkload(o)
	case *v3.HostEndpoint:
		v.pol.PutHost(o)
	case *v3.NetworkSet:
		v.pol.PutNetworkSet(o)
	case *v3.GlobalNetworkSet:
		v.pol.PutGlobalNetworkSet(o)
	case *v3.Profile:
		v.pol.PutProfile(o.Name, o.Spec.LabelsToApply)
	}
}

func (v *view) unfeedPolicy(old any) {
	switch o := old.(type) {
	case *v3.WorkloadEndpoint:
		v.pol.DeleteWorkload(o.Namespace, o.Name)
	case *v3.HostEndpoint:
		v.pol.DeleteHost(o.Name)
	case *v3.NetworkSet:
		v.pol.DeleteNetworkSet(o.Namespace, o.Name)
	case *v3.GlobalNetworkSet:
		v.pol.DeleteGlobalNetworkSet(o.Name)
	case *v3.Profile:
		v.pol.DeleteProfile(o.Name)
	}
}

// policyRulesLocked is the policy model's input without what the Index
// holds (endpoints and network sets): tiers, policies and profiles.
func (v *view) policyRulesLocked() policy.Input {
	nps := append(values[*v3.NetworkPolicy](v, kindNetworkPolicies),
		values[*v3.NetworkPolicy](v, kindKubernetesNetworkPolicies)...)
	return policy.Input{
		Tiers:                 values[*v3.Tier](v, kindTiers),
		NetworkPolicies:       nps,
		GlobalNetworkPolicies: values[*v3.GlobalNetworkPolicy](v, kindGlobalNetworkPolicies),
		Profiles:              values[*v3.Profile](v, kindProfiles),
	}
}

// compilePolicy builds the model of in (tiers, policies, profiles) with
// the view's Index and compiles this node's Program, under the view's
// lock (the Index changes with every event); ok is false while a full
// list is coming in.
func (v *view) compilePolicy(b *policy.Builder, in policy.Input) (m *policy.Model, prog policy.Program, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.synced || v.syncing {
		return nil, prog, false
	}
	m = b.BuildIndexed(in, v.pol)
	return m, policy.Compile(m, v.node), true
}
