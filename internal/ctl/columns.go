package ctl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
)

// defaultASNumber is Calico's AS when BGPConfiguration "default" sets none.
const defaultASNumber = 64512

// printContext is what some columns need beyond the resource itself.
type printContext struct {
	globalAS string // the inherited AS, as shown in parentheses
}

// newPrintContext reads what the headings need: the global AS number for
// a Node's ASN column ("unknown" when it cannot be read, as calicoctl).
func newPrintContext(ctx context.Context, c *client.Client, ki v3.KindInfo, headings []string) *printContext {
	pc := &printContext{globalAS: strconv.Itoa(defaultASNumber)}
	if ki.Kind != "Node" || !contains(headings, "ASN") {
		return pc
	}
	bk, _ := v3.LookupKind("BGPConfiguration")
	r, err := c.Get(ctx, bk, "", "default")
	switch {
	case errors.Is(err, datastore.ErrNotFound):
	case err != nil:
		pc.globalAS = "unknown"
	default:
		if as := r.(*v3.BGPConfiguration).Spec.ASNumber; as != nil {
			pc.globalAS = as.String()
		}
	}
	return pc
}

// cell renders one column of one resource.
type cell func(r v3.Resource, pc *printContext) string

// kindColumns are the table columns of a kind as calicoctl defines them:
// the default (ps) and wide headings, and every heading it knows, which
// is also what -o custom-columns accepts.
type kindColumns struct {
	ps, wide []string
	cells    map[string]cell
}

// headings returns the headings for -o ps or wide.
func (k kindColumns) headings(wide bool) []string {
	if wide {
		return k.wide
	}
	return k.ps
}

// check returns an error naming the first heading the kind does not know.
func (k kindColumns) check(headings []string) error {
	for _, h := range headings {
		if _, ok := k.cells[h]; !ok {
			valid := make([]string, 0, len(k.cells))
			for v := range k.cells {
				valid = append(valid, v)
			}
			sort.Strings(valid)
			return fmt.Errorf("Unknown heading %s, valid values are: %s", h, strings.Join(valid, ", "))
		}
	}
	return nil
}

// columnsOf returns a kind's columns. Namespaced kinds also know
// NAMESPACE, which -A puts first.
func columnsOf(ki v3.KindInfo) kindColumns {
	var k kindColumns
	for _, group := range []func(string) (kindColumns, bool){ipamColumns, bgpColumns, policyColumns, endpointColumns, setColumns} {
		if c, ok := group(ki.Kind); ok {
			k = c
			break
		}
	}
	if k.cells == nil {
		k = kindColumns{ps: []string{"NAME"}, wide: []string{"NAME"}, cells: map[string]cell{}}
	}
	k.cells["NAME"] = func(r v3.Resource, _ *printContext) string { return r.GetObjectMeta().Name }
	if ki.Namespaced {
		k.cells["NAMESPACE"] = func(r v3.Resource, _ *printContext) string { return r.GetObjectMeta().Namespace }
	}
	return k
}

// col adapts a typed accessor to a cell.
func col[T v3.Resource](f func(T) string) cell {
	return func(r v3.Resource, _ *printContext) string { return f(r.(T)) }
}

// table renders resources of one kind under the given headings.
func table(k kindColumns, headings []string, rs []v3.Resource, pc *printContext) [][]string {
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		row := make([]string, len(headings))
		for i, h := range headings {
			row[i] = k.cells[h](r, pc)
		}
		rows = append(rows, row)
	}
	return rows
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// joinTruncate joins items with sep and, past max bytes, cuts the text to
// max with "..." at its end (calicoctl's joinAndTruncate; max 0: no cut).
func joinTruncate(items []string, sep string, max int) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(it)
		if max > 0 && b.Len() > max {
			return b.String()[:max-3] + "..."
		}
	}
	return b.String()
}

// joinMap renders a map as calicoctl's join does: sorted key=value pairs.
func joinMap(m map[string]string) string {
	kv := make([]string, 0, len(m))
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// fmtBoolPtr prints a *bool as a Go template does, except that nil is
// blank rather than "<nil>".
func fmtBoolPtr(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

// fmtFloatPtr prints a *float64 as a Go template does (%v), nil blank.
func fmtFloatPtr(f *float64) string {
	if f == nil {
		return ""
	}
	return fmt.Sprint(*f)
}

// orDash is calicoctl's {{if X}}X{{else}}-{{end}}.
func orDash(set bool, s string) string {
	if !set {
		return "-"
	}
	return s
}

func tierOrder(r v3.Resource) float64 {
	if t, ok := r.(*v3.Tier); ok && t.Spec.Order != nil {
		return *t.Spec.Order
	}
	return 1e308
}

func nodeKind() v3.KindInfo {
	k, _ := v3.LookupKind("Node")
	return k
}
