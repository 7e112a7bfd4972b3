package nft

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/knftables"
)

// readBack reads the table as far as want's objects tell how to read it:
// have is what planUpdate needs to turn it into want (chains whose rules
// carry want's digest are want's own; others are stale, to be rewritten;
// sets and maps with the elements read; objects want lacks, to be
// removed). ok is false when the table is missing, none of its chains
// carries want's digest (another version's table: its sets' types may
// differ under the same names), or an element of a wanted set is not one
// tortie would write: then only a rebuild will do.
func (o *Owner) readBack(ctx context.Context, want content) (have content, ok bool, err error) {
	r, ok, err := o.tableReader(ctx)
	if !ok || err != nil {
		return content{}, false, err
	}
	return readFrom(ctx, r, want)
}

// readFrom is readBack reading through r.
func readFrom(ctx context.Context, r tableReader, want content) (have content, ok bool, err error) {
	names := map[string][]string{}
	for _, kind := range []string{"chains", "sets", "maps"} {
		names[kind], err = r.list(ctx, kind)
		if knftables.IsNotFound(err) {
			return content{}, false, nil
		}
		if err != nil {
			return content{}, false, fmt.Errorf("list nftables %s of table %s: %w", kind, Table, err)
		}
	}
	rules, err := r.rulesByChain(ctx)
	if err != nil {
		return content{}, false, err
	}
	matched := 0
	wantChains := byName(want.chains, chainName)
	for _, name := range names["chains"] {
		ch, wanted := wantChains[name]
		if !wanted {
			have.chains = append(have.chains, chainDef{name: name})
			continue
		}
		if rulesMatch(rules[name], ch) {
			matched++
			have.chains = append(have.chains, ch)
		} else {
			have.chains = append(have.chains, chainDef{name: name, typ: ch.typ, hook: ch.hook, priority: ch.priority, stale: true})
		}
	}
	if matched == 0 {
		return content{}, false, nil
	}
	if ok, err := readSets(ctx, r, want, names["sets"], &have); !ok || err != nil {
		return content{}, false, err
	}
	wantMaps := byName(want.maps, mapName)
	for _, name := range names["maps"] {
		m, wanted := wantMaps[name]
		if wanted {
			if m.elements, ok, err = r.mapElements(ctx, name); !ok || err != nil {
				return content{}, false, err
			}
		}
		have.maps = append(have.maps, mapDef{name: name, typ: m.typ, elements: m.elements})
	}
	return have, true, nil
}

// tableReader reads the parts of the table readBack needs: the names of
// its chains, sets or maps; its rules by chain; the elements of a set or
// map in canonical form, sorted (ok false when missing or not tortie's).
type tableReader interface {
	list(ctx context.Context, kind string) ([]string, error)
	rulesByChain(ctx context.Context) (map[string][]*knftables.Rule, error)
	elements(ctx context.Context, s setDef) ([]string, bool, error)
	mapElements(ctx context.Context, name string) ([]string, bool, error)
}

// tableReader is the whole table read in one nft run (tableSnapshot),
// when o.nft can (the kernel's); else o.nft read object by object
// (liveReader: a fake). ok is false when the table is missing.
func (o *Owner) tableReader(ctx context.Context) (r tableReader, ok bool, err error) {
	l, can := o.nft.(tableJSONLister)
	if !can {
		return liveReader{o.nft}, true, nil
	}
	data, err := l.listTableJSON(ctx)
	switch {
	case errors.Is(err, errSetMissing):
		return nil, false, nil
	case errors.Is(err, errors.ErrUnsupported):
		return liveReader{o.nft}, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("read nftables table %s: %w", Table, err)
	}
	snap, err := parseTable(data)
	if err != nil {
		return nil, false, fmt.Errorf("read nftables table %s: %w", Table, err)
	}
	return snap, true, nil
}

// liveReader reads the table through knftables, one nft run per kind,
// one for all rules and one per set or map.
type liveReader struct{ nft knftables.Interface }

func (l liveReader) list(ctx context.Context, kind string) ([]string, error) {
	return l.nft.List(ctx, kind)
}

// readSets adds to have the sets the table holds, with the elements of
// those want has.
func readSets(ctx context.Context, r tableReader, want content, names []string, have *content) (ok bool, err error) {
	wantSets := byName(want.sets, setName)
	for _, name := range names {
		s, wanted := wantSets[name]
		if wanted {
			if s.elements, ok, err = r.elements(ctx, s); !ok || err != nil {
				return false, err
			}
		}
		have.sets = append(have.sets, setDef{name: name, typ: s.typ, flags: s.flags, elements: s.elements})
	}
	return true, nil
}

// mapElements reads a map's elements as "key : value", sorted.
func (l liveReader) mapElements(ctx context.Context, name string) ([]string, bool, error) {
	es, err := l.nft.ListElements(ctx, "map", name)
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

// rulesByChain reads the rules of every chain of the table in one nft
// run (one per chain made a restarted agent run nft a dozen times and
// more), by chain.
func (l liveReader) rulesByChain(ctx context.Context) (map[string][]*knftables.Rule, error) {
	rules, err := l.nft.ListRules(ctx, "")
	if err != nil && !knftables.IsNotFound(err) {
		return nil, fmt.Errorf("read the nftables rules of table %s: %w", Table, err)
	}
	byChain := map[string][]*knftables.Rule{}
	for _, r := range rules {
		byChain[r.Chain] = append(byChain[r.Chain], r)
	}
	return byChain, nil
}

// rulesMatch says whether rules are ch's: as many, each marked with its
// definition digest.
func rulesMatch(rules []*knftables.Rule, ch chainDef) bool {
	if len(rules) != len(ch.rules) {
		return false
	}
	comment := ch.comment()
	for _, r := range rules {
		if r.Comment == nil || *r.Comment != comment {
			return false
		}
	}
	return true
}

// elements reads a set's elements in canonical form, sorted; ok is false
// when the set is missing or holds something tortie would not have
// written.
func (r liveReader) elements(ctx context.Context, s setDef) ([]string, bool, error) {
	if l, ok := r.nft.(setJSONLister); ok && readsJSON(s) {
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
	es, err := r.nft.ListElements(ctx, "set", s.name)
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
