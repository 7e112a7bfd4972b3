package selector

import "fmt"

// maxNesting bounds how deeply parentheses may nest, so that hostile input
// cannot drive the recursive-descent parser arbitrarily deep.
const maxNesting = 256

// ParseError describes why a selector could not be parsed.
type ParseError struct {
	Selector string // the complete input
	Pos      int    // byte offset of the problem in Selector (len(Selector) at the end)
	Msg      string // what was wrong, phrased for a user
}

// Error formats the error as
// `invalid selector "<input>": at position <pos>: <msg>`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid selector %q: at position %d: %s", e.Selector, e.Pos, e.Msg)
}

// operatorMsg is reported when a label is not followed by an operator.
const operatorMsg = `expected "==", "!=", "in", "not in", "contains", "starts with" or "ends with"`

// parser is a recursive-descent parser with one token of lookahead.
// Grammar:
//
//	or      = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = { "!" } primary
//	primary = "(" or ")" | "has" "(" label ")" | "all" "(" ")" | "global" "(" ")"
//	        | label comparison
type parser struct {
	lex        lexer
	tok        token // current token
	depth      int   // current parenthesis nesting
	usesGlobal bool  // set when global() is parsed
}

// parse parses a complete selector into its evaluation tree.
func (p *parser) parse() (node, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return allNode{}, nil
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tokEOF:
		return n, nil
	case tokRParen:
		return nil, p.errorf(p.tok.pos, `unmatched ")"`)
	}
	return nil, p.errorf(p.tok.pos, `unexpected %s after a complete expression; expected "&&", "||" or end of selector`, p.tok.describe())
}

// advance moves to the next token.
func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorf(pos int, format string, args ...any) *ParseError {
	return p.lex.errorf(pos, format, args...)
}

// isWord reports whether the current token is the identifier w.
func (p *parser) isWord(w string) bool {
	return p.tok.kind == tokIdent && p.tok.text == w
}

