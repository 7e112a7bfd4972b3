package ctl

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

func (a *App) deleteCommand() *cobra.Command {
	var ff fileFlags
	var skipNotExists bool
	cmd := &cobra.Command{
		Use:   "delete (-f FILE | KIND NAME...)",
		Short: "Delete resources by file or by kind and name",
		RunE: func(cmd *cobra.Command, args []string) error {
			var docs []Doc
			switch {
			case len(ff.files) > 0 && len(args) > 0:
				return a.fail("Failed to delete resources: give either -f or KIND NAME..., not both")
			case len(ff.files) > 0:
				var err error
				if docs, err = a.readDocs(&ff); err != nil {
					return a.fail("Failed to delete resources: nothing was deleted:\n%v", err)
				}
			case len(args) >= 2:
				ki, ok := v3.LookupKind(args[0])
				if !ok {
					return a.fail("Failed to delete resources: resource type '%s' is not supported", args[0])
				}
				for _, name := range args[1:] {
					r := ki.New()
					r.GetTypeMeta().Kind, r.GetTypeMeta().APIVersion = ki.Kind, v3.APIVersion
					m := r.GetObjectMeta()
					m.Name, m.Namespace = name, ff.namespace
					if ki.Namespaced && m.Namespace == "" {
						m.Namespace = "default"
					}
					docs = append(docs, Doc{Source: "command line", Resource: r})
				}
			default:
				return a.fail("Failed to delete resources: give -f FILE or KIND NAME...")
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return a.fail("Failed to delete resources: %v", err)
			}
			defer c.Close()
			return a.report(verbDelete, docs, func(ctx context.Context, r v3.Resource) error {
				m := r.GetObjectMeta()
				ns := m.Namespace
				if v3.KindOf(r).Namespaced && ns == "" {
					ns = "default"
				}
				_, err := c.Delete(ctx, v3.KindOf(r), ns, m.Name, m.ResourceVersion)
				if skipNotExists && errors.Is(err, datastore.ErrNotFound) {
					return nil
				}
				return err
			}, cmd.Context())
		},
	}
	ff.register(cmd)
	cmd.Flags().BoolVar(&skipNotExists, "skip-not-exists", false, "do not fail on resources that do not exist")
	return cmd
}
