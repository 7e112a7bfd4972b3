package calc

import (
	"net/netip"
	"slices"
	"strings"
)

// contribID names what contributes a piece of the desired state: a block
// (key "") or one address of an endpoint. Where two contribute the same
// destination (or neighbour, or FDB MAC), the greater one wins, which is
// Compute's order: blocks by CIDR, then endpoints by key and address, the
// last written winning.
type contribID struct {
	block netip.Prefix
	key   string
	idx   int
}

func (a contribID) compare(b contribID) int {
	switch {
	case a.key == "" && b.key != "":
		return -1
	case a.key != "" && b.key == "":
		return 1
	case a.key == "":
		return prefixCompare(a.block, b.block)
	}
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return a.idx - b.idx
}

func prefixCompare(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// contribution is what one contributor puts into the desired state: at
// most one route, neighbour, FDB entry and problem.
type contribution struct {
	route    Route
	neigh    Neighbor
	fdb      FDBEntry
	problem  string
	hasRoute bool
	hasNeigh bool
	hasFDB   bool
}

func (c contribution) empty() bool {
	return !c.hasRoute && !c.hasNeigh && !c.hasFDB && c.problem == ""
}

type cand[V any] struct {
	id contribID
	v  V
}

type prior[V any] struct {
	v  V
	ok bool
}

// resolver holds, per key, every contribution to it. It remembers the
// winners before the changes not yet flushed, to report the difference,
// and keeps the winners as of the last flush in a sorted slice built only
// when asked for (list): a flush costs the change, not the table.
type resolver[K comparable, V any] struct {
	cands map[K][]cand[V]
	old   map[K]prior[V]
	// stale holds, for each key a flush changed since sorted was built,
	// its value in sorted.
	stale  map[K]prior[V]
	eq     func(a, b V) bool
	cmp    func(a, b V) int
	sorted []V
}

func newResolver[K comparable, V any](eq func(a, b V) bool, cmp func(a, b V) int) resolver[K, V] {
	return resolver[K, V]{cands: map[K][]cand[V]{}, old: map[K]prior[V]{}, stale: map[K]prior[V]{}, eq: eq, cmp: cmp}
}

func (r *resolver[K, V]) winner(k K) (V, bool) {
	cs := r.cands[k]
	if len(cs) == 0 {
		var zero V
		return zero, false
	}
	best := cs[0]
	for _, c := range cs[1:] {
		if c.id.compare(best.id) > 0 {
			best = c
		}
	}
	return best.v, true
}

func (r *resolver[K, V]) remember(k K) {
	if _, ok := r.old[k]; !ok {
		v, ok := r.winner(k)
		r.old[k] = prior[V]{v, ok}
	}
}

func (r *resolver[K, V]) set(k K, id contribID, v V) {
	r.remember(k)
	cs := r.cands[k]
	for i := range cs {
		if cs[i].id == id {
			cs[i].v = v
			return
		}
	}
	r.cands[k] = append(cs, cand[V]{id, v})
}

func (r *resolver[K, V]) unset(k K, id contribID) {
	r.remember(k)
	cs := r.cands[k]
	for i := range cs {
		if cs[i].id == id {
			cs = slices.Delete(cs, i, i+1)
			break
		}
	}
	if len(cs) == 0 {
		delete(r.cands, k)
	} else {
		r.cands[k] = cs
	}
}

// flush appends what was added and removed since the last flush (a
// changed value is both), each sorted.
func (r *resolver[K, V]) flush(added, removed *[]V) {
	a0, r0 := len(*added), len(*removed)
	for k, p := range r.old {
		v, ok := r.winner(k)
		if p.ok && ok && r.eq(p.v, v) {
			continue
		}
		if _, seen := r.stale[k]; !seen {
			r.stale[k] = p
		}
		if p.ok {
			*removed = append(*removed, p.v)
		}
		if ok {
			*added = append(*added, v)
		}
	}
	r.old = emptied(r.old)
	slices.SortFunc((*added)[a0:], r.cmp)
	slices.SortFunc((*removed)[r0:], r.cmp)
}

// flushed is the winner of k as of the last flush.
func (r *resolver[K, V]) flushed(k K) (V, bool) {
	if p, ok := r.old[k]; ok {
		return p.v, p.ok
	}
	return r.winner(k)
}

// list is the sorted winners as of the last flush. The slice is never
// changed in place: when flushes changed it, list makes a new one (the
// changes merged into the last), so a caller may keep it.
func (r *resolver[K, V]) list() []V {
	if len(r.stale) == 0 {
		return r.sorted
	}
	var add, rem []V
	for k, p := range r.stale {
		v, ok := r.flushed(k)
		if p.ok && ok && r.eq(p.v, v) {
			continue
		}
		if p.ok {
			rem = append(rem, p.v)
		}
		if ok {
			add = append(add, v)
		}
	}
	r.stale = emptied(r.stale)
	if len(add)+len(rem) == 0 {
		return r.sorted
	}
	slices.SortFunc(add, r.cmp)
	slices.SortFunc(rem, r.cmp)
	out := make([]V, 0, len(r.sorted)-len(rem)+len(add))
	j, k := 0, 0
	for _, v := range r.sorted {
		for j < len(rem) && r.cmp(rem[j], v) < 0 {
			j++
		}
		if j < len(rem) && r.cmp(rem[j], v) == 0 {
			j++
			continue
		}
		for k < len(add) && r.cmp(add[k], v) < 0 {
			out = append(out, add[k])
			k++
		}
		out = append(out, v)
	}
	r.sorted = append(out, add[k:]...)
	return r.sorted
}

// emptied is m cleared, or a new map when m was large: a Go map keeps the
// room of its largest size, and clearing or ranging over it costs that
// room, so a map that once held the whole state (a full list) would make
// every later small change cost the whole state.
func emptied[K comparable, V any](m map[K]V) map[K]V {
	if len(m) > 64 {
		return map[K]V{}
	}
	clear(m)
	return m
}
