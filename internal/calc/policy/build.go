package policy

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
)

// Model is the compiled policy state of a cluster.
type Model struct {
	Tiers    []Tier // in evaluation order
	Policies []*Policy
	Profiles map[string]*Profile
	// Staged are the staged policies, for Preview only.
	Staged []StagedPolicy
	// Entities are every endpoint and network set, by kind and key order.
	Entities []*Entity
	byAddr   map[netip.Addr][]*Entity // endpoints by address
	sets     []*Entity                // network sets
	// forCache holds For's answers by endpoint signature (kind, namespace,
	// labels, service account): replicas of one workload share them.
	forCache map[string][]TierPolicies
	// index, when set, holds the endpoints and sets instead of Entities
	// (see BuildIndexed).
	index *Index
	// Problems name what could not be compiled (and is left out).
	Problems []string
}

// Build compiles in. A policy or profile that does not compile is left
// out and named in Problems; Build itself never fails.
func Build(in Input) *Model { return NewBuilder().Build(in) }

// Builder builds Models and remembers what it compiled, by resource: a
// policy or profile that is the same object as in the previous Build is
// not compiled again (callers must not change a resource in place between
// builds: the node agent's view decodes a new object for every change).
// Not safe for concurrent use.
type Builder struct {
	policies map[any]compiled
	profiles map[*v3.Profile]compiled
	// entities are the endpoints and sets last built, by resource; they
	// stand while the profiles (whose labelsToApply they carry) are the
	// same objects.
	entities    map[any]*Entity
	profilesKey string
}

type compiled struct {
	policy  *Policy
	profile *Profile
	err     error
}

// NewBuilder returns a Builder with nothing remembered.
func NewBuilder() *Builder {
	return &Builder{policies: map[any]compiled{}, profiles: map[*v3.Profile]compiled{}}
}

// Build is Build, compiling only what changed since the last call.
func (b *Builder) Build(in Input) *Model {
	m := b.buildRules(in)
	b.buildEntities(m, in)
	return m
}

// BuildIndexed is Build with the endpoints and sets of x instead of in's
// (which are ignored): the Model is for Compile, which then takes the
// node's endpoints and the selectors' members from x. x must have been
// fed the profiles' labelsToApply.
func (b *Builder) BuildIndexed(in Input, x *Index) *Model {
	m := b.buildRules(in)
	m.index = x
	return m
}

// buildRules compiles in's tiers, policies and profiles.
func (b *Builder) buildRules(in Input) *Model {
	m := &Model{Profiles: map[string]*Profile{}, byAddr: map[netip.Addr][]*Entity{}, forCache: map[string][]TierPolicies{}}
	m.buildTiers(in.Tiers)
	profiles := map[*v3.Profile]compiled{}
	for _, pr := range in.Profiles {
		c, ok := b.profiles[pr]
		if !ok {
			c.profile, c.err = compileProfile(pr)
		}
		profiles[pr] = c
		if c.err != nil {
			m.Problems = append(m.Problems, c.err.Error())
		} else {
			m.Profiles[c.profile.Name] = c.profile
		}
	}
	policies := map[any]compiled{}
	for _, np := range in.NetworkPolicies {
		m.addPolicy(b.policy(np, policies, func() (*Policy, error) { return compileNetworkPolicy(np) }))
	}
	for _, g := range in.GlobalNetworkPolicies {
		m.addPolicy(b.policy(g, policies, func() (*Policy, error) { return compileGlobalPolicy(g) }))
	}
	b.policies, b.profiles = policies, profiles
	m.sortPolicies()
	m.addStaged(in)
	return m
}

// buildEntities adds in's endpoints and sets to m, reusing the entities
// of the last Build for resources that are the same objects when the
// profiles are too.
func (b *Builder) buildEntities(m *Model, in Input) {
	var key strings.Builder
	for _, pr := range in.Profiles {
		fmt.Fprintf(&key, "%p ", pr)
	}
	last := b.entities
	if key.String() != b.profilesKey {
		last = nil
	}
	b.entities, b.profilesKey = make(map[any]*Entity, len(last)), key.String()
	m.buildEntities(in, func(r any, build func() *Entity) *Entity {
		e, ok := last[r]
		if !ok {
			e = build()
		}
		b.entities[r] = e
		return e
	})
}

