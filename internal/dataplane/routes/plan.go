package routes

import (
	"fmt"
	"net/netip"
	"strings"
)

// ownership says whose a kernel route is.
type ownership int

const (
	// foreign: another owner's; never modified or deleted.
	foreign ownership = iota
	// written: tortie-node wrote it (ProtocolTortie).
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

// diff compares the wanted routes (unique keys) with the table. A wanted
// route is right when a route of ours with its key forwards the same way.
// One that is missing or different is written, unless a route of another
// owner has its destination: then it is a conflict, and tortie stands back
// from that destination (its own routes there become stale). Every route of
// ours that is not right for a wanted one is stale.
func diff(want, have []Route, owner func(Route) ownership) plan {
	var p plan
	ours := map[key]Route{}
	foreignAt := map[netip.Prefix][]Route{}
	for _, h := range have {
		switch owner(h) {
		case foreign:
			foreignAt[h.Dst] = append(foreignAt[h.Dst], h)
		default:
			ours[h.key()] = h
		}
	}
	right := map[key]bool{}
	for _, w := range want {
		if h, ok := ours[w.key()]; ok && h.sameForwarding(w) {
			right[w.key()] = true
			p.kept++
			continue
		}
		if f := foreignAt[w.Dst]; len(f) > 0 {
			p.conflicts = append(p.conflicts, Conflict{Want: w, Foreign: f})
			continue
		}
		right[w.key()] = true // after the write
		p.write = append(p.write, w)
	}
	for _, h := range have {
		o := owner(h)
		if o == foreign {
			continue
		}
		if right[h.key()] {
			continue // kept as is, or overwritten by the replace
		}
		p.stale = append(p.stale, stale{Route: h, adopted: o == adopted})
	}
	return p
}
