package ctl

import (
	"fmt"

	"github.com/spf13/cobra"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/buildinfo"
)

func (a *App) versionCommand() *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client and cluster versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.Out, "Client Version:    %s\n", buildinfo.Version)
			fmt.Fprintf(a.Out, "Git commit:        %s\n", buildinfo.Commit())
			if clientOnly {
				return nil
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return a.fail("Unable to retrieve Cluster Version or Type: %v", err)
			}
			defer c.Close()
			version, ctype := "unknown", "unknown"
			ki, _ := v3.LookupKind("ClusterInformation")
			if r, err := c.Get(cmd.Context(), ki, "", "default"); err == nil {
				ci := r.(*v3.ClusterInformation)
				if ci.Spec.CalicoVersion != "" {
					version = ci.Spec.CalicoVersion
				}
				if ci.Spec.ClusterType != "" {
					ctype = ci.Spec.ClusterType
				}
			}
			fmt.Fprintf(a.Out, "Cluster Version:   %s\n", version)
			fmt.Fprintf(a.Out, "Cluster Type:      %s\n", ctype)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print only the client version")
	return cmd
}