// policy compiles the resource r, or finds it compiled last time; seen
// collects what this Build used.
func (b *Builder) policy(r any, seen map[any]compiled, compile func() (*Policy, error)) (*Policy, error) {
	c, ok := b.policies[r]
	if !ok {
		c.policy, c.err = compile()
	}
	seen[r] = c
	return c.policy, c.err
}

func (m *Model) addPolicy(p *Policy, err error) {
	if err != nil {
		m.Problems = append(m.Problems, err.Error())
		return
	}
	m.Policies = append(m.Policies, p)
}

func (m *Model) buildTiers(ts []*v3.Tier) {
	seen := map[string]bool{}
	for _, t := range ts {
		m.Tiers = append(m.Tiers, compileTier(t))
		seen[t.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(fixedTiers)) {
		if !seen[name] {
			m.Tiers = append(m.Tiers, fixedTiers[name])
		}
	}
	slices.SortFunc(m.Tiers, func(a, b Tier) int { return byOrderThenName(a.Order, b.Order, a.Name, b.Name) })
}

// byOrderThenName orders by ascending order, nil last, then by name.
func byOrderThenName(ao, bo *float64, an, bn string) int {
	switch {
	case ao == nil && bo != nil:
		return 1
	case ao != nil && bo == nil:
		return -1
	case ao != nil && bo != nil && *ao != *bo:
		return cmp.Compare(*ao, *bo)
	}
	return cmp.Compare(an, bn)
}

func (m *Model) sortPolicies() {
	slices.SortFunc(m.Policies, func(a, b *Policy) int { return byOrderThenName(a.Order, b.Order, a.Name, b.Name) })
}

// buildEntities adds in's endpoints and sets; entity makes (or finds) the
// entity of a resource.
func (m *Model) buildEntities(in Input, entity func(r any, build func() *Entity) *Entity) {
	for _, w := range in.WorkloadEndpoints {
		m.addEntity(entity(w, func() *Entity { return workloadEntity(w, m.profileLabels) }))
	}
	shared := map[any]*Entity{}
	for _, w := range in.Workloads {
		m.addEntity(entity(w, func() *Entity { return m.workloadOf(w.WorkloadInfo(), shared) }))
	}
	for _, h := range in.HostEndpoints {
		m.addEntity(entity(h, func() *Entity { return hostEntity(h, m.profileLabels) }))
	}
	for _, s := range in.NetworkSets {
		m.addEntity(entity(s, func() *Entity { return netSetEntity(s) }))
	}
	for _, s := range in.GlobalNetworkSets {
		m.addEntity(entity(s, func() *Entity { return globalSetEntity(s) }))
	}
}

func netSetEntity(s *v3.NetworkSet) *Entity {
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelNamespace] = s.Namespace
	return withSig(&Entity{Key: s.Namespace + "/" + s.Name, Nets: nets(s.Spec.Nets),
		EntityAttrs: &EntityAttrs{Kind: NetworkSet, Namespace: s.Namespace, Labels: labels}})
}

func globalSetEntity(s *v3.GlobalNetworkSet) *Entity {
	return withSig(&Entity{Key: s.Name, Nets: nets(s.Spec.Nets), EntityAttrs: &EntityAttrs{Kind: NetworkSet, Labels: orEmpty(s.Labels)}})
}

func (m *Model) addEntity(e *Entity) {
	m.Entities = append(m.Entities, e)
	if e.Kind == NetworkSet {
		m.sets = append(m.sets, e)
		return
	}
	for _, n := range e.Nets {
		if n.IsSingleIP() {
			m.byAddr[n.Addr()] = append(m.byAddr[n.Addr()], e)
		}
	}
}

// profileLabels are the labelsToApply of a compiled profile (nil: none).
func (m *Model) profileLabels(name string) map[string]string {
	if p := m.Profiles[name]; p != nil {
		return p.Labels
	}
	return nil
}

