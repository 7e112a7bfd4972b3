package ctl

import (
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tortienet/tortie/internal/bgp/bgpstatus"
	"github.com/tortienet/tortie/internal/conventions"
)

// nodeStatusCommand is calicoctl node status: the agent's BGP sessions,
// read from its status socket.
func (a *App) nodeStatusCommand() *cobra.Command {
	var stateDir, output string
	cmd := &cobra.Command{
		Use:   "status [--state-dir DIR] [-o text|json]",
		Short: "Show the BGP sessions of the tortie-node running here",
		Long: `Asks the tortie-node of this machine (through <state dir>/status.sock,
root only) for its BGP sessions and prints them as calicoctl node status
does. The state directory defaults to $TORTIE_STATE_DIR, else /var/lib/tortie.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return a.fail("node status: --output %q: must be text or json", output)
			}
			if !cmd.Flags().Changed("state-dir") {
				if v := a.Getenv("TORTIE_STATE_DIR"); v != "" {
					stateDir = v
				}
			}
			st, err := bgpstatus.Read(cmd.Context(), filepath.Join(stateDir, conventions.StatusSocket))
			if err != nil {
				return a.fail("%v", err)
			}
			if output == "json" {
				enc := json.NewEncoder(a.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return bgpstatus.Render(a.Out, st, time.Now(), writeBoxTable)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", conventions.DefaultStateDir, "tortie-node's state directory")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}
