package ctl

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore/kdd"
)

func (a *App) getCommand() *cobra.Command {
	var output, namespace string
	var allNamespaces bool
	cmd := &cobra.Command{
		Use:   "get KIND [NAME...]",
		Short: "Show resources",
		Long: `Show resources. -o is ps (the default table), wide, yaml, json,
custom-columns=H1,H2,... (headings of the kind's table: wide's, and a few more),
go-template=TEMPLATE or go-template-file=FILE (the template gets the list of
what was read: one <Kind>List for a listing, the objects for named ones; Go
field names as in Calico's API, e.g. {{range .}}{{range .Items}}{{.ObjectMeta.Name}}
{{end}}{{end}}; functions join, joinAndTruncate and config "asnumber").`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ki, ok := lookupGetKind(args[0])
			if !ok {
				return a.fail("Failed to get resources: resource type '%s' is not supported", args[0])
			}
			f, err := parseOutput(output, columnsOf(ki))
			if err != nil {
				return a.fail("Failed to get resources: %v", err)
			}
			names := args[1:]
			if allNamespaces && ki.Namespaced && len(names) > 0 {
				return a.fail("Failed to get resources: cannot use --all-namespace flag for getting a single resource")
			}
			if ki.Namespaced && namespace == "" && !allNamespaces {
				namespace = "default"
			}
			if allNamespaces {
				namespace = ""
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return a.fail("Failed to get resources: %v", err)
			}
			defer c.Close()
			rs, rev, err := fetch(cmd.Context(), c, ki, namespace, names)
			if err != nil {
				return a.fail("Failed to get resources: %v", err)
			}
			res := fetched{kind: ki, items: rs, named: len(names) > 0, rev: rev, allNamespaces: allNamespaces && ki.Namespaced}
			if err := a.printFetched(cmd.Context(), c, f, res); err != nil {
				return a.fail("Failed to get resources: %v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "ps", "ps, wide, yaml, json, custom-columns=H1,H2,..., go-template=T or go-template-file=F")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default: default)")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list namespaced resources in every namespace")
	return cmd
}

// fetched is what `get` read: a listing, or the named objects in order.
type fetched struct {
	kind          v3.KindInfo
	items         []v3.Resource
	named         bool
	rev           int64
	allNamespaces bool
}

// printFetched prints what was read in the chosen format.
func (a *App) printFetched(ctx context.Context, c *client.Client, f outputFormat, res fetched) error {
	switch f.kind {
	case "yaml", "json":
		return writeObjects(a.Out, f.kind, objectsOf(res))
	case "template":
		return writeTemplate(a.Out, f.template, objectsOf(res), configFunc(ctx, c))
	}
	k := columnsOf(res.kind)
	headings := f.headings
	if headings == nil {
		headings = k.headings(f.kind == "wide")
	}
	if res.allNamespaces && !contains(headings, "NAMESPACE") {
		headings = append([]string{"NAMESPACE"}, headings...)
	}
	pc := newPrintContext(ctx, c, res.kind, headings)
	if !res.named {
		return writeTable(a.Out, headings, table(k, headings, res.items, pc))
	}
	// calicoctl prints a table for each named resource.
	for _, r := range res.items {
		if err := writeTable(a.Out, headings, table(k, headings, []v3.Resource{r}, pc)); err != nil {
			return err
		}
	}
	return nil
}

// objectsOf is what calicoctl's printers get: the <Kind>List of a
// listing, or the named objects themselves.
func objectsOf(res fetched) []any {
	if !res.named {
		return []any{newList(res.kind, res.items, res.rev)}
	}
	out := make([]any, len(res.items))
	for i, r := range res.items {
		out[i] = r
	}
	return out
}

// fetch reads the named resources in order, or lists them all sorted as
// calicoctl shows them (by namespace and name; tiers by order).
func fetch(ctx context.Context, c *client.Client, ki v3.KindInfo, namespace string, names []string) ([]v3.Resource, int64, error) {
	if ki.Kind == ipamConfigKind.Kind {
		return fetchIPAMConfig(ctx, c, names)
	}
	if len(names) > 0 {
		out := make([]v3.Resource, 0, len(names))
		for _, n := range names {
			r, err := c.Get(ctx, ki, namespace, n)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, r)
		}
		return out, 0, nil
	}
	rs, rev, err := c.List(ctx, ki, namespace)
	if err != nil {
		return nil, 0, err
	}
	if ki.Kind == "Profile" {
		rs = listedProfiles(c, rs)
	}
	sort.SliceStable(rs, func(i, j int) bool {
		mi, mj := rs[i].GetObjectMeta(), rs[j].GetObjectMeta()
		if mi.Namespace != mj.Namespace {
			return mi.Namespace < mj.Namespace
		}
		return mi.Name < mj.Name
	})
	if ki.Kind == "Tier" {
		sort.SliceStable(rs, func(i, j int) bool { return tierOrder(rs[i]) < tierOrder(rs[j]) })
	}
	return rs, rev, nil
}

// outputFormat is a parsed -o: kind is ps, wide, yaml, json, columns or
// template.
type outputFormat struct {
	kind     string
	headings []string // custom-columns
	template string
}

// parseOutput parses -o, checking custom columns against the kind's.
func parseOutput(o string, k kindColumns) (outputFormat, error) {
	switch {
	case o == "ps" || o == "wide" || o == "yaml" || o == "json":
		return outputFormat{kind: o}, nil
	case strings.HasPrefix(o, "custom-columns="):
		var hs []string
		for _, h := range strings.Split(strings.TrimPrefix(o, "custom-columns="), ",") {
			if h = strings.ToUpper(strings.TrimSpace(h)); h != "" {
				hs = append(hs, h)
			}
		}
		if len(hs) == 0 {
			return outputFormat{}, errorf("custom-columns: no headings given")
		}
		return outputFormat{kind: "columns", headings: hs}, k.check(hs)
	case strings.HasPrefix(o, "go-template="):
		return outputFormat{kind: "template", template: strings.TrimPrefix(o, "go-template=")}, nil
	case strings.HasPrefix(o, "go-template-file="):
		t, err := readTemplateFile(strings.TrimPrefix(o, "go-template-file="))
		return outputFormat{kind: "template", template: t}, err
	}
	return outputFormat{}, errorf("output format %q is not supported (ps, wide, yaml, json, custom-columns=..., go-template=..., go-template-file=...)", o)
}

// listedProfiles is what calicoctl lists of the profiles on the Kubernetes
// datastore: kns.<ns> for every namespace and projectcalico-default-allow,
// not the ksa.<ns>.<sa> profiles the service accounts stand for (those
// are read by name, and by tortie-node for their labels).
func listedProfiles(c *client.Client, rs []v3.Resource) []v3.Resource {
	if _, ok := c.Store().(*kdd.Store); !ok {
		return rs
	}
	return slices.DeleteFunc(rs, func(r v3.Resource) bool {
		return strings.HasPrefix(r.GetObjectMeta().Name, kdd.ServiceAccountProfilePrefix)
	})
}
