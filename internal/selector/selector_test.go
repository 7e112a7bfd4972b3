package selector

import (
	"errors"
	"strings"
	"testing"
)

type labels = map[string]string

// evalCases maps selectors to label sets and the expected result. They are
// also used as fuzz seeds.
var evalCases = []struct {
	sel    string
	labels labels
	want   bool
}{
	// Empty and all().
	{"", nil, true},
	{"  \t\n ", labels{"a": "b"}, true},
	{"all()", nil, true},
	{"all()", labels{"a": "b"}, true},
	{"global()", nil, true},
	{"!all()", nil, false},
	{"!global()", nil, false},

	// ==
	{`app == "web"`, labels{"app": "web"}, true},
	{`app == "web"`, labels{"app": "db"}, false},
	{`app == "web"`, labels{}, false},
	{`app == "web"`, nil, false},
	{`app == ""`, labels{"app": ""}, true},
	{`app == ""`, labels{}, false},
	{`app=="web"`, labels{"app": "web"}, true},

	// != is true when the label is absent.
	{`app != "web"`, labels{"app": "web"}, false},
	{`app != "web"`, labels{"app": "db"}, true},
	{`app != "web"`, labels{}, true},
	{`app!='web'`, labels{"app": "web"}, false},

	// in / not in / notin.
	{`app in {"a", "b"}`, labels{"app": "a"}, true},
	{`app in {"a", "b"}`, labels{"app": "b"}, true},
	{`app in {"a", "b"}`, labels{"app": "c"}, false},
	{`app in {"a", "b"}`, labels{}, false},
	{`app in {}`, labels{"app": ""}, false},
	{`app in {""}`, labels{"app": ""}, true},
	{`app in{'a','b'}`, labels{"app": "b"}, true},
	{`app not in {"a", "b"}`, labels{"app": "a"}, false},
	{`app not in {"a", "b"}`, labels{"app": "c"}, true},
	{`app not in {"a", "b"}`, labels{}, true},
	{`app not in {}`, labels{"app": "x"}, true},
	{`app notin {"a"}`, labels{"app": "a"}, false},
	{`app notin {"a"}`, labels{}, true},
	{`n in {"1","2","3","4","5","6","7","8","9","10"}`, labels{"n": "9"}, true},
	{`n in {"1","2","3","4","5","6","7","8","9","10"}`, labels{"n": "11"}, false},
	{`n not in {"1","2","3","4","5","6","7","8","9","10"}`, labels{"n": "10"}, false},

	// contains / starts with / ends with are false when absent.
	{`app contains "eb"`, labels{"app": "web"}, true},
	{`app contains "x"`, labels{"app": "web"}, false},
	{`app contains ""`, labels{"app": ""}, true},
	{`app contains ""`, labels{}, false},
	{`app starts with "we"`, labels{"app": "web"}, true},
	{`app starts with "eb"`, labels{"app": "web"}, false},
	{`app starts with "we"`, labels{}, false},
	{`app ends with "eb"`, labels{"app": "web"}, true},
	{`app ends with "we"`, labels{"app": "web"}, false},
	{`app ends with ""`, labels{}, false},

	// has.
	{`has(app)`, labels{"app": ""}, true},
	{`has(app)`, labels{"other": "x"}, false},
	{`!has(app)`, labels{"other": "x"}, true},
	{`! has(app)`, labels{"app": "x"}, false},
	{`has( app )`, labels{"app": "x"}, true},
	{`has (app)`, labels{"app": "x"}, true},

	// Precedence: && binds tighter than ||.
	{`a == "1" || b == "2" && c == "3"`, labels{"a": "1"}, true},
	{`a == "1" || b == "2" && c == "3"`, labels{"b": "2"}, false},
	{`a == "1" || b == "2" && c == "3"`, labels{"b": "2", "c": "3"}, true},
	{`(a == "1" || b == "2") && c == "3"`, labels{"a": "1"}, false},
	{`(a == "1" || b == "2") && c == "3"`, labels{"a": "1", "c": "3"}, true},
	{`b == "2" && c == "3" || a == "1"`, labels{"a": "1"}, true},
	{`!a == "1" && b == "2"`, labels{"b": "2"}, true},
	{`!a == "1" && b == "2"`, labels{"a": "1", "b": "2"}, false},
	{`!(a == "1" && b == "2")`, labels{"a": "1", "b": "2"}, false},
	{`!(a == "1" && b == "2")`, labels{"a": "1"}, true},
	{`!(a == "1" || b == "2")`, labels{}, true},
	{`!(a == "1" || b == "2")`, labels{"b": "2"}, false},

	// Nested parentheses and stacked negation.
	{`((((has(a)))))`, labels{"a": ""}, true},
	{`!!has(a)`, labels{"a": ""}, true},
	{`!!!has(a)`, labels{"a": ""}, false},
	{`! ! ! ! has(a)`, labels{}, false},
	{`!(!(has(a)))`, labels{"a": ""}, true},
	{`!!(a != "x")`, labels{}, true},
	{`!(a contains "x")`, labels{}, true},
	{`!(a contains "x")`, labels{"a": "xx"}, false},
	{`(has(a) || has(b)) && (has(c) || (has(d) && !has(e)))`, labels{"b": "", "d": ""}, true},
	{`(has(a) || has(b)) && (has(c) || (has(d) && !has(e)))`, labels{"b": "", "d": "", "e": ""}, false},

	// Quoting: either style, the other quote is ordinary inside.
	{`a == 'it"s'`, labels{"a": `it"s`}, true},
	{`a == "it's"`, labels{"a": "it's"}, true},
	{`a == "x y && z"`, labels{"a": "x y && z"}, true},
	{`a == "(){}!,"`, labels{"a": "(){}!,"}, true},

	// Whitespace variants.
	{"\ta\t==\t\"1\"\t", labels{"a": "1"}, true},
	{"a == \"1\"\n&&\r\nb == \"2\"", labels{"a": "1", "b": "2"}, true},
	{`has(a)&&has(b)||has(c)`, labels{"c": ""}, true},
	{`a not    in {"x"}`, labels{"a": "x"}, false},
	{`a starts   with "x"`, labels{"a": "xy"}, true},

	// Label names with punctuation and digits.
	{`app.kubernetes.io/name == "web"`, labels{"app.kubernetes.io/name": "web"}, true},
	{`projectcalico.org/namespace == 'default'`, labels{"projectcalico.org/namespace": "default"}, true},
	{`my-label_1 == "x"`, labels{"my-label_1": "x"}, true},
	{`1 == "x"`, labels{"1": "x"}, true},
	{`-./_ == "x"`, labels{"-./_": "x"}, true},
	{`has(pcns.kubernetes.io/metadata.name)`, labels{"pcns.kubernetes.io/metadata.name": "x"}, true},

	// Words that are keywords elsewhere work as labels.
	{`index == "1"`, labels{"index": "1"}, true},
	{`has(hasfoo)`, labels{"hasfoo": ""}, true},
	{`hasfoo == "x"`, labels{"hasfoo": "x"}, true},
	{`allx == "1"`, labels{"allx": "1"}, true},
	{`in in {"in"}`, labels{"in": "in"}, true},
	{`not not in {"x"}`, labels{"not": "y"}, true},
	{`has == "x"`, labels{"has": "x"}, true},
	{`all != "x"`, labels{}, true},
	{`global contains "g"`, labels{"global": "g"}, true},
	{`has(all) && has(has) && has(global)`, labels{"all": "", "has": "", "global": ""}, true},
	{`starts starts with "s" && ends ends with "e" && contains contains "c"`,
		labels{"starts": "s", "ends": "e", "contains": "c"}, true},
	{`with == "w"`, labels{"with": "w"}, true},
	{`notin notin {"x"}`, labels{}, true},

	// Long label names up to the limit.
	{"has(" + strings.Repeat("a", maxLabelLen) + ")", labels{strings.Repeat("a", maxLabelLen): ""}, true},
}

