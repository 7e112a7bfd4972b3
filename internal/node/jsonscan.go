package node

import "unicode/utf8"

// scanner reads JSON text in one pass without building anything: the
// agent's decoder of workload endpoints (wepdecode.go) picks the few
// fields it keeps and skips the rest. It checks the grammar of what it
// skips as it goes; what it cannot take exactly as encoding/json would
// (an escaped key, invalid UTF-8 in a string, deep nesting) it reports
// as a failure, and the caller falls back to encoding/json.
type scanner struct {
	b     []byte
	i     int
	fail  bool
	depth int
}

const maxScanDepth = 1000

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek is the next byte after white space (0 at the end).
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// expect consumes c (after white space), or fails.
func (s *scanner) expect(c byte) bool {
	if s.peek() != c || s.fail {
		s.fail = true
		return false
	}
	s.i++
	return true
}

// str reads a string: its raw content between the quotes, and whether
// it holds escapes (then it is not the string's value as it stands).
func (s *scanner) str() (raw []byte, esc bool) {
	if !s.expect('"') {
		return nil, false
	}
	start, high := s.i, false
	for s.i < len(s.b) {
		// Plain bytes in a run: one table look-up each.
		for s.i < len(s.b) && strPlain[s.b[s.i]] {
			s.i++
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			if high && !utf8.Valid(raw) {
				s.fail = true // encoding/json would replace the bad bytes
			}
			return raw, esc
		case c == '\\':
			esc = true
			s.i += s.escape()
		case c < 0x20:
			s.fail = true
			return nil, false
		default:
			high = true
			s.i++
		}
		if s.fail {
			return nil, false
		}
	}
	s.fail = true
	return nil, false
}

// strPlain marks the bytes a string holds as they are: not a quote, a
// backslash, a control character or part of a multi-byte character.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape checks the escape at s.i and says how long it is.
func (s *scanner) escape() int {
	if s.i+1 >= len(s.b) {
		s.fail = true
		return 0
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if s.i+6 > len(s.b) {
			s.fail = true
			return 0
		}
		for _, h := range s.b[s.i+2 : s.i+6] {
			if !isHex(h) {
				s.fail = true
			}
		}
		return 6
	}
	s.fail = true
	return 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// object calls field for each member of an object, after its key; field
// must consume the value. A key with an escape fails the scan.
func (s *scanner) object(field func(key []byte)) {
	if !s.expect('{') {
		return
	}
	if s.peek() == '}' {
		s.i++
		return
	}
	for !s.fail {
		key, esc := s.str()
		if esc {
			s.fail = true
		}
		if !s.expect(':') {
			return
		}
		field(key)
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.fail = true
		}
	}
}

// array calls elem for each element of an array; elem must consume it.
func (s *scanner) array(elem func()) {
	if !s.expect('[') {
		return
	}
	if s.peek() == ']' {
		s.i++
		return
	}
	for !s.fail {
		elem()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return
		default:
			s.fail = true
		}
	}
}

// null consumes a null if one is next.
func (s *scanner) null() bool {
	if s.peek() == 'n' {
		s.literal("null")
		return true
	}
	return false
}

// skip consumes any value and returns its text.
func (s *scanner) skip() []byte {
	start := s.peek()
	from := s.i
	s.depth++
	if s.depth > maxScanDepth {
		s.fail = true
	}
	switch {
	case s.fail:
	case start == '{':
		s.object(func([]byte) { s.skip() })
	case start == '[':
		s.array(func() { s.skip() })
	case start == '"':
		s.str()
	case start == 't':
		s.literal("true")
	case start == 'f':
		s.literal("false")
	case start == 'n':
		s.literal("null")
	default:
		s.number()
	}
	s.depth--
	if s.fail {
		return nil
	}
	return s.b[from:s.i]
}

func (s *scanner) literal(lit string) {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		s.fail = true
		return
	}
	s.i += len(lit)
}

// number consumes a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		s.fail = true
		return
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			s.fail = true
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			s.fail = true
		}
	}
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// end checks that nothing but white space follows.
func (s *scanner) end() {
	if s.peek() != 0 || s.i != len(s.b) {
		s.fail = true
	}
}
