package ctl

import (
	"context"
	"sort"

	"github.com/spf13/cobra"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
)

func (a *App) getCommand() *cobra.Command {
	var output, namespace string
	var allNamespaces bool
	cmd := &cobra.Command{
		Use:   "get KIND [NAME...]",
		Short: "Show resources",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ki, ok := v3.LookupKind(args[0])
			if !ok {
				return a.fail("Failed to get resources: resource type '%s' is not supported", args[0])
			}
			switch output {
			case "ps", "wide", "yaml", "json":
			default:
				return a.fail("Failed to get resources: output format %q is not supported (ps, wide, yaml, json)", output)
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
			rs, rev, err := fetch(cmd.Context(), c, ki, namespace, args[1:])
			if err != nil {
				return a.fail("Failed to get resources: %v", err)
			}
			switch output {
			case "yaml", "json":
				return writeObjects(a.Out, output, ki, rs, len(args) == 2, rev)
			}
			pc, err := newPrintContext(cmd.Context(), c, ki, output == "wide")
			if err != nil {
				return a.fail("Failed to get resources: %v", err)
			}
			header, rows := table(ki, rs, pc, ki.Namespaced && allNamespaces)
			return writeTable(a.Out, header, rows)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "ps", "output format: ps, wide, yaml or json")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default: default)")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list namespaced resources in every namespace")
	return cmd
}

// fetch reads the named resources in order, or lists them all sorted as
// calicoctl shows them (by namespace and name; tiers by order).
func fetch(ctx context.Context, c *client.Client, ki v3.KindInfo, namespace string, names []string) ([]v3.Resource, int64, error) {
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