func TestEvaluate(t *testing.T) {
	for _, tc := range evalCases {
		sel, err := Parse(tc.sel)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.sel, err)
			continue
		}
		if got := sel.Evaluate(tc.labels); got != tc.want {
			t.Errorf("Parse(%q).Evaluate(%v) = %v, want %v (canonical %q)", tc.sel, tc.labels, got, tc.want, sel)
		}
		// The canonical form must behave the same.
		again, err := Parse(sel.String())
		if err != nil {
			t.Errorf("Parse(%q) (canonical form of %q): %v", sel, tc.sel, err)
			continue
		}
		if got := again.Evaluate(tc.labels); got != tc.want {
			t.Errorf("canonical %q of %q: Evaluate(%v) = %v, want %v", sel, tc.sel, tc.labels, got, tc.want)
		}
	}
}

// errorCases are invalid selectors with a substring of the expected message
// and the expected position.
var errorCases = []struct {
	sel string
	msg string
	pos int
}{
	{`a = "x"`, `expected "==", "!=", "in", "not in", "contains", "starts with" or "ends with"`, 2},
	{`a`, `expected "==", "!="`, 1},
	{`a b`, `expected "==", "!="`, 2},
	{`a == "x`, "unterminated string literal", 5},
	{`a == 'x"`, "no closing single quote", 5},
	{`a == x`, `expected a quoted string after "==", found "x" (values must be quoted)`, 5},
	{`a ==`, `expected a quoted string after "==", found end of selector`, 4},
	{`a !=`, `expected a quoted string after "!="`, 4},
	{`has(`, `expected a label name inside "has(...)", found end of selector`, 4},
	{`has()`, `expected a label name inside "has(...)", found ")"`, 4},
	{`has(a`, `expected ")" to close "has(", found end of selector`, 5},
	{`has(a b)`, `expected ")" to close "has("`, 6},
	{`has("a")`, `expected a label name inside "has(...)", found string "a"`, 4},
	{`all(`, `expected ")" to close "all("`, 4},
	{`all(x)`, `expected ")" to close "all("`, 4},
	{`global(x)`, `expected ")" to close "global("`, 7},
	{`foo(x)`, `unknown function "foo"`, 0},
	{`a in {"x"`, `expected "," or "}" to close "{" at position 5, found end of selector`, 9},
	{`a in {"x" "y"}`, `expected "," or "}"`, 10},
	{`a in {"x",}`, `expected a quoted string in set, found "}"`, 10},
	{`a in {,}`, `expected a quoted string in set, found ","`, 6},
	{`a in {x}`, `expected a quoted string in set, found "x"`, 6},
	{`a in "x"`, `expected "{" after "in", found string "x"`, 5},
	{`a not in "x"`, `expected "{" after "not in"`, 9},
	{`a notin`, `expected "{" after "notin", found end of selector`, 7},
	{`a not {"x"}`, `expected "in" after "not", found "{"`, 6},
	{`a not`, `expected "in" after "not", found end of selector`, 5},
	{`a starts "x"`, `expected "with" after "starts", found string "x"`, 9},
	{`a ends`, `expected "with" after "ends"`, 6},
	{`a starts with`, `expected a quoted string after "starts with"`, 13},
	{`a contains`, `expected a quoted string after "contains"`, 10},
	{`a == "x" b`, `unexpected "b" after a complete expression; expected "&&", "||" or end of selector`, 9},
	{`a == "x" "y"`, `unexpected string "y" after a complete expression`, 9},
	{`all() all()`, `after a complete expression`, 6},
	{`has(a))`, `unmatched ")"`, 6},
	{`)`, `expected a label`, 0},
	{`&&`, `expected a label, "has(", "all()", "global()", "!" or "(", found "&&"`, 0},
	{`||`, `found "||"`, 0},
	{`has(a) &&`, `unexpected end of selector; expected a label`, 9},
	{`has(a) || && has(b)`, `found "&&"`, 10},
	{`!`, `unexpected end of selector`, 1},
	{`()`, `empty parentheses`, 1},
	{`(has(a)`, `expected ")" to close "(" at position 0, found end of selector`, 7},
	{`((has(a))`, `expected ")" to close "(" at position 0`, 9},
	{`"x" == a`, `expected a label, found string "x" (the label goes on the left`, 0},
	{`a & b`, `unexpected "&" (did you mean "&&"?)`, 2},
	{`has(a) | has(b)`, `unexpected "|" (did you mean "||"?)`, 7},
	{`a == "x" ; b`, `unexpected character ';'`, 9},
	{`a:b == "x"`, `unexpected character ':'`, 1},
	{`a == "x" && é`, `unexpected character 'é'`, 12},
	{"a == \"x\" && \xff", `unexpected character byte 0xff`, 12},
	{`a === "x"`, `expected a quoted string after "==", found "="`, 4},
	{`a =! "x"`, operatorMsg, 2},
	{`a ! = "x"`, operatorMsg, 2},
	{`= "x"`, `expected a label`, 0},
	{strings.Repeat("a", maxLabelLen+1) + ` == "x"`, "label name is 513 characters long; the maximum is 512", 0},
	{`has(` + strings.Repeat("b", 1000) + `)`, "label name is 1000 characters long", 4},
	{strings.Repeat("(", maxNesting+1) + "all()" + strings.Repeat(")", maxNesting+1), "parentheses nested more than 256 deep", maxNesting},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range errorCases {
		sel, err := Parse(tc.sel)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error containing %q", tc.sel, sel, tc.msg)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) error %v is %T, want *ParseError", tc.sel, err, err)
			continue
		}
		if !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("Parse(%q) error message %q, want it to contain %q", tc.sel, pe.Msg, tc.msg)
		}
		if pe.Pos != tc.pos {
			t.Errorf("Parse(%q) error position %d, want %d (%v)", tc.sel, pe.Pos, tc.pos, err)
		}
		if pe.Selector != tc.sel {
			t.Errorf("Parse(%q) error Selector field = %q", tc.sel, pe.Selector)
		}
	}
}

