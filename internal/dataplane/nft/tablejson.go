package nft

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/knftables"
)

// A fresh Owner (a restarted agent) reads the whole table in one
// `nft -j -n list table` run (one per kind, per set and per map took it
// 120-200 ms at 1,000 endpoints) and answers readBack from it: the same
// names, rules and elements, in the same canonical form, as reading
// object by object (liveReader) gives.

// tableSnapshot is the table as one `nft -j -n list table` printed it.
type tableSnapshot struct {
	names map[string][]string // by kind: "chains", "sets", "maps"
	rules map[string][]*knftables.Rule
	sets  map[string][]any // the elem of each set
	maps  map[string][]any
}

// parseTable reads nft's JSON listing of the table.
func parseTable(data []byte) (*tableSnapshot, error) {
	var doc struct {
		Nftables []struct {
			Chain *struct {
				Name string `json:"name"`
			} `json:"chain"`
			Rule *struct {
				Chain   string  `json:"chain"`
				Handle  *int    `json:"handle"`
				Comment *string `json:"comment"`
			} `json:"rule"`
			Set *jsonSet `json:"set"`
			Map *jsonSet `json:"map"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse nft's output: %w", err)
	}
	t := &tableSnapshot{names: map[string][]string{}, rules: map[string][]*knftables.Rule{}, sets: map[string][]any{}, maps: map[string][]any{}}
	for _, o := range doc.Nftables {
		switch {
		case o.Chain != nil:
			t.names["chains"] = append(t.names["chains"], o.Chain.Name)
		case o.Rule != nil:
			r := &knftables.Rule{Chain: o.Rule.Chain, Handle: o.Rule.Handle, Comment: o.Rule.Comment}
			t.rules[r.Chain] = append(t.rules[r.Chain], r)
		case o.Set != nil:
			t.names["sets"] = append(t.names["sets"], o.Set.Name)
			t.sets[o.Set.Name] = o.Set.Elem
		case o.Map != nil:
			t.names["maps"] = append(t.names["maps"], o.Map.Name)
			t.maps[o.Map.Name] = o.Map.Elem
		}
	}
	return t, nil
}

func (t *tableSnapshot) list(_ context.Context, kind string) ([]string, error) {
	return t.names[kind], nil
}

func (t *tableSnapshot) rulesByChain(context.Context) (map[string][]*knftables.Rule, error) {
	return t.rules, nil
}

// elements reads set s's elements as liveReader does: through jsonKey for
// the sets it reads as JSON, else as knftables parses them, canonical.
func (t *tableSnapshot) elements(_ context.Context, s setDef) ([]string, bool, error) {
	elem, found := t.sets[s.name]
	if !found {
		return nil, false, nil
	}
	if readsJSON(s) {
		els, ok := jsonSetElements(s, elem)
		return els, ok, nil
	}
	out := make([]string, 0, len(elem))
	for _, e := range elem {
		key, err := elementValue(unwrapElem(e))
		if err != nil {
			return nil, false, fmt.Errorf("read nftables set %s: %w", s.name, err)
		}
		k, ok := canonical(s.typ, strings.Join(key, " . "))
		if !ok {
			return nil, false, nil
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out, true, nil
}

// mapElements reads a map's elements as "key : value", sorted.
func (t *tableSnapshot) mapElements(_ context.Context, name string) ([]string, bool, error) {
	elem, found := t.maps[name]
	if !found {
		return nil, false, nil
	}
	out := make([]string, 0, len(elem))
	for _, e := range elem {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, false, fmt.Errorf("read nftables map %s: element %v is not [key, value]", name, e)
		}
		key, err := elementValue(unwrapElem(pair[0]))
		if err != nil {
			return nil, false, fmt.Errorf("read nftables map %s: %w", name, err)
		}
		value, err := elementValue(pair[1])
		if err != nil {
			return nil, false, fmt.Errorf("read nftables map %s: %w", name, err)
		}
		out = append(out, strings.Join(key, " . ")+" : "+strings.Join(value, " "))
	}
	slices.Sort(out)
	return out, true, nil
}

// unwrapElem is the key of an element with a comment or timeout
// ({"elem": {"val": key, ...}}), or e.
func unwrapElem(e any) any {
	if w, ok := e.(map[string]any); ok {
		if inner, ok := w["elem"].(map[string]any); ok {
			return inner["val"]
		}
	}
	return e
}

// elementValue is a key or value as knftables reads it (ListElements):
// a string; a number; the fields of a concatenation; a prefix as
// "addr/len"; a verdict as "drop" or "goto chain".
func elementValue(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case float64:
		return []string{strconv.Itoa(int(v))}, nil
	case map[string]any:
		if concat, ok := v["concat"].([]any); ok {
			out := make([]string, len(concat))
			for i, f := range concat {
				switch f := f.(type) {
				case string:
					out[i] = f
				case float64:
					out[i] = strconv.Itoa(int(f))
				default:
					return nil, fmt.Errorf("element field %v is neither a string nor a number", f)
				}
			}
			return out, nil
		}
		if p, ok := v["prefix"].(map[string]any); ok {
			addr, okA := p["addr"].(string)
			l, okL := p["len"].(float64)
			if !okA || !okL {
				return nil, fmt.Errorf("element prefix %v has no addr and len", p)
			}
			return []string{fmt.Sprintf("%s/%d", addr, int(l))}, nil
		}
		if len(v) == 1 {
			for k, arg := range v {
				if arg == nil {
					return []string{k}, nil
				}
				if target, ok := arg.(map[string]any); ok {
					return []string{fmt.Sprintf("%s %v", k, target["target"])}, nil
				}
				return []string{""}, nil
			}
		}
	}
	return nil, fmt.Errorf("element value %v is not one nft writes", v)
}
