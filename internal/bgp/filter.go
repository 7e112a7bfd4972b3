package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"

	api "github.com/osrg/gobgp/v4/api"
)

// FilterRule is one rule of a session's import or export filter (a
// BGPFilter rule, resolved by calc). A session's rules are tried in order;
// the first that matches a route accepts or rejects it; a route no rule
// matches gets the default: imported, or exported when this node
// originates it (or reflects it, on a route reflector).
type FilterRule struct {
	// Prefixes the route's prefix is matched against: it matches when it
	// is within one of them with a length in [Min, Max]. Empty: every
	// prefix.
	Prefixes []PrefixRange
	// Invert matches the routes that are not within Prefixes.
	Invert bool
	// Source restricts the rule to routes this node originates
	// (SourceLocal) or learned from peers (SourceRemote); empty: any.
	Source string
	// LocalPref, when not 0, restricts the rule to routes with this
	// LOCAL_PREF (a BGPFilter rule's priority; a route without one has
	// BGP's default, 100).
	LocalPref uint32
	// Accept accepts the route; false rejects it.
	Accept bool
}

// PrefixRange is a prefix and the lengths of the routes within it that
// match.
type PrefixRange struct {
	Prefix   netip.Prefix
	Min, Max int
}

// FilterRule sources.
const (
	SourceLocal  = "local"
	SourceRemote = "remote"
)

// filterPolicies holds the GoBGP policies of the sessions' filters. Each
// change builds a new generation of policies under new names, points the
// assignments at it, then deletes the old one: a route is never judged by
// a half-built filter.
type filterPolicies struct {
	gen     int
	imports []string // policy names of the current generation
	exports []string
	sets    []string // defined sets of the current generation
}

// setFilters makes the sessions' filters those of peers, when they changed
// (want: the new peers; held: the old), and soft-resets the sessions whose
// filters changed so the new ones apply to what was already exchanged.
// Called with g.mu held, before the sessions themselves are changed.
func (g *GoBGP) setFilters(ctx context.Context, held map[netip.Addr]Peer, want []Peer) error {
	var changed []netip.Addr
	for _, p := range want {
		old, ok := held[p.Address]
		if ok && !reflect.DeepEqual(policyOf(old), policyOf(p)) {
			changed = append(changed, p.Address)
		}
		if !ok && policyOf(p).any() {
			changed = append(changed, netip.Addr{}) // a new filtered session: rebuild, nothing to reset
		}
	}
	for a, p := range held {
		if !slices.ContainsFunc(want, func(w Peer) bool { return w.Address == a }) && policyOf(p).any() {
			changed = append(changed, netip.Addr{})
		}
	}
	if len(changed) == 0 {
		return nil
	}
	old := g.filters
	next := filterPolicies{gen: old.gen + 1}
	sorted := slices.Clone(want)
	slices.SortFunc(sorted, func(x, y Peer) int { return x.Address.Compare(y.Address) })
	for _, p := range sorted {
		for _, dir := range []string{"import", "export"} {
			rules, nh := p.Import, (*api.NexthopAction)(nil)
			if dir == "export" {
				rules, nh = p.Export, nextHopAction(p)
			}
			if len(rules) == 0 && nh == nil {
				continue
			}
			name, sets, err := g.addFilterPolicy(ctx, next.gen, dir, p.Address, rules, nh)
			next.sets = append(next.sets, sets...)
			if err != nil {
				g.dropFilterPolicies(ctx, append(next.imports, next.exports...), next.sets)
				return fmt.Errorf("BGP peer %s: %s filter: %w", p.Name, dir, err)
			}
			if dir == "import" {
				next.imports = append(next.imports, name)
			} else {
				next.exports = append(next.exports, name)
			}
		}
	}
	prev := g.filters
	g.filters = next
	if err := g.setAssignments(ctx); err != nil {
		g.filters = prev
		g.dropFilterPolicies(ctx, append(next.imports, next.exports...), next.sets)
		return err
	}
	g.dropFilterPolicies(ctx, append(old.imports, old.exports...), old.sets)
	for _, a := range changed {
		if a.IsValid() {
			_ = g.s.ResetPeer(ctx, &api.ResetPeerRequest{Address: a.String(), Soft: true,
				Direction: api.ResetPeerRequest_DIRECTION_BOTH})
		}
	}
	return nil
}