func TestParseErrorFormat(t *testing.T) {
	_, err := Parse(`app = 'x'`)
	want := `invalid selector "app = 'x'": at position 4: expected "==", "!=", "in", "not in", "contains", "starts with" or "ends with"`
	if err == nil || err.Error() != want {
		t.Fatalf("Parse error = %v\nwant %s", err, want)
	}
}

// stringCases maps inputs to their canonical form.
var stringCases = []struct{ in, want string }{
	{"", "all()"},
	{"   ", "all()"},
	{"all()", "all()"},
	{"( all() )", "all()"},
	{"!!all()", "all()"},
	{"global()", "global()"},
	{"!global()", "!global()"},
	{"!all()", "!all()"},
	{`app=='web'`, `app == "web"`},
	{`app!="web"`, `app != "web"`},
	{`app == 'say "hi"'`, `app == 'say "hi"'`},
	{`app == "it's"`, `app == "it's"`},
	{`has( app )`, `has(app)`},
	{`! has(app)`, `!has(app)`},
	{`!!!has(app)`, `!has(app)`},
	{`!!has(app)`, `has(app)`},
	{`app in {'b','a','b'}`, `app in {"a", "b"}`},
	{`app in {}`, `app in {}`},
	{`app notin {"x"}`, `app not in {"x"}`},
	{`app not in {'z', "y", 'z'}`, `app not in {"y", "z"}`},
	{`app in {'say "hi"', "it's"}`, `app in {"it's", 'say "hi"'}`},
	{`app contains 'x'`, `app contains "x"`},
	{`app starts  with 'x'`, `app starts with "x"`},
	{`app ends with 'x'`, `app ends with "x"`},

	// Negation folds into operators that have a negated form.
	{`!(app == "x")`, `app != "x"`},
	{`!app == "x"`, `app != "x"`},
	{`!(app != "x")`, `app == "x"`},
	{`!app in {"x"}`, `app not in {"x"}`},
	{`!(app not in {"x"})`, `app in {"x"}`},
	{`!app contains "x"`, `!(app contains "x")`},
	{`!(app starts with "x")`, `!(app starts with "x")`},
	{`!!(app ends with "x")`, `app ends with "x"`},

	// Precedence and parentheses.
	{`a == "1" || b == "2" && c == "3"`, `a == "1" || b == "2" && c == "3"`},
	{`a == "1" || (b == "2" && c == "3")`, `a == "1" || b == "2" && c == "3"`},
	{`(a == "1" || b == "2") && c == "3"`, `(a == "1" || b == "2") && c == "3"`},
	{`((has(a)) && ((has(b))))`, `has(a) && has(b)`},
	{`has(a) && (has(b) && has(c))`, `has(a) && has(b) && has(c)`},
	{`(has(a) || has(b)) || has(c)`, `has(a) || has(b) || has(c)`},
	{`!(has(a) && has(b))`, `!(has(a) && has(b))`},
	{`!(has(a) || has(b)) && has(c)`, `!(has(a) || has(b)) && has(c)`},
	{`!!(has(a) || has(b))`, `has(a) || has(b)`},
	{`!(!(has(a) || has(b)))`, `has(a) || has(b)`},
	{`has(a)&&!(has(b)||has(c))||has(d)`, `has(a) && !(has(b) || has(c)) || has(d)`},
	{`(has(a)||has(b))&&(has(c)||has(d))`, `(has(a) || has(b)) && (has(c) || has(d))`},

	// Keyword-named labels print unchanged and reparse as labels.
	{`in in {"x"}`, `in in {"x"}`},
	{`has(all)`, `has(all)`},
	{`all == "x"`, `all == "x"`},
}

