package selector

import (
	"slices"
	"strings"
)

// node is one vertex of a compiled selector.
//
// Trees are built only by the parser and are kept in a normal form that the
// canonical printer relies on: && and || are flattened n-ary nodes with at
// least two terms, and a notNode never wraps a node that has a dedicated
// negated form (==/!=, in/not in) or another notNode.
type node interface {
	// eval reports whether labels match. It must not allocate.
	eval(labels map[string]string) bool
	// write appends the canonical form of the node to b.
	write(b *strings.Builder)
}

type (
	allNode    struct{}
	globalNode struct{}
	hasNode    struct{ label string }
	eqNode     struct{ label, value string }
	neNode     struct{ label, value string }
	inNode     struct {
		label string
		set   stringSet
	}
	notInNode struct {
		label string
		set   stringSet
	}
	containsNode struct{ label, value string }
	prefixNode   struct{ label, value string }
	suffixNode   struct{ label, value string }
	notNode      struct{ child node }
	andNode      struct{ terms []node }
	orNode       struct{ terms []node }
)

func (allNode) eval(map[string]string) bool    { return true }
func (globalNode) eval(map[string]string) bool { return true }

func (n *hasNode) eval(labels map[string]string) bool {
	_, ok := labels[n.label]
	return ok
}

func (n *eqNode) eval(labels map[string]string) bool {
	v, ok := labels[n.label]
	return ok && v == n.value
}

func (n *neNode) eval(labels map[string]string) bool {
	v, ok := labels[n.label]
	return !ok || v != n.value
}

func (n *inNode) eval(labels map[string]string) bool {
	v, ok := labels[n.label]
	return ok && n.set.contains(v)
}

func (n *notInNode) eval(labels map[string]string) bool {
	v, ok := labels[n.label]
	return !ok || !n.set.contains(v)
}

func (n *containsNode) eval(labels map[string]string) bool {
	v, ok := labels[n.label]
	return ok && strings.Contains(v, n.value)
}

func (n *prefixNode) eval(labels map[string]string) bool {
	v, ok := labels[n.label]
	return ok && strings.HasPrefix(v, n.value)
}

func (n *suffixNode) eval(labels map[string]string) bool {
	v, ok := labels[n.label]
	return ok && strings.HasSuffix(v, n.value)
}

func (n *notNode) eval(labels map[string]string) bool { return !n.child.eval(labels) }

func (n *andNode) eval(labels map[string]string) bool {
	for _, t := range n.terms {
		if !t.eval(labels) {
			return false
		}
	}
	return true
}

func (n *orNode) eval(labels map[string]string) bool {
	for _, t := range n.terms {
		if t.eval(labels) {
			return true
		}
	}
	return false
}

// negate returns a node matching exactly when n does not, using the
// dedicated negated operator where one exists.
func negate(n node) node {
	switch n := n.(type) {
	case *eqNode:
		return &neNode{label: n.label, value: n.value}
	case *neNode:
		return &eqNode{label: n.label, value: n.value}
	case *inNode:
		return &notInNode{label: n.label, set: n.set}
	case *notInNode:
		return &inNode{label: n.label, set: n.set}
	case *notNode:
		return n.child
	}
	return &notNode{child: n}
}

// newAnd builds the conjunction of terms, splicing in nested conjunctions.
func newAnd(terms []node) node {
	var flat []node
	for _, t := range terms {
		if a, ok := t.(*andNode); ok {
			flat = append(flat, a.terms...)
		} else {
			flat = append(flat, t)
		}
	}
	if len(flat) == 1 {
		return flat[0]
	}
	return &andNode{terms: flat}
}

// newOr builds the disjunction of terms, splicing in nested disjunctions.
func newOr(terms []node) node {
	var flat []node
	for _, t := range terms {
		if o, ok := t.(*orNode); ok {
			flat = append(flat, o.terms...)
		} else {
			flat = append(flat, t)
		}
	}
	if len(flat) == 1 {
		return flat[0]
	}
	return &orNode{terms: flat}
}

// smallSet is the size up to which a linear scan beats a map lookup.
const smallSet = 8

// stringSet is an immutable set of strings with a sorted, deduplicated
// member list for printing. Large sets are also indexed by a map.
type stringSet struct {
	sorted []string
	index  map[string]struct{} // nil when len(sorted) <= smallSet
}

func newStringSet(values []string) stringSet {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	s := stringSet{sorted: sorted}
	if len(sorted) > smallSet {
		s.index = make(map[string]struct{}, len(sorted))
		for _, v := range sorted {
			s.index[v] = struct{}{}
		}
	}
	return s
}

func (s stringSet) contains(v string) bool {
	if s.index != nil {
		_, ok := s.index[v]
		return ok
	}
	for _, m := range s.sorted {
		if m == v {
			return true
		}
	}
	return false
}