// addFilterPolicy defines the policy of one session's filter in one
// direction: each rule a statement on the session's neighbor set.
func (g *GoBGP) addFilterPolicy(ctx context.Context, gen int, dir string, peer netip.Addr, rules []FilterRule, nh *api.NexthopAction) (string, []string, error) {
	name := fmt.Sprintf("tortie-%d-%s-%s", gen, dir, peer)
	nset := name + "-peer"
	err := g.s.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: &api.DefinedSet{
		DefinedType: api.DefinedType_DEFINED_TYPE_NEIGHBOR, Name: nset,
		List: []string{netip.PrefixFrom(peer, peer.BitLen()).String()}}})
	if err != nil {
		return "", nil, err
	}
	sets := []string{nset}
	pol := &api.Policy{Name: name}
	if nh != nil { // first, and decides nothing: the rules still apply
		pol.Statements = append(pol.Statements, &api.Statement{Name: name + "-nexthop",
			Conditions: &api.Conditions{NeighborSet: &api.MatchSet{Type: api.MatchSet_TYPE_ANY, Name: nset}},
			Actions:    &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_UNSPECIFIED, Nexthop: nh}})
	}
	for i, r := range rules {
		cond := &api.Conditions{NeighborSet: &api.MatchSet{Type: api.MatchSet_TYPE_ANY, Name: nset}}
		if r.LocalPref != 0 {
			cond.LocalPrefEq = &api.LocalPrefEq{Value: r.LocalPref}
		}
		if len(r.Prefixes) > 0 {
			pset := fmt.Sprintf("%s-%d", name, i)
			ds := &api.DefinedSet{DefinedType: api.DefinedType_DEFINED_TYPE_PREFIX, Name: pset}
			for _, pr := range r.Prefixes {
				ds.Prefixes = append(ds.Prefixes, &api.Prefix{IpPrefix: pr.Prefix.Masked().String(),
					MaskLengthMin: uint32(pr.Min), MaskLengthMax: uint32(pr.Max)})
			}
			if err := g.s.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: ds}); err != nil {
				return "", sets, fmt.Errorf("rule %d: %w", i, err)
			}
			sets = append(sets, pset)
			cond.PrefixSet = &api.MatchSet{Type: api.MatchSet_TYPE_ANY, Name: pset}
			if r.Invert {
				cond.PrefixSet.Type = api.MatchSet_TYPE_INVERT
			}
		}
		act := &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_REJECT}
		if r.Accept {
			act.RouteAction = api.RouteAction_ROUTE_ACTION_ACCEPT
		}
		types := []api.Conditions_RouteType{api.Conditions_ROUTE_TYPE_UNSPECIFIED}
		switch r.Source {
		case SourceLocal:
			types = []api.Conditions_RouteType{api.Conditions_ROUTE_TYPE_LOCAL}
		case SourceRemote:
			types = []api.Conditions_RouteType{api.Conditions_ROUTE_TYPE_INTERNAL, api.Conditions_ROUTE_TYPE_EXTERNAL}
		}
		for j, t := range types {
			c := cloneConditions(cond)
			c.RouteType = t
			pol.Statements = append(pol.Statements, &api.Statement{Name: fmt.Sprintf("%s-%d-%d", name, i, j),
				Conditions: c, Actions: act})
		}
	}
	if err := g.s.AddPolicy(ctx, &api.AddPolicyRequest{Policy: pol}); err != nil {
		return "", sets, err
	}
	return name, sets, nil
}

// sessionPolicy is what of a Peer its policies carry.
type sessionPolicy struct {
	Import, Export []FilterRule
	Keep, Self     bool
}

func policyOf(p Peer) sessionPolicy {
	return sessionPolicy{Import: p.Import, Export: p.Export, Keep: p.NextHopKeep, Self: p.NextHopSelf}
}

func (s sessionPolicy) any() bool { return len(s.Import)+len(s.Export) > 0 || s.Keep || s.Self }

// nextHopAction is the session's next-hop mode: Keep (BIRD's "next hop
// keep": the next hop a route came with, also towards eBGP peers) or Self.
func nextHopAction(p Peer) *api.NexthopAction {
	switch {
	case p.NextHopSelf:
		return &api.NexthopAction{Self: true}
	case p.NextHopKeep:
		return &api.NexthopAction{Unchanged: true}
	}
	return nil
}

func cloneConditions(c *api.Conditions) *api.Conditions {
	return &api.Conditions{NeighborSet: c.NeighborSet, PrefixSet: c.PrefixSet, LocalPrefEq: c.LocalPrefEq}
}

// dropFilterPolicies deletes policies and then their defined sets.
func (g *GoBGP) dropFilterPolicies(ctx context.Context, policies, sets []string) {
	var errs []error
	for _, p := range policies {
		errs = append(errs, g.s.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: p}, All: true}))
	}
	for _, s := range sets {
		errs = append(errs, g.s.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{
			DefinedSet: &api.DefinedSet{Name: s, DefinedType: setType(s)}, All: true}))
	}
	if err := errors.Join(errs...); err != nil {
		g.log.Warn("BGP: removing old filter policies", "error", err)
	}
}

func setType(name string) api.DefinedType {
	if len(name) > 5 && name[len(name)-5:] == "-peer" {
		return api.DefinedType_DEFINED_TYPE_NEIGHBOR
	}
	return api.DefinedType_DEFINED_TYPE_PREFIX
}

// setAssignments points the global import and export assignments at the
// current filters: import, the sessions' filters then accept; export, the
// sessions' filters, then what this node originates (and reflects), then
// reject.
func (g *GoBGP) setAssignments(ctx context.Context) error {
	var imp []*api.Policy
	for _, n := range g.filters.imports {
		imp = append(imp, &api.Policy{Name: n})
	}
	err := g.s.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_POLICY_DIRECTION_IMPORT,
		Policies: imp, DefaultAction: api.RouteAction_ROUTE_ACTION_ACCEPT}})
	if err != nil {
		return fmt.Errorf("BGP import policy: %w", err)
	}
	err = g.s.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: g.exportAssignment(g.reflect)})
	if err != nil {
		return fmt.Errorf("BGP export policy: %w", err)
	}
	return nil
}
