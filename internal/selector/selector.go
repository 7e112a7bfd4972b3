package selector

import "strings"

// Selector is a parsed, immutable label selector. It is safe for concurrent
// use. The zero value, and a nil *Selector, behave like all().
type Selector struct {
	root       node
	str        string // canonical form, computed once by Parse
	usesGlobal bool
}

// Parse parses s. The empty string, or one containing only whitespace,
// parses as all(). Errors are of type *ParseError.
func Parse(s string) (*Selector, error) {
	p := parser{lex: lexer{src: s}}
	root, err := p.parse()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	root.write(&b)
	return &Selector{root: root, str: b.String(), usesGlobal: p.usesGlobal}, nil
}

// MustParse is like Parse but panics if s is invalid. It is meant for
// constants and tests.
func MustParse(s string) *Selector {
	sel, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sel
}

// Evaluate reports whether a set of labels matches the selector. A nil map
// is an empty label set. Evaluate does not allocate.
func (s *Selector) Evaluate(labels map[string]string) bool {
	if s == nil || s.root == nil {
		return true
	}
	return s.root.eval(labels)
}

// String returns the canonical form of the selector (see the package
// documentation). Parsing it yields a selector with the same String and
// the same Evaluate results.
func (s *Selector) String() string {
	if s == nil || s.root == nil {
		return "all()"
	}
	return s.str
}

// UsesGlobal reports whether global() appears anywhere in the selector.
func (s *Selector) UsesGlobal() bool {
	return s != nil && s.usesGlobal
}

// IsAll reports whether the selector is exactly all() (or was empty).
// Selectors that merely happen to match everything, such as
// "has(a) || !has(a)", report false.
func (s *Selector) IsAll() bool {
	if s == nil || s.root == nil {
		return true
	}
	_, ok := s.root.(allNode)
	return ok
}
