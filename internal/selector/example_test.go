package selector_test

import (
	"errors"
	"fmt"

	"github.com/tortienet/tortie/internal/selector"
)

func Example() {
	sel, err := selector.Parse(`app == 'web' && (tier in {"fe", "be"} || !has(tier))`)
	if err != nil {
		panic(err)
	}
	fmt.Println(sel.Evaluate(map[string]string{"app": "web", "tier": "fe"}))
	fmt.Println(sel.Evaluate(map[string]string{"app": "web"}))
	fmt.Println(sel.Evaluate(map[string]string{"app": "web", "tier": "db"}))
	// Output:
	// true
	// true
	// false
}

func ExampleSelector_String() {
	for _, s := range []string{
		"",
		`app=='web'`,
		`!(app == "web")`,
		`zone in {'b', 'a', 'b'}`,
		`!!has(a) && (has(b) && has(c))`,
		`(has(a) || has(b)) && !(has(c) || has(d))`,
		`name == 'say "hi"'`,
	} {
		fmt.Println(selector.MustParse(s))
	}
	// Output:
	// all()
	// app == "web"
	// app != "web"
	// zone in {"a", "b"}
	// has(a) && has(b) && has(c)
	// (has(a) || has(b)) && !(has(c) || has(d))
	// name == 'say "hi"'
}

func ExampleParseError() {
	_, err := selector.Parse(`app = 'x'`)
	fmt.Println(err)
	var pe *selector.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Pos)
	}
	// Output:
	// invalid selector "app = 'x'": at position 4: expected "==", "!=", "in", "not in", "contains", "starts with" or "ends with"
	// 4
}

func ExampleSelector_UsesGlobal() {
	fmt.Println(selector.MustParse(`global() || has(projectcalico.org/namespace)`).UsesGlobal())
	fmt.Println(selector.MustParse(`has(global)`).UsesGlobal())
	// Output:
	// true
	// false
}
