package selector

import "testing"

func BenchmarkEvaluate(b *testing.B) {
	l := map[string]string{
		"app":                         "web",
		"tier":                        "frontend",
		"env":                         "prod",
		"projectcalico.org/namespace": "default",
		"app.kubernetes.io/name":      "shop",
	}
	for _, bc := range []struct{ name, sel string }{
		{"all", "all()"},
		{"eq", `app == "web"`},
		{"in-small", `tier in {"backend", "db", "frontend"}`},
		{"in-large", `env in {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "prod"}`},
		{"policy", `(projectcalico.org/namespace == "default") && app == "web" && ` +
			`tier not in {"db"} && has(app.kubernetes.io/name) && !has(debug)`},
		{"or-miss", `a == "1" || b == "2" || c == "3" || d == "4"`},
		{"string-ops", `app starts with "w" && tier ends with "end" && env contains "ro"`},
	} {
		sel := MustParse(bc.sel)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sel.Evaluate(l)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	const s = `(projectcalico.org/namespace == "default") && app == "web" && ` +
		`tier not in {"db", "cache"} && has(app.kubernetes.io/name) && !has(debug)`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}