func TestString(t *testing.T) {
	for _, tc := range stringCases {
		sel, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := sel.String(); got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		again, err := Parse(sel.String())
		if err != nil {
			t.Errorf("Parse(%q) (canonical): %v", sel, err)
		} else if again.String() != sel.String() {
			t.Errorf("canonical form not stable: %q -> %q", sel, again)
		}
	}
}

func TestUsesGlobal(t *testing.T) {
	for sel, want := range map[string]bool{
		"":                               false,
		"all()":                          false,
		"global()":                       true,
		"!global()":                      true,
		"has(a) && (has(b) || global())": true,
		"has(global)":                    false,
		`global == "x"`:                  false,
	} {
		if got := MustParse(sel).UsesGlobal(); got != want {
			t.Errorf("Parse(%q).UsesGlobal() = %v, want %v", sel, got, want)
		}
	}
}

func TestIsAll(t *testing.T) {
	for sel, want := range map[string]bool{
		"":                  true,
		" \t":               true,
		"all()":             true,
		"(all())":           true,
		"!!all()":           true,
		"!all()":            false,
		"global()":          false,
		"has(a)":            false,
		"has(all)":          false,
		"all() && all()":    false,
		"has(a) || !has(a)": false,
	} {
		if got := MustParse(sel).IsAll(); got != want {
			t.Errorf("Parse(%q).IsAll() = %v, want %v", sel, got, want)
		}
	}
}

func TestZeroAndNilSelector(t *testing.T) {
	var zero Selector
	var nilSel *Selector
	for _, s := range []*Selector{&zero, nilSel} {
		if !s.Evaluate(labels{"a": "b"}) || !s.IsAll() || s.UsesGlobal() || s.String() != "all()" {
			t.Errorf("%#v does not behave like all()", s)
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		r := recover()
		if _, ok := r.(*ParseError); !ok {
			t.Errorf("MustParse panicked with %v (%T), want *ParseError", r, r)
		}
	}()
	MustParse(`a = "b"`)
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	sel := MustParse(`(app in {"a","b","c","d","e","f","g","h","i","j"} || tier not in {"x"}) && ` +
		`has(env) && !has(debug) && name starts with "w" && name ends with "b" && ` +
		`name contains "e" && zone != "z" && !(role == "r" || has(debug)) && all() && global()`)
	l := labels{"app": "c", "env": "prod", "name": "web", "tier": "fe"}
	if !sel.Evaluate(l) {
		t.Fatalf("%q should match %v", sel, l)
	}
	if n := testing.AllocsPerRun(100, func() { sel.Evaluate(l) }); n != 0 {
		t.Errorf("Evaluate allocated %v times per call, want 0", n)
	}
}
