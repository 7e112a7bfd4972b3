package ctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tortienet/tortie/internal/lab"
	"github.com/tortienet/tortie/internal/lab/topo"
)

// labFlags are the options every lab command shares.
type labFlags struct {
	name, root, binDir string
	logFormat          string
	verbose            bool
}

func (a *App) labCommand() *cobra.Command {
	var lf labFlags
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run a tortie cluster made of network namespaces on this machine",
		Long: `A lab is a cluster on one machine: node namespaces on an underlay (a bridge, or
several subnets joined by a router namespace), the embedded datastore, the node
agents, and pods made through the CNI plugin as a container runtime would make them.
Everything lives in network namespaces named tl-<lab>.*; the machine's own
network configuration is never changed. Needs root.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&lf.name, "name", "", "the lab's name (default: the only lab that is up, else \"lab\")")
	pf.StringVar(&lf.root, "state-dir", lab.DefaultRoot, "where labs keep their state")
	pf.StringVar(&lf.binDir, "bin-dir", "", "directory with the tortie binaries (default: tortiectl's own)")
	pf.BoolVarP(&lf.verbose, "verbose", "v", false, "log every step")
	pf.StringVar(&lf.logFormat, "log-format", "human", "progress as short lines (human) or structured logs (text, json)")
	cmd.AddCommand(a.labUpCommand(&lf), a.labDownCommand(&lf), a.labStatusCommand(&lf),
		a.labPingCommand(&lf), a.labPathCommand(&lf), a.labExecCommand(&lf),
		a.labAddPodCommand(&lf), a.labDelPodCommand(&lf),
		a.labStopCommand(&lf), a.labStartCommand(&lf), a.labRestartCommand(&lf))
	return cmd
}

// config builds the lab configuration from the flags and the environment.
func (a *App) labConfig(lf *labFlags) (lab.Config, error) {
	bin := lf.binDir
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			return lab.Config{}, fmt.Errorf("find tortiectl's directory: %w (use --bin-dir)", err)
		}
		bin = filepath.Dir(self)
	}
	logger, err := labLogger(a.Err, lf.logFormat, lf.verbose)
	if err != nil {
		return lab.Config{}, err
	}
	gopath := a.Getenv("GOPATH")
	if gopath == "" {
		gopath = filepath.Join(a.Getenv("HOME"), "go")
	}
	return lab.Config{
		Root:    lf.root,
		BinDir:  bin,
		CNIPath: []string{filepath.Join(gopath, "bin"), "/opt/cni/bin", "/usr/lib/cni"},
		Logger:  logger,
	}, nil
}

// labName is --name, else the only lab under the state dir, else "lab".
func labName(lf *labFlags) string {
	if lf.name != "" {
		return lf.name
	}
	if names, err := lab.ListLabs(lf.root); err == nil && len(names) == 1 {
		return names[0]
	}
	return topo.DefaultName
}

// openLab opens the named lab (the commands that change a lab lock it
// themselves).
func (a *App) openLab(lf *labFlags) (*lab.Lab, error) {
	if os.Geteuid() != 0 {
		return nil, a.fail("lab: needs root (network namespaces)")
	}
	cfg, err := a.labConfig(lf)
	if err != nil {
		return nil, a.fail("lab: %v", err)
	}
	l, err := lab.Open(cfg, labName(lf))
	if err != nil {
		return nil, a.fail("lab: %v", err)
	}
	return l, nil
}

func (a *App) labUpCommand(lf *labFlags) *cobra.Command {
	var file string
	var keep, mustConnect, usePodCIDR bool
	var datastoreType string
	check := true
	gen := topo.GenerateOptions{}
	cmd := &cobra.Command{
		Use:   "up [--file TOPOLOGY | --nodes N --pods-per-node M --underlay l2|routed]",
		Short: "Bring a lab up and leave it running",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return a.fail("lab up: needs root (network namespaces)")
			}
			var top *topo.Topology
			if file != "" {
				for _, f := range []string{"nodes", "pods-per-node", "underlay", "outside"} {
					if cmd.Flags().Changed(f) {
						return a.fail("lab up: --%s describes a topology; give either --file or the topology flags", f)
					}
				}
				t, err := topo.ParseFile(file)
				if err != nil {
					return a.fail("lab up: %v", err)
				}
				top = t
			} else {
				top = topo.Generate(gen)
			}
			if lf.name != "" {
				top.Name = lf.name
			}
			if cmd.Flags().Changed("cni") || top.CNI == "" {
				top.CNI = gen.CNI
			}
			if cmd.Flags().Changed("datastore") {
				top.Datastore = datastoreType
			}
			if cmd.Flags().Changed("use-pod-cidr") {
				top.UsePodCIDR = usePodCIDR
			}
			if err := topo.Resolve(top); err != nil {
				return a.fail("lab up: %v", err)
			}
			cfg, err := a.labConfig(lf)
			if err != nil {
				return a.fail("lab up: %v", err)
			}
			// Ctrl-C stops the build; what was made is then taken down.
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			l, err := lab.Up(ctx, cfg, top)
			if err != nil {
				return a.labUpFailed(ctx, cfg, top.Name, l, keep, err)
			}
			return a.labUpSummary(ctx, l, check, mustConnect)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "topology file (YAML)")
	f.IntVar(&gen.Nodes, "nodes", 3, "number of nodes")
	f.IntVar(&gen.PodsPerNode, "pods-per-node", 2, "pods on each node")
	f.StringVar(&gen.Underlay, "underlay", topo.UnderlayL2, "l2 (one subnet) or routed (two subnets and a router)")
	f.BoolVar(&gen.Outside, "outside", true, "add an outside namespace beyond the gateway (for natOutgoing)")
	f.StringVar(&gen.CNI, "cni", topo.CNIAuto, "CNI plugin: auto (tortie when it works, else ptp), tortie, ptp or bridge")
	f.StringVar(&datastoreType, "datastore", topo.DatastoreEtcd, "etcdv3, or kubernetes: a kube-apiserver (test/k8s/build-apiserver.sh) on the lab's etcd, the lab acting as kubelet")
	f.BoolVar(&usePodCIDR, "use-pod-cidr", false, "with --datastore kubernetes: Nodes get podCIDRs, pods take addresses from them (host-local usePodCidr), tortie-node routes them")
	f.BoolVar(&keep, "keep-on-failure", false, "leave a lab that failed to come up in place, for inspection")
	f.BoolVar(&check, "check", true, "print the status and the pod-to-pod matrix once up")
	f.BoolVar(&mustConnect, "must-connect", false, "exit 1 when a pod pair that should connect does not (the lab stays up)")
	return cmd
}

// labUpSummary ends a successful `lab up`: what is up, the status and the
// ping matrix (unless !check), and the commands to go on with. A pair that
// should connect and does not is a warning, or with mustConnect exit
// status 1; the lab stays up either way.
func (a *App) labUpSummary(ctx context.Context, l *lab.Lab, check, mustConnect bool) error {
	st := l.State()
	top := l.Topology()
	fmt.Fprintf(a.Out, "Lab %s is up: %d nodes, %d pods (CNI %s), datastore %s.\n", st.Name, len(top.Nodes), len(top.Pods), st.CNI, st.Datastore)
	failed := 0
	if check {
		var err error
		if failed, err = a.labCheck(ctx, l); err != nil {
			// The lab is up: say what could not be shown, and go on.
			fmt.Fprintf(a.Err, "lab up: warning: %v\n", err)
		}
	}
	fmt.Fprintf(a.Out, "\nNext:\n")
	for _, c := range labNextCommands(selfCommand(), st.Name, top) {
		fmt.Fprintf(a.Out, "  %s\n", c)
	}
	if failed > 0 {
		fmt.Fprintf(a.Err, "lab up: warning: %d pod pairs that should connect did not (the lab is left up; lab path shows the way packets take)\n", failed)
		if mustConnect {
			return &exitError{code: 1}
		}
	}
	return nil
}

// labCheck prints the lab's status and ping matrix and returns how many
// pairs that should connect did not.
func (a *App) labCheck(ctx context.Context, l *lab.Lab) (int, error) {
	s, err := l.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("status: %w", err)
	}
	fmt.Fprintln(a.Out)
	if err := lab.WriteStatus(a.Out, s); err != nil {
		return 0, err
	}
	m, err := l.Ping(ctx, lab.ExpectAuto)
	if err != nil {
		return 0, fmt.Errorf("ping: %w", err)
	}
	fmt.Fprintln(a.Out)
	return m.Failed(), lab.WriteMatrix(a.Out, m)
}

// labUpFailed reports a failed `lab up` and, unless keep, takes down what
// was made.
func (a *App) labUpFailed(ctx context.Context, cfg lab.Config, name string, l *lab.Lab, keep bool, err error) error {
	fmt.Fprintf(a.Err, "lab up: %v\n", err)
	if l == nil || errors.Is(err, lab.ErrExists) {
		return &exitError{code: 1}
	}
	if keep {
		fmt.Fprintf(a.Err, "The lab is left as it is (--keep-on-failure); state in %s. Remove it with: tortiectl lab down --name %s\n", l.Dir(), name)
		return &exitError{code: 1}
	}
	if derr := lab.Down(context.WithoutCancel(ctx), cfg, name); derr != nil {
		fmt.Fprintf(a.Err, "lab up: cleaning up: %v\n", derr)
	}
	return &exitError{code: 1}
}

func (a *App) labDownCommand(lf *labFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Remove every namespace, link, process and file of a lab (also after a crash)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return a.fail("lab down: needs root (network namespaces)")
			}
			cfg, err := a.labConfig(lf)
			if err != nil {
				return a.fail("lab down: %v", err)
			}
			name := labName(lf)
			if err := lab.Down(cmd.Context(), cfg, name); err != nil {
				return a.fail("%v", err)
			}
			fmt.Fprintf(a.Out, "Lab %s is down.\n", name)
			return nil
		},
	}
}

// labNextCommands are the commands printed after `lab up`.
func labNextCommands(me, name string, top *topo.Topology) []string {
	cmds := []string{
		fmt.Sprintf("%s lab status --name %s", me, name),
		fmt.Sprintf("%s lab ping --name %s", me, name),
	}
	if len(top.Pods) >= 2 {
		cmds = append(cmds, fmt.Sprintf("%s lab path --name %s %s %s", me, name, top.Pods[0].Key(), top.Pods[len(top.Pods)-1].Key()))
	}
	if len(top.Nodes) > 0 {
		n := top.Nodes[0].Name
		cmds = append(cmds, fmt.Sprintf("%s lab exec --name %s %s -- ip route", me, name, n),
			fmt.Sprintf("%s lab exec --name %s %s -- tortiectl get workloadendpoints -A -o wide", me, name, n))
	}
	return append(cmds, fmt.Sprintf("%s lab down --name %s", me, name))
}

// selfCommand is how to call this tortiectl again: its path relative to
// the working directory when it lies below it (bin/tortiectl after make),
// else its name.
func selfCommand() string {
	self, err := os.Executable()
	if err != nil {
		return "tortiectl"
	}
	wd, err := os.Getwd()
	if err != nil {
		return "tortiectl"
	}
	rel, err := filepath.Rel(wd, self)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "tortiectl"
	}
	return rel
}
