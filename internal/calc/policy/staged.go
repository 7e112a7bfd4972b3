package policy

import (
	"maps"
	"slices"

	v3 "github.com/tortienet/tortie/api/v3"
)

// Staged policies (StagedNetworkPolicy, StagedGlobalNetworkPolicy) are
// compiled and kept apart from the enforced ones: nothing the dataplane
// renders, nor Evaluate, ever sees them. Preview answers what they would
// do once committed, as Calico's staged policy preview does: a Set stands
// in for the enforced policy of the same name (or joins the others when
// there is none), a Delete removes it, Learn and Ignore change nothing.

// StagedPolicy is a compiled staged policy.
type StagedPolicy struct {
	Policy *Policy // nil for a Delete
	// Name is the enforced policy's name it stands for (Policy.Name's form).
	Name   string
	Action v3.StagedAction
}

func (m *Model) addStaged(in Input) {
	for _, s := range in.StagedNetworkPolicies {
		np := &v3.NetworkPolicy{ObjectMeta: s.ObjectMeta, Spec: s.Spec.NetworkPolicySpec}
		m.stage(s.Spec.StagedAction, s.Namespace+"/"+s.Name, func() (*Policy, error) { return compileNetworkPolicy(np) })
	}
	for _, s := range in.StagedGlobalNetworkPolicies {
		g := &v3.GlobalNetworkPolicy{ObjectMeta: s.ObjectMeta, Spec: s.Spec.GlobalNetworkPolicySpec}
		m.stage(s.Spec.StagedAction, s.Name, func() (*Policy, error) { return compileGlobalPolicy(g) })
	}
}

func (m *Model) stage(action v3.StagedAction, name string, compile func() (*Policy, error)) {
	if action == "" {
		action = v3.StagedActionSet
	}
	sp := StagedPolicy{Name: name, Action: action}
	if action == v3.StagedActionSet {
		p, err := compile()
		if err != nil {
			m.Problems = append(m.Problems, "staged "+err.Error())
			return
		}
		sp.Policy = p
	}
	m.Staged = append(m.Staged, sp)
}

// Preview is the model as it would be with every staged policy
// committed; m itself is unchanged. Without staged policies it is m.
func (m *Model) Preview() *Model {
	if len(m.Staged) == 0 {
		return m
	}
	pm := *m
	pm.forCache = map[string][]TierPolicies{}
	pm.Staged = nil
	byName := map[string]*Policy{}
	for _, p := range m.Policies {
		byName[p.Name] = p
	}
	for _, s := range m.Staged {
		switch s.Action {
		case v3.StagedActionSet:
			byName[s.Name] = s.Policy
		case v3.StagedActionDelete:
			delete(byName, s.Name)
		}
	}
	pm.Policies = slices.Collect(maps.Values(byName))
	pm.sortPolicies()
	return &pm
}
