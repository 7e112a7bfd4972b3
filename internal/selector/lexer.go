package selector

import (
	"fmt"
	"unicode/utf8"
)

// maxLabelLen is the longest label name the language accepts.
const maxLabelLen = 512

// tokenKind identifies the lexical class of a token.
type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokIdent            // label name or keyword; the parser decides which
	tokString           // quoted string literal; text holds the unquoted value
	tokEq               // ==
	tokNe               // !=
	tokNot              // !
	tokAnd              // &&
	tokOr               // ||
	tokLParen           // (
	tokRParen           // )
	tokLBrace           // {
	tokRBrace           // }
	tokComma            // ,
	tokAssign           // a lone "=", never valid; lexed so the parser can explain it
)

// token is one lexical token. pos is its byte offset in the input.
type token struct {
	kind tokenKind
	text string
	pos  int
}

// describe renders the token for use in an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of selector"
	case tokString:
		return "string " + quote(t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

// lexer splits a selector into tokens on demand, so that the first error in
// the input (lexical or syntactic) is the one reported.
type lexer struct {
	src string
	pos int
}

// isLabelChar reports whether c may appear in a label name.
func isLabelChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == '-'
}

// isSpace reports whether c is whitespace between tokens.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// next returns the next token, or a *ParseError for malformed input.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start == len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	two := ""
	if start+1 < len(l.src) {
		two = l.src[start : start+2]
	}
	punct := func(kind tokenKind, n int) (token, error) {
		l.pos += n
		return token{kind: kind, text: l.src[start:l.pos], pos: start}, nil
	}
	switch {
	case isLabelChar(c):
		end := start
		for end < len(l.src) && isLabelChar(l.src[end]) {
			end++
		}
		if end-start > maxLabelLen {
			return token{}, l.errorf(start, "label name is %d characters long; the maximum is %d", end-start, maxLabelLen)
		}
		l.pos = end
		return token{kind: tokIdent, text: l.src[start:end], pos: start}, nil
	case c == '"' || c == '\'':
		for end := start + 1; end < len(l.src); end++ {
			if l.src[end] == c {
				l.pos = end + 1
				return token{kind: tokString, text: l.src[start+1 : end], pos: start}, nil
			}
		}
		kind := "double"
		if c == '\'' {
			kind = "single"
		}
		return token{}, l.errorf(start, "unterminated string literal (no closing %s quote)", kind)
	case two == "==":
		return punct(tokEq, 2)
	case two == "!=":
		return punct(tokNe, 2)
	case two == "&&":
		return punct(tokAnd, 2)
	case two == "||":
		return punct(tokOr, 2)
	case c == '!':
		return punct(tokNot, 1)
	case c == '=':
		return punct(tokAssign, 1)
	case c == '(':
		return punct(tokLParen, 1)
	case c == ')':
		return punct(tokRParen, 1)
	case c == '{':
		return punct(tokLBrace, 1)
	case c == '}':
		return punct(tokRBrace, 1)
	case c == ',':
		return punct(tokComma, 1)
	case c == '&':
		return token{}, l.errorf(start, `unexpected "&" (did you mean "&&"?)`)
	case c == '|':
		return token{}, l.errorf(start, `unexpected "|" (did you mean "||"?)`)
	}
	return token{}, l.errorf(start, "unexpected character %s", describeByte(l.src, start))
}

// describeByte quotes the character starting at src[i] for an error message.
func describeByte(src string, i int) string {
	r, size := utf8.DecodeRuneInString(src[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("byte 0x%02x", src[i])
	}
	return fmt.Sprintf("%q", r)
}

func (l *lexer) errorf(pos int, format string, args ...any) *ParseError {
	return &ParseError{Selector: l.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