// workloadEntity is a WorkloadEndpoint with its effective labels: its
// own, the namespace, orchestrator and service account labels Calico
// writes, then its profiles' labelsToApply (profileLabels) where it has
// no label of that name.
func workloadEntity(w *v3.WorkloadEndpoint, profileLabels func(string) map[string]string) *Entity {
	return workloadInfoEntity(WorkloadInfo{Namespace: w.Namespace, Name: w.Name, Node: w.Spec.Node, Interface: w.Spec.InterfaceName,
		Orchestrator: w.Spec.Orchestrator, ServiceAccount: w.Spec.ServiceAccountName, Pod: w.Spec.Pod, Labels: w.Labels,
		Nets: nets(w.Spec.IPNetworks), Profiles: w.Spec.Profiles, Ports: w.Spec.Ports}, profileLabels, nil)
}

// workloadOf is workloadEntity for a WorkloadInfo. Workloads of one
// Shared value (shared not nil) share the effective labels, the ports
// and the signature of the first.
func (m *Model) workloadOf(w WorkloadInfo, shared map[any]*Entity) *Entity {
	e := workloadInfoEntity(w, m.profileLabels, shared[w.Shared])
	if w.Shared != nil && shared != nil {
		shared[w.Shared] = e
	}
	return e
}

// workloadKey is a WorkloadInfo's Key, made from its namespace and name
// when empty.
func workloadKey(w WorkloadInfo) string {
	if w.Key == "" {
		return w.Namespace + "/" + w.Name
	}
	return w.Key
}

// workloadInfoEntity is the entity of w; like is nil or an entity of the
// same Shared value, whose effective labels, ports and signature it takes
// instead of working them out again.
func workloadInfoEntity(w WorkloadInfo, profileLabels func(string) map[string]string, like *Entity) *Entity {
	e := &Entity{Key: workloadKey(w), Nets: w.Nets, Node: w.Node, Interface: w.Interface}
	if like != nil && w.Shared != nil {
		e.EntityAttrs = like.EntityAttrs
		return e
	}
	e.EntityAttrs = &EntityAttrs{Kind: WorkloadEndpoint, Namespace: w.Namespace, Profiles: w.Profiles,
		ServiceAccount: w.ServiceAccount, Pod: w.Pod}
	e.Labels = maps.Clone(orEmpty(w.Labels))
	setIfAbsent(e.Labels, LabelNamespace, w.Namespace)
	setIfAbsent(e.Labels, LabelOrchestrator, w.Orchestrator)
	setIfAbsent(e.Labels, LabelServiceAccount, w.ServiceAccount)
	applyProfileLabels(e.Labels, w.Profiles, profileLabels)
	for _, p := range w.Ports {
		if n, ok := p.Protocol.Number(); ok && p.Port > 0 && p.Port < 65536 {
			e.Ports = append(e.Ports, NamedPort{Name: p.Name, Protocol: uint8(n), Port: uint16(p.Port)})
		}
	}
	return withSig(e)
}

func hostEntity(h *v3.HostEndpoint, profileLabels func(string) map[string]string) *Entity {
	labels := maps.Clone(orEmpty(h.Labels))
	applyProfileLabels(labels, h.Spec.Profiles, profileLabels)
	e := &Entity{Key: h.Name, Nets: nets(h.Spec.ExpectedIPs), Node: h.Spec.Node, Interface: h.Spec.InterfaceName,
		EntityAttrs: &EntityAttrs{Kind: HostEndpoint, Labels: labels, Profiles: h.Spec.Profiles}}
	for _, p := range h.Spec.Ports {
		if n, ok := p.Protocol.Number(); ok && p.Port > 0 && p.Port < 65536 {
			e.Ports = append(e.Ports, NamedPort{Name: p.Name, Protocol: uint8(n), Port: uint16(p.Port)})
		}
	}
	return withSig(e)
}

func applyProfileLabels(labels map[string]string, profiles []string, profileLabels func(string) map[string]string) {
	for _, name := range profiles {
		for k, v := range profileLabels(name) {
			if _, ok := labels[k]; !ok {
				labels[k] = v // an empty value is a label too
			}
		}
	}
}

// setIfAbsent sets a Calico label unless the endpoint has it or there is
// no value to give.
func setIfAbsent(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok && v != "" {
		m[k] = v
	}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nets(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := ParseNet(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}
