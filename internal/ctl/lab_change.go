package ctl

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/lab"
	"github.com/tortienet/tortie/internal/lab/topo"
)

// The commands that change a running lab: pods added and deleted, the
// datastore and node agents stopped and started again.

func (a *App) labAddPodCommand(lf *labFlags) *cobra.Command {
	var node, namespace string
	var labels []string
	cmd := &cobra.Command{
		Use:   "add-pod --node NODE POD [--namespace NS] [--label k=v ...]",
		Short: "Add a pod to a running lab through the node's CNI plugin, as `lab up` adds its pods",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if node == "" {
				return a.fail("lab add-pod: --node is required")
			}
			p := topo.Pod{Name: args[0], Namespace: namespace, Node: node}
			for _, kv := range labels {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return a.fail("lab add-pod: --label %q: want key=value", kv)
				}
				if p.Labels == nil {
					p.Labels = map[string]string{}
				}
				p.Labels[k] = v
			}
			l, err := a.openLab(lf)
			if err != nil {
				return err
			}
			rec, err := l.AddPod(cmd.Context(), p)
			if err != nil {
				return a.fail("lab add-pod: %v", err)
			}
			fmt.Fprintf(a.Out, "Pod %s is on node %s: %s (host interface %s, netns %s).\n", rec.Key, rec.Node, strings.Join(rec.IPs, ", "), rec.HostIf, rec.Netns)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&node, "node", "", "the node the pod runs on")
	f.StringVar(&namespace, "namespace", topo.DefaultPodNamespace, "the pod's Kubernetes namespace")
	f.StringArrayVar(&labels, "label", nil, "a label key=value (repeatable)")
	return cmd
}

func (a *App) labDelPodCommand(lf *labFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "del-pod POD",
		Short: "Delete a pod of a running lab: CNI DEL on its node, then its namespace",
		Long:  "POD is namespace/name, or the name alone when no other namespace has a pod of that name.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := a.openLab(lf)
			if err != nil {
				return err
			}
			if err := l.DelPod(cmd.Context(), args[0]); err != nil {
				return a.fail("lab del-pod: %v", err)
			}
			fmt.Fprintf(a.Out, "Pod %s is deleted.\n", args[0])
			return nil
		},
	}
}

const roleHelp = `ROLE is a process of the lab: "datastore", or "tortie-node/NODE" (or just NODE)
for a node's agent; ` + "`lab status`" + ` lists them.`

func (a *App) labStopCommand(lf *labFlags) *cobra.Command {
	var sig string
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "stop ROLE [--signal TERM|INT|KILL] [--grace DURATION]",
		Short: "Stop a process of a running lab (it stays recorded; `lab start` runs it again)",
		Long:  roleHelp + "\nThe process gets --signal, then SIGKILL if it still runs after --grace.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := parseSignal(sig)
			if err != nil {
				return a.fail("lab stop: %v", err)
			}
			l, err := a.openLab(lf)
			if err != nil {
				return err
			}
			res, err := l.Stop(args[0], s, grace)
			if err != nil {
				return a.fail("lab stop: %v", err)
			}
			a.printStopped(res)
			return nil
		},
	}
	cmd.Flags().StringVar(&sig, "signal", "TERM", "the signal to stop it with")
	cmd.Flags().DurationVar(&grace, "grace", lab.DefaultStopGrace, "how long to wait before SIGKILL")
	return cmd
}

func (a *App) printStopped(res lab.StopResult) {
	p := res.Process
	switch {
	case !res.WasRunning:
		fmt.Fprintf(a.Out, "%s was not running.\n", p.Role)
	case res.Killed:
		fmt.Fprintf(a.Out, "%s (pid %d) was killed after %v.\n", p.Role, p.Pid, res.Took.Round(time.Millisecond))
	default:
		fmt.Fprintf(a.Out, "%s (pid %d) stopped after %v.\n", p.Role, p.Pid, res.Took.Round(time.Millisecond))
	}
}

func (a *App) labStartCommand(lf *labFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "start ROLE",
		Short: "Start a stopped process of a running lab again, as the lab first started it",
		Long:  roleHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := a.openLab(lf)
			if err != nil {
				return err
			}
			p, err := l.Start(cmd.Context(), args[0])
			if err != nil {
				return a.fail("lab start: %v", err)
			}
			fmt.Fprintf(a.Out, "%s is running: pid %d.\n", p.Role, p.Pid)
			return nil
		},
	}
}

func (a *App) labRestartCommand(lf *labFlags) *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "restart ROLE [--grace DURATION]",
		Short: "Stop a process of a running lab (SIGTERM, SIGKILL after --grace) and start it again",
		Long:  roleHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := a.openLab(lf)
			if err != nil {
				return err
			}
			res, p, err := l.Restart(cmd.Context(), args[0], grace)
			if err != nil {
				return a.fail("lab restart: %v", err)
			}
			a.printStopped(res)
			fmt.Fprintf(a.Out, "%s is running: pid %d.\n", p.Role, p.Pid)
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", lab.DefaultStopGrace, "how long to wait after SIGTERM before SIGKILL")
	return cmd
}

// parseSignal reads TERM, SIGTERM, term or 15.
func parseSignal(s string) (syscall.Signal, error) {
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	return 0, fmt.Errorf("--signal %q: not a signal", s)
}
