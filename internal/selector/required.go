package selector

// Required names a label every label set the selector matches must have:
// key, and when values is non-nil, one of those values (sorted). ok is
// false when no single label is required (all(), negations, ||, string
// operators other than ==). It lets an index look up the selectors a label
// set may match by its labels, instead of evaluating every selector.
func (s *Selector) Required() (key string, values []string, ok bool) {
	if s == nil || s.root == nil {
		return "", nil, false
	}
	return required(s.root)
}

func required(n node) (string, []string, bool) {
	switch n := n.(type) {
	case *eqNode:
		return n.label, []string{n.value}, true
	case *inNode:
		return n.label, n.set.sorted, true
	case *hasNode:
		return n.label, nil, true
	case *containsNode:
		return n.label, nil, true
	case *prefixNode:
		return n.label, nil, true
	case *suffixNode:
		return n.label, nil, true
	case *andNode:
		// The most selective term: one with values over one with a key.
		var key string
		found := false
		for _, t := range n.terms {
			k, vs, ok := required(t)
			if ok && vs != nil {
				return k, vs, true
			}
			if ok && !found {
				key, found = k, true
			}
		}
		return key, nil, found
	}
	return "", nil, false
}
