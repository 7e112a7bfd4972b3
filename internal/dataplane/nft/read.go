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
	}
	for _, ch := range want.chains {
		ok, err := o.chainMatches(ctx, ch, ch.comment())
		if err != nil || !ok {
			return false, err
		}
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

func (o *Owner) chainMatches(ctx context.Context, ch chainDef, comment string) (bool, error) {
	rules, err := o.nft.ListRules(ctx, ch.name)
	if knftables.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read nftables chain %s: %w", ch.name, err)
	}
	if len(rules) != len(ch.rules) {
		return false, nil
	}
	for _, r := range rules {
		if r.Comment == nil || *r.Comment != comment {
			return false, nil
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
