// Package selector implements Calico's label selector language: parsing,
// evaluation against a label map, and a canonical printed form.
//
// API (the contract other packages rely on):
//
//	sel, err := selector.Parse(`app == "web" && has(tier)`)
//	sel.Evaluate(map[string]string{"app": "web", "tier": "fe"}) // true
//	sel.String() // canonical form; Parse(sel.String()) gives an equal selector
//
// The empty string parses to the same selector as all().
//
// # Language
//
// Label names consist of the characters [a-zA-Z0-9_./-] and are at most
// 512 characters long. String literals are enclosed in double or single
// quotes and have no escapes: a literal runs to the next matching quote.
// Whitespace (spaces, tabs, newlines) between tokens is ignored.
//
// Operators, from lowest to highest precedence:
//
//	a || b                 either side matches
//	a && b                 both sides match
//	!a                     negation; any number of "!" may be stacked
//
// Primaries:
//
//	label == "v"           label present with value v
//	label != "v"           label absent, or present with another value
//	label in {"a", "b"}    label present with one of the values ({} is allowed)
//	label not in {"a"}     label absent, or present with none of the values
//	                       ("notin" is accepted as a spelling of "not in")
//	label contains "s"     label present and its value contains s
//	label starts with "s"  label present and its value starts with s
//	label ends with "s"    label present and its value ends with s
//	has(label)             label present (with any value, even "")
//	all()                  matches everything
//	global()               matches everything; callers use [Selector.UsesGlobal]
//	                       to reject it where it is not meaningful
//	( expr )               grouping
//
// Words such as in, has or all are not reserved: a label may be named after
// one, and labels such as "index" or "hasfoo" are ordinary labels. A word is
// read as a function (has, all, global) only when "(" follows it.
//
// # Canonical form
//
// [Selector.String] prints a canonical form: double-quoted literals (single
// quotes when the value contains a double quote), set members sorted and
// deduplicated, "!" folded into the comparison where an equivalent operator
// exists (!(a == "x") prints as a != "x"), chains of && and || flattened,
// and parentheses only where precedence requires them. Parsing the canonical
// form yields a selector with the same canonical form and the same behaviour.
package selector
