// Package ctl implements tortiectl, tortie's calicoctl: the resource verbs,
// their calicoctl-compatible output, and the embedded datastore server.
package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/etcd"
	"github.com/tortienet/tortie/internal/datastore/kdd"
)

// App holds what every command needs; tests construct one with buffers and
// their own client.
type App struct {
	Out, Err io.Writer
	In       io.Reader
	Getenv   func(string) string

	// Open connects to the datastore; nil means: from the config file and
	// the environment.
	Open func(ctx context.Context) (*client.Client, error)

	configPath string
	timeout    time.Duration

	// KubectlPlugin: run as `kubectl tortie` (installed as kubectl-tortie):
	// the Kubernetes datastore, with kubectl's kubeconfig and context.
	KubectlPlugin bool
	kubeconfig    string
	kubeContext   string
}

// PluginName is the name that makes tortiectl a kubectl plugin.
const PluginName = "kubectl-tortie"

// exitError carries an exit status for errors that were already printed.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs tortiectl with args and returns the process exit code.
func Main(ctx context.Context, args []string) int {
	app := &App{Out: os.Stdout, Err: os.Stderr, In: os.Stdin, Getenv: os.Getenv}
	return app.Run(ctx, args)
}

// PluginMain runs tortiectl as the kubectl plugin `kubectl tortie`.
func PluginMain(ctx context.Context, args []string) int {
	app := &App{Out: os.Stdout, Err: os.Stderr, In: os.Stdin, Getenv: os.Getenv, KubectlPlugin: true}
	return app.Run(ctx, args)
}

// Run executes one command line.
func (a *App) Run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(a.Out)
	root.SetErr(a.Err)
	root.SetIn(a.In)
	err := root.ExecuteContext(ctx)
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(a.Err, err)
		return 1
	}
}

func (a *App) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "tortiectl",
		Short:         "tortiectl manages tortie (Calico-compatible) resources",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&a.configPath, "config", "c", datastore.DefaultConfigFile, "path to the CalicoAPIConfig file")
	if a.KubectlPlugin {
		root.Use = "kubectl tortie"
		root.PersistentFlags().StringVar(&a.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
		root.PersistentFlags().StringVar(&a.kubeContext, "context", "", "kubeconfig context (default: its current context)")
	}
	root.PersistentFlags().DurationVar(&a.timeout, "timeout", 10*time.Second, "how long to wait for the datastore")
	root.PersistentFlags().StringP("log-level", "l", "panic", "log level (accepted for calicoctl compatibility)")
	root.AddCommand(
		a.writeCommand(verbCreate), a.writeCommand(verbApply), a.writeCommand(verbReplace),
		a.deleteCommand(), a.getCommand(), a.patchCommand(), a.labelCommand(),
		a.validateCommand(), a.convertCommand(), a.versionCommand(), a.datastoreCommand(), a.labCommand(), a.ipamCommand(), a.nodeCommand(), a.policyCommand(), a.devCommand(),
	)
	return root
}

// client opens the datastore, from App.Open or the configuration.
func (a *App) client(ctx context.Context) (*client.Client, error) {
	if a.Open != nil {
		return a.Open(ctx)
	}
	if a.KubectlPlugin {
		return a.pluginClient(ctx)
	}
	explicit := a.configPath != datastore.DefaultConfigFile
	cfg, err := datastore.LoadConfig(a.configPath, explicit, a.Getenv)
	if err != nil {
		return nil, err
	}
	cfg.Etcd.DialTimeout = a.timeout
	s, err := datastore.Open(ctx, cfg, datastore.Backends{Etcd: etcd.Dial, Kubernetes: kdd.Dial})
	if err != nil {
		return nil, err
	}
	return client.New(s), nil
}

// fail prints msg to stderr and returns an exit status 1 error.
func (a *App) fail(format string, args ...any) error {
	fmt.Fprintf(a.Err, format+"\n", args...)
	return &exitError{code: 1}
}

// pluginClient opens the Kubernetes datastore as kubectl would: --kubeconfig,
// else the first file of $KUBECONFIG, else ~/.kube/config; --context, else
// the file's current context.
func (a *App) pluginClient(ctx context.Context) (*client.Client, error) {
	path := a.kubeconfig
	if path == "" {
		if list := filepath.SplitList(a.Getenv("KUBECONFIG")); len(list) > 0 {
			path = list[0]
		}
	}
	if path == "" {
		path = filepath.Join(a.Getenv("HOME"), ".kube", "config")
	}
	s, err := kdd.Open(kdd.Config{Kubeconfig: path, Context: a.kubeContext})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if err := s.Check(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return client.New(s), nil
}
