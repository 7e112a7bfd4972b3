package nft

import (
	"slices"

	"sigs.k8s.io/knftables"
)

// planUpdate adds to tx what turns the table from have into want without
// rebuilding it: new sets, maps and chains; the rules of chains that
// changed (flushed and written again); element differences; then the
// removal of what is no longer wanted. ok is false when a set, map or
// base chain changed its declaration, which only a rebuild can do.
func planUpdate(tx *knftables.Transaction, have, want content) (ok bool) {
	oldSets, oldMaps, oldChains := byName(have.sets, setName), byName(have.maps, mapName), byName(have.chains, chainName)
	for _, s := range want.sets {
		if o, found := oldSets[s.name]; found && (o.typ != s.typ || !slices.Equal(o.flags, s.flags)) {
			return false
		} else if !found {
			tx.Add(&knftables.Set{Name: s.name, Type: s.typ, Flags: s.flags})
		}
	}
	for _, m := range want.maps {
		if o, found := oldMaps[m.name]; found && o.typ != m.typ {
			return false
		} else if !found {
			tx.Add(&knftables.Map{Name: m.name, Type: m.typ})
		}
	}
	var rewrite []chainDef
	for _, ch := range want.chains {
		o, found := oldChains[ch.name]
		switch {
		case !found:
			addChain(tx, ch)
			rewrite = append(rewrite, ch)
		case o.stale && ch.hook != "":
			// A base chain of unknown declaration: made anew.
			tx.Flush(&knftables.Chain{Name: ch.name})
			tx.Delete(&knftables.Chain{Name: ch.name})
			addChain(tx, ch)
			rewrite = append(rewrite, ch)
		case o.typ != ch.typ || o.hook != ch.hook || o.priority != ch.priority:
			return false
		case o.stale || !slices.Equal(o.rules, ch.rules):
			tx.Flush(&knftables.Chain{Name: ch.name})
			rewrite = append(rewrite, ch)
		}
	}
	gone := removed(have.chains, want.chains, chainName)
	for _, ch := range gone {
		tx.Flush(&knftables.Chain{Name: ch.name})
	}
	for _, ch := range rewrite {
		addRules(tx, ch)
	}
	updateElements(tx, have, want)
	for _, ch := range gone {
		tx.Delete(&knftables.Chain{Name: ch.name})
	}
	for _, s := range removed(have.sets, want.sets, setName) {
		tx.Delete(&knftables.Set{Name: s.name})
	}
	for _, m := range removed(have.maps, want.maps, mapName) {
		tx.Delete(&knftables.Map{Name: m.name})
	}
	return true
}

// updateElements adds the element differences of every wanted set and
// map (all of a new one's).
func updateElements(tx *knftables.Transaction, have, want content) {
	oldSets, oldMaps := byName(have.sets, setName), byName(have.maps, mapName)
	for _, s := range want.sets {
		add, del := diff(oldSets[s.name].elements, s.elements)
		for _, e := range del {
			tx.Delete(setElement(s.name, e))
		}
		for _, e := range add {
			tx.Add(setElement(s.name, e))
		}
	}
	for _, m := range want.maps {
		add, del := diff(oldMaps[m.name].elements, m.elements)
		for _, e := range del {
			tx.Delete(mapElement(m.name, e))
		}
		for _, e := range add {
			tx.Add(mapElement(m.name, e))
		}
	}
}

func setName(s setDef) string     { return s.name }
func mapName(m mapDef) string     { return m.name }
func chainName(c chainDef) string { return c.name }

func byName[T any](xs []T, name func(T) string) map[string]T {
	out := make(map[string]T, len(xs))
	for _, x := range xs {
		out[name(x)] = x
	}
	return out
}

// removed lists what have holds and want does not, by name.
func removed[T any](have, want []T, name func(T) string) []T {
	keep := byName(want, name)
	var out []T
	for _, x := range have {
		if _, ok := keep[name(x)]; !ok {
			out = append(out, x)
		}
	}
	return out
}

// diff lists what is in want and not in have (add) and the reverse (del);
// both inputs are sorted.
func diff(have, want []string) (add, del []string) {
	if sameSlice(have, want) {
		return nil, nil
	}
	i, j := 0, 0
	for i < len(have) || j < len(want) {
		switch {
		case j == len(want) || (i < len(have) && have[i] < want[j]):
			del = append(del, have[i])
			i++
		case i == len(have) || want[j] < have[i]:
			add = append(add, want[j])
			j++
		default:
			i++
			j++
		}
	}
	return add, del
}