func (p *parser) parseOr() (node, error) {
	first, err := p.parseAnd()
	if err != nil || p.tok.kind != tokOr {
		return first, err
	}
	terms := []node{first}
	for p.tok.kind == tokOr {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	return newOr(terms), nil
}

func (p *parser) parseAnd() (node, error) {
	first, err := p.parseUnary()
	if err != nil || p.tok.kind != tokAnd {
		return first, err
	}
	terms := []node{first}
	for p.tok.kind == tokAnd {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	return newAnd(terms), nil
}

// parseUnary folds any number of leading "!" into zero or one negation.
func (p *parser) parseUnary() (node, error) {
	negated := false
	for p.tok.kind == tokNot {
		negated = !negated
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	n, err := p.parsePrimary()
	if err != nil || !negated {
		return n, err
	}
	return negate(n), nil
}

func (p *parser) parsePrimary() (node, error) {
	switch p.tok.kind {
	case tokLParen:
		return p.parseParens()
	case tokIdent:
		name := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tokLParen {
			return p.parseCall(name)
		}
		return p.parseComparison(name.text)
	case tokEOF:
		return nil, p.errorf(p.tok.pos, `unexpected end of selector; expected a label, "has(", "all()", "global()", "!" or "("`)
	case tokString:
		return nil, p.errorf(p.tok.pos, `expected a label, found %s (the label goes on the left, e.g. app == "web")`, p.tok.describe())
	}
	return nil, p.errorf(p.tok.pos, `expected a label, "has(", "all()", "global()", "!" or "(", found %s`, p.tok.describe())
}

// parseParens parses "(" expr ")"; the current token is "(".
func (p *parser) parseParens() (node, error) {
	open := p.tok.pos
	if p.depth >= maxNesting {
		return nil, p.errorf(open, "parentheses nested more than %d deep", maxNesting)
	}
	p.depth++
	defer func() { p.depth-- }()
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokRParen {
		return nil, p.errorf(p.tok.pos, `empty parentheses; expected an expression`)
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokRParen {
		return nil, p.errorf(p.tok.pos, `expected ")" to close "(" at position %d, found %s`, open, p.tok.describe())
	}
	return n, p.advance()
}

// parseCall parses has(label), all() or global(); the current token is the
// "(" that follows name.
func (p *parser) parseCall(name token) (node, error) {
	var n node
	switch name.text {
	case "has":
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokIdent {
			return nil, p.errorf(p.tok.pos, `expected a label name inside "has(...)", found %s`, p.tok.describe())
		}
		n = &hasNode{label: p.tok.text}
	case "all":
		n = allNode{}
	case "global":
		n = globalNode{}
		p.usesGlobal = true
	default:
		return nil, p.errorf(name.pos, `unknown function %q; expected "has(label)", "all()" or "global()"`, name.text)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokRParen {
		return nil, p.errorf(p.tok.pos, `expected ")" to close "%s(", found %s`, name.text, p.tok.describe())
	}
	return n, p.advance()
}

// parseComparison parses the operator and operand that follow label.
func (p *parser) parseComparison(label string) (node, error) {
	op := p.tok
	switch {
	case op.kind == tokEq || op.kind == tokNe:
		v, err := p.parseOperand(op.text)
		if err != nil {
			return nil, err
		}
		if op.kind == tokEq {
			return &eqNode{label: label, value: v}, nil
		}
		return &neNode{label: label, value: v}, nil
	case p.isWord("in"), p.isWord("notin"):
		set, err := p.parseSet(op.text)
		if err != nil {
			return nil, err
		}
		if op.text == "in" {
			return &inNode{label: label, set: set}, nil
		}
		return &notInNode{label: label, set: set}, nil
	case p.isWord("not"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.isWord("in") {
			return nil, p.errorf(p.tok.pos, `expected "in" after "not", found %s`, p.tok.describe())
		}
		set, err := p.parseSet("not in")
		if err != nil {
			return nil, err
		}
		return &notInNode{label: label, set: set}, nil
	case p.isWord("contains"):
		v, err := p.parseOperand(op.text)
		if err != nil {
			return nil, err
		}
		return &containsNode{label: label, value: v}, nil
	case p.isWord("starts"), p.isWord("ends"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.isWord("with") {
			return nil, p.errorf(p.tok.pos, `expected "with" after %q, found %s`, op.text, p.tok.describe())
		}
		v, err := p.parseOperand(op.text + " with")
		if err != nil {
			return nil, err
		}
		if op.text == "starts" {
			return &prefixNode{label: label, value: v}, nil
		}
		return &suffixNode{label: label, value: v}, nil
	}
	return nil, p.errorf(op.pos, operatorMsg)
}

// parseOperand moves past the operator (whose last token is current) and
// parses the string literal that follows it.
func (p *parser) parseOperand(opName string) (string, error) {
	if err := p.advance(); err != nil {
		return "", err
	}
	if p.tok.kind != tokString {
		hint := ""
		if p.tok.kind == tokIdent {
			hint = " (values must be quoted)"
		}
		return "", p.errorf(p.tok.pos, `expected a quoted string after %q, found %s%s`, opName, p.tok.describe(), hint)
	}
	v := p.tok.text
	return v, p.advance()
}

// parseSet moves past the operator (whose last token is current) and parses
// a set literal {"a", "b", ...}.
func (p *parser) parseSet(opName string) (stringSet, error) {
	if err := p.advance(); err != nil {
		return stringSet{}, err
	}
	if p.tok.kind != tokLBrace {
		return stringSet{}, p.errorf(p.tok.pos, `expected "{" after %q, found %s`, opName, p.tok.describe())
	}
	open := p.tok.pos
	if err := p.advance(); err != nil {
		return stringSet{}, err
	}
	var values []string
	if p.tok.kind != tokRBrace {
		for {
			if p.tok.kind != tokString {
				return stringSet{}, p.errorf(p.tok.pos, `expected a quoted string in set, found %s`, p.tok.describe())
			}
			values = append(values, p.tok.text)
			if err := p.advance(); err != nil {
				return stringSet{}, err
			}
			if p.tok.kind == tokRBrace {
				break
			}
			if p.tok.kind != tokComma {
				return stringSet{}, p.errorf(p.tok.pos, `expected "," or "}" to close "{" at position %d, found %s`, open, p.tok.describe())
			}
			if err := p.advance(); err != nil {
				return stringSet{}, err
			}
		}
	}
	return newStringSet(values), p.advance()
}
