package crds

import (
	"reflect"
	"strings"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
)

// schema is an OpenAPI v3 schema as a CRD holds it.
type schema = map[string]any

// Types whose JSON is not what their Go shape says.
var special = map[reflect.Type]schema{
	reflect.TypeFor[v3.Port]():     intOrString(),
	reflect.TypeFor[v3.Protocol](): intOrString(),
	reflect.TypeFor[v3.DSCP]():     intOrString(),
	reflect.TypeFor[v3.ASNumber](): {"type": "integer", "format": "int32"},
	reflect.TypeFor[v3.Duration](): {"type": "string"},
	reflect.TypeFor[time.Time]():   {"type": "string", "format": "date-time"},
}

func intOrString() schema {
	return schema{"anyOf": []any{schema{"type": "integer"}, schema{"type": "string"}}, "x-kubernetes-int-or-string": true}
}

// schemaOf is the structural schema of t's JSON encoding. seen guards
// against recursive types (their inner occurrence keeps unknown fields).
func schemaOf(t reflect.Type, seen map[reflect.Type]bool) schema {
	if s, ok := special[t]; ok {
		return s
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem(), seen)
	case reflect.String:
		return schema{"type": "string"}
	case reflect.Bool:
		return schema{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		return schema{"type": "integer", "format": "int64"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return schema{"type": "integer", "format": "int32"}
	case reflect.Float32, reflect.Float64:
		return schema{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return schema{"type": "string", "format": "byte"}
		}
		return schema{"type": "array", "items": schemaOf(t.Elem(), seen)}
	case reflect.Map:
		return schema{"type": "object", "additionalProperties": schemaOf(t.Elem(), seen)}
	case reflect.Struct:
		if seen[t] {
			return schema{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
		}
		seen[t] = true
		defer delete(seen, t)
		props := schema{}
		addFields(t, props, seen)
		return schema{"type": "object", "properties": props}
	}
	return schema{"x-kubernetes-preserve-unknown-fields": true}
}

// addFields adds t's JSON fields to props, embedded structs inlined.
func addFields(t reflect.Type, props schema, seen map[reflect.Type]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			addFields(f.Type, props, seen)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaOf(f.Type, seen)
	}
}

// nullableItems marks the items of the array field path (in s) nullable:
// IPAMBlock.spec.allocations holds nulls for free addresses.
func nullableItems(s schema, path ...string) {
	for _, p := range path {
		s = s["properties"].(schema)[p].(schema)
	}
	s["items"].(schema)["nullable"] = true
}
