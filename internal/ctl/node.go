package ctl

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tortienet/tortie/internal/autodetect"
)

// nodeCommand groups the commands about the machine tortiectl runs on.
func (a *App) nodeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Commands about this node",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.nodeAutodetectCommand(), a.nodeChecksystemCommand(), a.nodeStatusCommand())
	return cmd
}

// nodeAutodetectCommand shows which address tortie-node would choose here.
func (a *App) nodeAutodetectCommand() *cobra.Command {
	var (
		method, output string
		ipv6           bool
	)
	cmd := &cobra.Command{
		Use:   "autodetect [--method M] [--ipv6] [-o text|json]",
		Short: "Show which address autodetection picks on this machine, and why",
		Long: `Runs IP address autodetection in the network namespace tortiectl runs in,
exactly as tortie-node does at startup, and prints every interface and
address it considered, why each was accepted or rejected, and the result.
It changes nothing.

The method defaults to $IP_AUTODETECTION_METHOD ($IP6_AUTODETECTION_METHOD
with --ipv6), else first-found. Methods: first-found, interface=<regex,...>,
skip-interface=<regex,...>, can-reach=<address or host name>, cidr=<cidr,...>.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := autodetect.IPv4
			if ipv6 {
				f = autodetect.IPv6
			}
			if !cmd.Flags().Changed("method") {
				method = a.Getenv(autodetect.MethodVar(f))
			}
			if output != "text" && output != "json" {
				return a.fail("node autodetect: --output %q: must be text or json", output)
			}
			m, err := autodetect.ParseMethod(method)
			if err != nil {
				return a.fail("node autodetect: --method: %v", err)
			}
			d := autodetect.Detector{Host: autodetect.NewNetlinkHost(nil)}
			res, derr := d.Detect(cmd.Context(), m, f)
			if err := a.writeAutodetect(res, output); err != nil {
				return a.fail("node autodetect: %v", err)
			}
			if derr != nil {
				return a.fail("node autodetect: %v", derr)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&method, "method", "", "autodetection method, as in IP_AUTODETECTION_METHOD")
	cmd.Flags().BoolVar(&ipv6, "ipv6", false, "detect the IPv6 address instead of the IPv4 one")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func (a *App) writeAutodetect(res autodetect.Result, output string) error {
	if output == "text" {
		return res.WriteText(a.Out)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.Out, "%s\n", b)
	return err
}
