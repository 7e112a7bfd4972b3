package nft

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/knftables"
)

// matches reports whether the table holds exactly want: no chain or set
// besides want's, every rule marked with want's definition digest, and
// every set's elements.
func (o *Owner) matches(ctx context.Context, want content) (bool, error) {
	var chains []string
	for _, kind := range []string{"chains", "sets", "maps"} {
		names, err := o.nft.List(ctx, kind)
		if knftables.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("list nftables %s of table %s: %w", kind, Table, err)
		}
		if len(names) != map[string]int{"chains": len(want.chains), "sets": len(want.sets), "maps": len(want.maps)}[kind] {
			return false, nil
		}
		if kind == "chains" {
			chains = names
		}
	}
	if ok, err := o.chainsMatch(ctx, want.chains, chains); err != nil || !ok {
		return false, err
	}
	for _, s := range want.sets {
		got, ok, err := o.elements(ctx, s)
		if err != nil || !ok {
			return false, err
		}
		if !slices.Equal(got, s.elements) {
			return false, nil
		}
	}
	for _, m := range want.maps {
		got, ok, err := o.mapElements(ctx, m.name)
		if err != nil || !ok {
			return false, err
		}
		if !slices.Equal(got, m.elements) {
			return false, nil
		}
	}
	return true, nil
}

// mapElements reads a map's elements as "key : value", sorted.
func (o *Owner) mapElements(ctx context.Context, name string) ([]string, bool, error) {
	es, err := o.nft.ListElements(ctx, "map", name)
	if knftables.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read nftables map %s: %w", name, err)
	}
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, strings.Join(e.Key, " . ")+" : "+strings.Join(e.Value, " "))
	}
	slices.Sort(out)
	return out, true, nil
}

// chainsMatch says whether the chains named have the rules of want, by
// their comments; the rules of every chain are read in one nft run (one
// per chain made a restarted agent run nft a dozen times and more).
func (o *Owner) chainsMatch(ctx context.Context, want []chainDef, names []string) (bool, error) {
	rules, err := o.nft.ListRules(ctx, "")
	if knftables.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the nftables rules of table %s: %w", Table, err)
	}
	byChain := map[string][]*knftables.Rule{}
	for _, r := range rules {
		byChain[r.Chain] = append(byChain[r.Chain], r)
	}
	for _, ch := range want {
		if !slices.Contains(names, ch.name) || len(byChain[ch.name]) != len(ch.rules) {
			return false, nil
		}
		comment := ch.comment()
		for _, r := range byChain[ch.name] {
			if r.Comment == nil || *r.Comment != comment {
				return false, nil
			}
		}
	}
	return true, nil
}

// elements reads a set's elements in canonical form, sorted; ok is false
// when the set is missing or holds something tortie would not have
// written.
func (o *Owner) elements(ctx context.Context, s setDef) ([]string, bool, error) {
	if l, ok := o.nft.(setJSONLister); ok && readsJSON(s) {
		data, err := l.listSetJSON(ctx, s.name)
		switch {
		case errors.Is(err, errSetMissing):
			return nil, false, nil
		case err == nil:
			return jsonElements(s, data)
		case !errors.Is(err, errors.ErrUnsupported):
			return nil, false, fmt.Errorf("read nftables set %s: %w", s.name, err)
		}
	}
	es, err := o.nft.ListElements(ctx, "set", s.name)
	if knftables.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read nftables set %s: %w", s.name, err)
	}
	out := make([]string, 0, len(es))
	for _, e := range es {
		k, ok := canonical(s.typ, strings.Join(e.Key, " . "))
		if !ok {
			return nil, false, nil
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out, true, nil
}
