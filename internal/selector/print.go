package selector

import "strings"

// quote renders v as a string literal: double quotes unless v contains a
// double quote, then single quotes. The language has no escapes, so a value
// containing both kinds of quote cannot be written; the parser never
// produces one.
func quote(v string) string {
	if strings.Contains(v, `"`) {
		return "'" + v + "'"
	}
	return `"` + v + `"`
}

func writeCompare(b *strings.Builder, label, op, value string) {
	b.WriteString(label)
	b.WriteString(op)
	b.WriteString(quote(value))
}

func writeSet(b *strings.Builder, label, op string, s stringSet) {
	b.WriteString(label)
	b.WriteString(op)
	b.WriteByte('{')
	for i, v := range s.sorted {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(v))
	}
	b.WriteByte('}')
}

func (allNode) write(b *strings.Builder)    { b.WriteString("all()") }
func (globalNode) write(b *strings.Builder) { b.WriteString("global()") }

func (n *hasNode) write(b *strings.Builder) {
	b.WriteString("has(")
	b.WriteString(n.label)
	b.WriteByte(')')
}

func (n *eqNode) write(b *strings.Builder)       { writeCompare(b, n.label, " == ", n.value) }
func (n *neNode) write(b *strings.Builder)       { writeCompare(b, n.label, " != ", n.value) }
func (n *containsNode) write(b *strings.Builder) { writeCompare(b, n.label, " contains ", n.value) }
func (n *prefixNode) write(b *strings.Builder)   { writeCompare(b, n.label, " starts with ", n.value) }
func (n *suffixNode) write(b *strings.Builder)   { writeCompare(b, n.label, " ends with ", n.value) }
func (n *inNode) write(b *strings.Builder)       { writeSet(b, n.label, " in ", n.set) }
func (n *notInNode) write(b *strings.Builder)    { writeSet(b, n.label, " not in ", n.set) }

// write prints "!" directly before function calls (!has(a), !all()) and
// "!(...)" around everything else, which reads unambiguously.
func (n *notNode) write(b *strings.Builder) {
	b.WriteByte('!')
	switch n.child.(type) {
	case *hasNode, allNode, globalNode:
		n.child.write(b)
	default:
		b.WriteByte('(')
		n.child.write(b)
		b.WriteByte(')')
	}
}

// write parenthesises || terms, the only ones that bind more loosely.
func (n *andNode) write(b *strings.Builder) {
	for i, t := range n.terms {
		if i > 0 {
			b.WriteString(" && ")
		}
		if _, ok := t.(*orNode); ok {
			b.WriteByte('(')
			t.write(b)
			b.WriteByte(')')
		} else {
			t.write(b)
		}
	}
}

func (n *orNode) write(b *strings.Builder) {
	for i, t := range n.terms {
		if i > 0 {
			b.WriteString(" || ")
		}
		t.write(b)
	}
}
