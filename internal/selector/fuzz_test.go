package selector

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that the canonical form of
// every valid selector reparses to the same canonical form with the same
// behaviour on label sets built from the selector's own labels and values.
func FuzzParse(f *testing.F) {
	for _, tc := range evalCases {
		f.Add(tc.sel)
	}
	for _, tc := range errorCases {
		f.Add(tc.sel)
	}
	for _, tc := range stringCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			pe, ok := err.(*ParseError)
			if !ok {
				t.Fatalf("Parse(%q) returned %T, want *ParseError", s, err)
			}
			if pe.Pos < 0 || pe.Pos > len(s) || pe.Selector != s || pe.Msg == "" {
				t.Fatalf("Parse(%q) returned malformed error %#v", s, pe)
			}
			return
		}
		canon := sel.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its canonical form %q does not parse: %v", s, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable for %q: %q -> %q", s, canon, again)
		}
		if again.UsesGlobal() != sel.UsesGlobal() || again.IsAll() != sel.IsAll() {
			t.Fatalf("UsesGlobal/IsAll differ between %q and canonical %q", s, canon)
		}
		// Negating the input must invert every result. ("()" is invalid,
		// so an empty input is negated through its canonical form.)
		src := s
		if strings.Trim(s, " \t\r\n") == "" {
			src = canon
		}
		neg, err := Parse("!(" + src + ")")
		if err != nil && !strings.Contains(err.Error(), "nested more than") {
			t.Fatalf("Parse(%q) ok, but its negation does not parse: %v", s, err)
		}
		for _, l := range labelMaps(sel.root) {
			want := sel.Evaluate(l)
			if got := again.Evaluate(l); got != want {
				t.Fatalf("%q and canonical %q disagree on %v: %v vs %v", s, canon, l, want, got)
			}
			if neg != nil && neg.Evaluate(l) == want {
				t.Fatalf("%q and its negation %q both give %v on %v", s, neg, want, l)
			}
		}
	})
}

// labelMaps returns a few label sets exercising the labels and values that
// appear in the tree rooted at n: none set, all empty, each set to a value
// from the selector, each set to a value that embeds one, and half absent.
func labelMaps(n node) []map[string]string {
	var names, values []string
	walk(n, func(label, value string, set []string) {
		names = append(names, label)
		if value != "" {
			values = append(values, value)
		}
		values = append(values, set...)
	})
	values = append(values, "x")
	maps := make([]map[string]string, 5)
	for i := range maps {
		maps[i] = map[string]string{}
	}
	for i, name := range names {
		v := values[i%len(values)]
		maps[1][name] = ""
		maps[2][name] = v
		maps[3][name] = "<" + v + ">"
		if i%2 == 0 {
			maps[4][name] = values[(i+1)%len(values)]
		}
	}
	return maps
}

// walk calls fn for each label-testing node in the tree with its label, its
// single operand (if any) and its set members (if any).
func walk(n node, fn func(label, value string, set []string)) {
	switch n := n.(type) {
	case *hasNode:
		fn(n.label, "", nil)
	case *eqNode:
		fn(n.label, n.value, nil)
	case *neNode:
		fn(n.label, n.value, nil)
	case *containsNode:
		fn(n.label, n.value, nil)
	case *prefixNode:
		fn(n.label, n.value, nil)
	case *suffixNode:
		fn(n.label, n.value, nil)
	case *inNode:
		fn(n.label, "", n.set.sorted)
	case *notInNode:
		fn(n.label, "", n.set.sorted)
	case *notNode:
		walk(n.child, fn)
	case *andNode:
		for _, t := range n.terms {
			walk(t, fn)
		}
	case *orNode:
		for _, t := range n.terms {
			walk(t, fn)
		}
	case allNode, globalNode:
	default:
		panic(fmt.Sprintf("walk: unknown node type %T", n))
	}
}
