package cni

import (
	"context"
	"fmt"

	"os"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/tortienet/tortie/internal/buildinfo"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni/veth"
)

// CommandTimeout bounds one CNI command.
const CommandTimeout = 2 * time.Minute

// Main runs the CNI plugin and returns the exit code: CNI_COMMAND and the
// other parameters come from the environment, the configuration from
// stdin; the result or the error JSON goes to stdout.
func Main() int {
	about := fmt.Sprintf("tortie CNI plugin %s", buildinfo.Version)
	funcs := skel.CNIFuncs{
		Add:    func(args *skel.CmdArgs) error { return run(args, add) },
		Del:    func(args *skel.CmdArgs) error { return run(args, del) },
		Check:  func(args *skel.CmdArgs) error { return run(args, check) },
		Status: func(args *skel.CmdArgs) error { return run(args, status) },
		GC:     func(args *skel.CmdArgs) error { return run(args, gc) },
	}
	if e := skel.PluginMainFuncsWithError(funcs, version.All, about); e != nil {
		if err := e.Print(); err != nil {
			fmt.Fprintln(os.Stderr, "tortie: writing the error:", err)
		}
		return 1
	}
	return 0
}

type command func(ctx context.Context, p *Plugin, args *skel.CmdArgs) error

func add(ctx context.Context, p *Plugin, args *skel.CmdArgs) error {
	res, err := p.Add(ctx, args)
	if err != nil {
		return err
	}
	return types.PrintResult(res, p.Conf.CNIVersion)
}

func del(ctx context.Context, p *Plugin, args *skel.CmdArgs) error { return p.Del(ctx, args) }

func check(ctx context.Context, p *Plugin, args *skel.CmdArgs) error { return p.Check(ctx, args) }

func status(ctx context.Context, p *Plugin, _ *skel.CmdArgs) error { return p.Status(ctx) }

func gc(ctx context.Context, p *Plugin, _ *skel.CmdArgs) error { return p.GC(ctx) }

// run builds the plugin for one command from the configuration and runs
// it. Errors the command logs are also returned: the runtime shows them.
func run(args *skel.CmdArgs, cmd command) error {
	conf, err := ParseConf(args.StdinData)
	if err != nil {
		return types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
	}
	log, closer := newLogger(conf, os.Stderr)
	defer closer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	// One connection serves the command, in-process IPAM included.
	store := &sharedStore{dial: func(ctx context.Context) (*client.Client, string, error) {
		return conf.open(ctx, log)
	}}
	defer store.close()
	log = log.With("cmd", os.Getenv("CNI_COMMAND"), "net", conf.Name)
	p := &Plugin{
		Conf:      conf,
		Stdin:     args.StdinData,
		Log:       log,
		IPAM:      newIPAM(conf, args, store, log),
		Net:       veth.Linux{},
		OpenStore: store.get,
	}
	start := time.Now()
	err = cmd(ctx, p, args)
	if err != nil {
		p.Log.Error("failed", "err", err, "took", time.Since(start))
	} else {
		p.Log.Debug("done", "took", time.Since(start))
	}
	return err
}
