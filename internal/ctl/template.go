package ctl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/template"

	"github.com/tortienet/tortie/internal/client"
)

// writeTemplate runs a user's go-template over what was read (see
// objectsOf), with calicoctl's functions. Nothing is written when the
// template fails.
func writeTemplate(w io.Writer, text string, objs []any, config func(string) (string, error)) error {
	t, err := template.New("get").Funcs(template.FuncMap{
		"join":            func(items any, sep string) string { return joinAny(items, sep, 0) },
		"joinAndTruncate": joinAny,
		"config":          config,
	}).Parse(text)
	if err != nil {
		return fmt.Errorf("go-template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, objs); err != nil {
		return fmt.Errorf("go-template: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// joinAny joins the elements of a slice (or the sorted key=value pairs of
// a map, or a single value) with sep, printed as fmt prints them, cut to
// max bytes with "..." when max > 0.
func joinAny(items any, sep string, max int) string {
	if items == nil {
		return ""
	}
	v := reflect.ValueOf(items)
	var parts []string
	switch v.Kind() {
	case reflect.Map:
		for _, k := range v.MapKeys() {
			parts = append(parts, fmt.Sprintf("%v=%v", k.Interface(), v.MapIndex(k).Interface()))
		}
		sort.Strings(parts)
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			parts = append(parts, fmt.Sprint(v.Index(i).Interface()))
		}
	default:
		parts = []string{fmt.Sprint(items)}
	}
	return joinTruncate(parts, sep, max)
}

// configFunc is the template function config: "asnumber" is the global AS
// number (read once, when first asked for).
func configFunc(ctx context.Context, c *client.Client) func(string) (string, error) {
	var as string
	return func(name string) (string, error) {
		if strings.ToLower(name) != "asnumber" {
			return "", fmt.Errorf("config %q: only \"asnumber\" is known", name)
		}
		if as == "" {
			pc := newPrintContext(ctx, c, nodeKind(), []string{"ASN"})
			as = pc.globalAS
		}
		return as, nil
	}
}
