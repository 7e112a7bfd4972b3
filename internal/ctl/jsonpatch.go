package ctl

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// mergePatch applies an RFC 7386 JSON merge patch: objects merge key by
// key, null deletes, anything else replaces.
func mergePatch(doc, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	d, ok := doc.(map[string]any)
	if !ok {
		d = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(d, k)
			continue
		}
		d[k] = mergePatch(d[k], v)
	}
	return d
}

// jsonPatchOp is one RFC 6902 operation.
type jsonPatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from"`
	Value json.RawMessage `json:"value"`
}

// applyJSONPatch applies an RFC 6902 JSON patch (add, remove, replace,
// move, copy, test) to doc.
func applyJSONPatch(doc any, raw []byte) (any, error) {
	var ops []jsonPatchOp
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, fmt.Errorf("JSON patch: %w", err)
	}
	for i, op := range ops {
		var val any
		if op.Op == "add" || op.Op == "replace" || op.Op == "test" {
			if op.Value == nil {
				return nil, fmt.Errorf("JSON patch operation %d (%s %s): value is missing", i, op.Op, op.Path)
			}
			if err := json.Unmarshal(op.Value, &val); err != nil {
				return nil, fmt.Errorf("JSON patch operation %d: value: %w", i, err)
			}
		}
		var err error
		switch op.Op {
		case "add":
			doc, err = pointerSet(doc, op.Path, val, true)
		case "replace":
			if _, err = pointerGet(doc, op.Path); err == nil {
				doc, err = pointerSet(doc, op.Path, val, false)
			}
		case "remove":
			doc, _, err = pointerRemove(doc, op.Path)
		case "move":
			var v any
			if doc, v, err = pointerRemove(doc, op.From); err == nil {
				doc, err = pointerSet(doc, op.Path, v, true)
			}
		case "copy":
			var v any
			if v, err = pointerGet(doc, op.From); err == nil {
				doc, err = pointerSet(doc, op.Path, deepCopy(v), true)
			}
		case "test":
			var v any
			if v, err = pointerGet(doc, op.Path); err == nil && !reflect.DeepEqual(v, val) {
				err = fmt.Errorf("test failed: %s is %v, not %v", op.Path, v, val)
			}
		default:
			err = fmt.Errorf("op = %q: must be add, remove, replace, move, copy or test", op.Op)
		}
		if err != nil {
			return nil, fmt.Errorf("JSON patch operation %d (%s %s): %w", i, op.Op, op.Path, err)
		}
	}
	return doc, nil
}

func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q must start with /", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func pointerGet(doc any, p string) (any, error) {
	parts, err := splitPointer(p)
	if err != nil {
		return nil, err
	}
	cur := doc
	for _, k := range parts {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[k]
			if !ok {
				return nil, fmt.Errorf("path %q does not exist", p)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("path %q: index %q out of range", p, k)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("path %q does not exist", p)
		}
	}
	return cur, nil
}

// pointerSet sets the value at p; insert means RFC 6902 "add" semantics
// for arrays (insert before the index, "-" appends).
func pointerSet(doc any, p string, val any, insert bool) (any, error) {
	parts, err := splitPointer(p)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return val, nil
	}
	parent, err := pointerGet(doc, "/"+strings.Join(escapeAll(parts[:len(parts)-1]), "/"))
	if len(parts) == 1 {
		parent, err = doc, nil
	}
	if err != nil {
		return nil, err
	}
	last := parts[len(parts)-1]
	switch c := parent.(type) {
	case map[string]any:
		c[last] = val
		return doc, nil
	case []any:
		i := len(c)
		if last != "-" {
			if i, err = strconv.Atoi(last); err != nil || i < 0 || i > len(c) || (!insert && i == len(c)) {
				return nil, fmt.Errorf("path %q: index %q out of range", p, last)
			}
		}
		var n []any
		if insert {
			n = append(append(append([]any{}, c[:i]...), val), c[i:]...)
		} else {
			n = append([]any{}, c...)
			n[i] = val
		}
		if len(parts) == 1 {
			return n, nil
		}
		return pointerSet(doc, "/"+strings.Join(escapeAll(parts[:len(parts)-1]), "/"), n, false)
	}
	return nil, fmt.Errorf("path %q: parent is not an object or array", p)
}

func pointerRemove(doc any, p string) (any, any, error) {
	parts, err := splitPointer(p)
	if err != nil {
		return nil, nil, err
	}
	v, err := pointerGet(doc, p)
	if err != nil {
		return nil, nil, err
	}
	if len(parts) == 0 {
		return nil, v, nil
	}
	parentPath := "/" + strings.Join(escapeAll(parts[:len(parts)-1]), "/")
	parent := doc
	if len(parts) > 1 {
		parent, _ = pointerGet(doc, parentPath)
	}
	last := parts[len(parts)-1]
	switch c := parent.(type) {
	case map[string]any:
		delete(c, last)
		return doc, v, nil
	case []any:
		i, _ := strconv.Atoi(last)
		n := append(append([]any{}, c[:i]...), c[i+1:]...)
		if len(parts) == 1 {
			return n, v, nil
		}
		doc, err = pointerSet(doc, parentPath, n, false)
		return doc, v, err
	}
	return nil, nil, fmt.Errorf("path %q: cannot remove", p)
}

func escapeAll(parts []string) []string {
	out := make([]string, len(parts))
	for i, s := range parts {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
	}
	return out
}

func deepCopy(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
