package selector

import (
	"fmt"
	"slices"
	"testing"
)

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		sel    string
		key    string
		values []string
		ok     bool
	}{
		{"all()", "", nil, false},
		{"", "", nil, false},
		{"app == 'a'", "app", []string{"a"}, true},
		{"app in {'b', 'a'}", "app", []string{"a", "b"}, true},
		{"has(app)", "app", nil, true},
		{"app contains 'x'", "app", nil, true},
		{"app starts with 'x'", "app", nil, true},
		{"app ends with 'x'", "app", nil, true},
		{"app != 'a'", "", nil, false},
		{"!has(app)", "", nil, false},
		{"app not in {'a'}", "", nil, false},
		{"app == 'a' || tier == 'b'", "", nil, false},
		{"has(tier) && app == 'a'", "app", []string{"a"}, true},
		{"has(tier) && !has(app)", "tier", nil, true},
		{"app != 'a' && role == 'db'", "role", []string{"db"}, true},
		{"global()", "", nil, false},
	} {
		key, values, ok := MustParse(c.sel).Required()
		if key != c.key || !slices.Equal(values, c.values) || ok != c.ok {
			t.Errorf("%q: Required() = %q, %q, %v; want %q, %q, %v", c.sel, key, values, ok, c.key, c.values, c.ok)
		}
	}
}

// TestRequiredHolds: whatever a selector matches has the label Required
// names, with one of its values.
func TestRequiredHolds(t *testing.T) {
	sels := []string{"a == '1'", "a in {'1','2'}", "has(b)", "a == '1' && b != '2'", "a == '1' && has(b)",
		"b starts with '1' && a != '2'", "(a == '1' || b == '1') && has(c)", "c ends with '2'", "a contains ''"}
	var labelSets []map[string]string
	for mask := range 27 {
		l := map[string]string{}
		for i, k := range []string{"a", "b", "c"} {
			switch mask / pow3(i) % 3 {
			case 1:
				l[k] = "1"
			case 2:
				l[k] = "2"
			}
		}
		labelSets = append(labelSets, l)
	}
	for _, text := range sels {
		s := MustParse(text)
		key, values, ok := s.Required()
		if !ok {
			t.Fatalf("%q: no required label", text)
		}
		for _, l := range labelSets {
			v, has := l[key]
			if s.Evaluate(l) && (!has || values != nil && !slices.Contains(values, v)) {
				t.Errorf("%q matches %v, which lacks %s in %v", text, fmt.Sprint(l), key, values)
			}
		}
	}
}

func pow3(i int) int {
	n := 1
	for range i {
		n *= 3
	}
	return n
}
