package routes

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ownership says whose a kernel route is.
type ownership int

const (
	// foreign: another owner's; never modified or deleted.
	foreign ownership = iota
	// written: tortie-node wrote it (conventions.ProtocolAgent).
	written
	// adopted: the CNI plugin's, or another writer's on a workload
	// interface; tortie's to keep or remove, after a grace period.
	adopted
)

// Conflict is a wanted route that was not programmed because routes of
// other owners hold its destination.
type Conflict struct {
	Want    Route
	Foreign []Route
}

func (c Conflict) String() string {
	fs := make([]string, len(c.Foreign))
	for i, f := range c.Foreign {
		fs[i] = f.String()
	}
	return fmt.Sprintf("wanted %s, but %s belongs to another owner: left alone", c.Want, strings.Join(fs, "; "))
}

// stale is a tortie route nothing wants any more.
type stale struct {
	Route
	adopted bool
}

// plan is what it takes to turn the table into the wanted one.
type plan struct {
	write     []Route // missing or different: replace
	stale     []stale // ours and unwanted: delete (adopted ones after grace)
	kept      int     // wanted and already right
	conflicts []Conflict
}

// table is what the reconciler knows of the main table: every IPv4 route
// as last read, with the reconciler's own writes since, grouped by key, and
// the routes of other owners by destination. It is kept between Applies,
// so that comparing a wanted table with it allocates little.
type table struct {
	slots   map[key]*slot
	foreign map[netip.Prefix][]Route
	// gen numbers the plans; a slot right in the current one has right ==
	// gen.
	gen uint64
}

// slot holds the routes with one key.
type slot struct {
	routes []owned
	right  uint64
}

// owned is a route and whose it is, as classified when it was read.
type owned struct {
	Route
	owner ownership
}

func newTable() *table {
	return &table{slots: map[key]*slot{}, foreign: map[netip.Prefix][]Route{}}
}

// load replaces the table with what was read, classifying each route.
func (t *table) load(have []Route, owner func(Route) ownership) {
	clear(t.slots)
	clear(t.foreign)
	for _, h := range have {
		o := owner(h)
		if o == foreign {
			t.foreign[h.Dst] = append(t.foreign[h.Dst], h)
		}
		s := t.slots[h.key()]
		if s == nil {
			s = &slot{}
			t.slots[h.key()] = s
		}
		s.routes = append(s.routes, owned{h, o})
	}
}

// plan compares the wanted routes (unique keys) with the table. A wanted
// route is right when a route of ours with its key forwards the same way.
// One that is missing or different is written, unless a route of another
// owner has its destination: then it is a conflict, and tortie stands back
// from that destination (its own routes there become stale). Every route of
// ours that is not right for a wanted one is stale.
func (t *table) plan(want []Route) plan {
	t.gen++
	var p plan
	for _, w := range want {
		s := t.slots[w.key()]
		if s != nil && s.holds(w) {
			s.right = t.gen
			p.kept++
			continue
		}
		if f := t.foreign[w.Dst]; len(f) > 0 {
			f = slices.Clone(f)
			slices.SortFunc(f, func(a, b Route) int { return strings.Compare(a.String(), b.String()) })
			p.conflicts = append(p.conflicts, Conflict{Want: w, Foreign: f})
			continue
		}
		if s == nil {
			s = &slot{}
			t.slots[w.key()] = s
		}
		s.right = t.gen // after the write; left alone should it fail
		p.write = append(p.write, w)
	}
	for k, s := range t.slots {
		if len(s.routes) == 0 && s.right != t.gen {
			delete(t.slots, k)
			continue
		}
		if s.right == t.gen {
			continue // kept as is, or overwritten by the write
		}
		for _, h := range s.routes {
			if h.owner != foreign {
				p.stale = append(p.stale, stale{Route: h.Route, adopted: h.owner == adopted})
			}
		}
	}
	// Map order is random: keep what is logged and done stable.
	slices.SortFunc(p.stale, func(a, b stale) int { return strings.Compare(a.String(), b.String()) })
	return p
}

// holds reports whether a route of ours in the slot forwards as w does.
func (s *slot) holds(w Route) bool {
	for _, h := range s.routes {
		if h.owner != foreign && h.sameForwarding(w) {
			return true
		}
	}
	return false
}

// has reports whether the slot holds any route.
func (t *table) has(k key) bool {
	s := t.slots[k]
	return s != nil && len(s.routes) > 0
}

// wrote records a successful write: a replace overwrites the first route
// with its key, as the kernel's does; an add adds one.
func (t *table) wrote(w Route, replace bool) {
	s := t.slots[w.key()]
	if s == nil {
		s = &slot{}
		t.slots[w.key()] = s
	}
	if replace && len(s.routes) > 0 {
		s.routes[0] = owned{w, written}
		return
	}
	s.routes = append(s.routes, owned{w, written})
}

// deleted records a successful delete.
func (t *table) deleted(d Route) {
	if s := t.slots[d.key()]; s != nil {
		s.routes = slices.DeleteFunc(s.routes, func(h owned) bool { return h.Route == d })
	}
}
