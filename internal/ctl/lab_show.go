package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/tortienet/tortie/internal/lab"
)

func (a *App) labStatusCommand(lf *labFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status [--format table|json|dot|svg]",
		Short: "Show a lab's subnets, nodes, blocks, pods and processes (or draw them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := a.openLab(lf)
			if err != nil {
				return err
			}
			s, err := l.Status(cmd.Context())
			if err != nil {
				return a.fail("lab status: %v", err)
			}
			switch format {
			case "table":
				err = lab.WriteStatus(a.Out, s)
			case "json":
				err = writeJSON(a.Out, s)
			case "dot":
				err = lab.WriteDOT(a.Out, s)
			case "svg":
				err = a.writeSVG(s)
			default:
				return a.fail("lab status: --format %q: must be table, json, dot or svg", format)
			}
			if err != nil {
				return a.fail("lab status: %v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "o", "table", "table, json, dot (Graphviz) or svg (needs graphviz's dot)")
	return cmd
}

// writeSVG renders the status through Graphviz.
func (a *App) writeSVG(s *lab.Status) error {
	dot, err := exec.LookPath("dot")
	if err != nil {
		return errors.New("svg needs Graphviz (apt-get install graphviz); --format dot prints its input")
	}
	var in bytes.Buffer
	if err := lab.WriteDOT(&in, s); err != nil {
		return err
	}
	c := exec.Command(dot, "-Tsvg")
	c.Stdin, c.Stdout = &in, a.Out
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("dot -Tsvg: %w: %s", err, stderr.String())
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *App) labPingCommand(lf *labFlags) *cobra.Command {
	var expect, format string
	cmd := &cobra.Command{
		Use:   "ping [--expect auto|same-node|all]",
		Short: "Ping every pod from every pod; exit 1 if a pair that should connect does not",
		Long: `Prints the pod-to-pod connectivity matrix. Which pairs should connect: all of
them when every node runs tortie-node, else only pods on the same node (auto);
--expect overrides. The exit status is 1 when any pair that should connect did not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := a.openLab(lf)
			if err != nil {
				return err
			}
			m, err := l.Ping(cmd.Context(), expect)
			if err != nil {
				return a.fail("lab ping: %v", err)
			}
			if format == "json" {
				err = writeJSON(a.Out, m)
			} else {
				err = lab.WriteMatrix(a.Out, m)
			}
			if err != nil {
				return a.fail("lab ping: %v", err)
			}
			if m.Failed() > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&expect, "expect", lab.ExpectAuto, "which pairs should connect: auto, same-node or all")
	cmd.Flags().StringVarP(&format, "format", "o", "table", "table or json")
	return cmd
}

func (a *App) labPathCommand(lf *labFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "path FROM TO",
		Short: "Show the hop-by-hop path a packet takes, read from the routes of each namespace",
		Long: `FROM is a pod (name or namespace/name), node, router, "outside" or "underlay";
TO is one of those or an IPv4 address. Nothing is sent: each hop is the kernel's
route lookup in that namespace, followed across veths, bridges and tunnels.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := a.openLab(lf)
			if err != nil {
				return err
			}
			p, err := l.Path(args[0], args[1])
			if err != nil {
				return a.fail("lab path: %v", err)
			}
			if format == "json" {
				err = writeJSON(a.Out, p)
			} else {
				err = lab.WritePath(a.Out, p)
			}
			if err != nil {
				return a.fail("lab path: %v", err)
			}
			if !p.Delivered {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "o", "table", "table or json")
	return cmd
}

func (a *App) labExecCommand(lf *labFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "exec NODE|POD|ROUTER|outside|underlay -- COMMAND [ARGS...]",
		Short: "Run a command inside a lab namespace (ETCD_ENDPOINTS points at the lab's datastore)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := a.openLab(lf)
			if err != nil {
				return err
			}
			c, err := l.Command(args[0], args[1:])
			if err != nil {
				return a.fail("lab exec: %v", err)
			}
			c.Stdin, c.Stdout, c.Stderr = a.In, a.Out, a.Err
			err = c.Run()
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee):
				return &exitError{code: ee.ExitCode()}
			case err != nil:
				return a.fail("lab exec: %v", err)
			}
			return nil
		},
	}
}
