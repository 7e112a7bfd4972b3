// Package ipamplugin is tortie-ipam, the CNI IPAM plugin, as a program: the
// skel commands around package cniipam, with a datastore connection of
// their own. The tortie plugin runs the same core in process when its
// conflist names tortie-ipam, so this binary is only exec'd by other
// plugins (or by tortie built without it).
package ipamplugin

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/tortienet/tortie/internal/buildinfo"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni"
	"github.com/tortienet/tortie/internal/cni/cniipam"
)

// Main runs the plugin and returns the exit code.
func Main() int {
	if err := skel.PluginMainFuncsWithError(skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck, GC: cmdGC, Status: cmdStatus},
		version.All, "tortie-ipam "+buildinfo.Version); err != nil {
		err.Print()
		return 1
	}
	return 0
}

// parse reads the plugin configuration and its ipam section.
func parse(stdin []byte) (*cni.NetConf, cniipam.Conf, error) {
	c, err := cni.ParseConf(stdin)
	if err != nil {
		return nil, cniipam.Conf{}, types.NewError(types.ErrDecodingFailure, err.Error(), "")
	}
	ic, err := cniipam.ParseConf(stdin)
	if err != nil {
		return nil, cniipam.Conf{}, err
	}
	return c, ic, nil
}

// warnLog reports, on stderr (which the runtime logs), what the plugin
// worked around.
var warnLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// session is what every command needs: the request and a datastore
// connection.
type session struct {
	req        cniipam.Request
	cniVersion string
	c          *client.Client
}

func open(ctx context.Context, args *skel.CmdArgs) (*session, error) {
	conf, ic, err := parse(args.StdinData)
	if err != nil {
		return nil, err
	}
	node, err := conf.NodeName()
	if err != nil {
		return nil, types.NewError(types.ErrTryAgainLater, err.Error(), "")
	}
	c, err := conf.Open(ctx, warnLog)
	if err != nil {
		return nil, cniipam.Unreachable(types.ErrTryAgainLater, err)
	}
	req := cniipam.Request{Network: conf.Name, ContainerID: args.ContainerID, Args: args.Args, Node: node, Conf: ic}
	return &session{req: req, cniVersion: conf.CNIVersion, c: c}, nil
}

// withSession runs f on a session and closes it.
func withSession(args *skel.CmdArgs, timeout time.Duration, f func(context.Context, *session) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := open(ctx, args)
	if err != nil {
		return err
	}
	defer s.c.Close()
	return f(ctx, s)
}

func cmdAdd(args *skel.CmdArgs) error {
	return withSession(args, 60*time.Second, func(ctx context.Context, s *session) error {
		res, err := cniipam.Add(ctx, s.c, s.req)
		if err != nil {
			return err
		}
		return types.PrintResult(res, s.cniVersion)
	})
}

func cmdDel(args *skel.CmdArgs) error {
	return withSession(args, 60*time.Second, func(ctx context.Context, s *session) error {
		return cniipam.Del(ctx, s.c, s.req)
	})
}

func cmdCheck(args *skel.CmdArgs) error {
	return withSession(args, 30*time.Second, func(ctx context.Context, s *session) error {
		return cniipam.Check(ctx, s.c, s.req, cniipam.PrevResult(args.StdinData))
	})
}

// cmdGC releases the allocations of this network whose container is not
// among the runtime's valid attachments.
func cmdGC(args *skel.CmdArgs) error {
	return withSession(args, 60*time.Second, func(ctx context.Context, s *session) error {
		valid, err := cniipam.ValidAttachments(args.StdinData)
		if err != nil {
			return err
		}
		return cniipam.GC(ctx, s.c, s.req.Network, valid)
	})
}

// cmdStatus reports whether the plugin can allocate: the datastore answers.
func cmdStatus(args *skel.CmdArgs) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conf, _, err := parse(args.StdinData)
	if err != nil {
		return err
	}
	c, err := conf.Open(ctx, warnLog)
	if err != nil {
		return cniipam.NotAvailable(err)
	}
	c.Close()
	return nil
}
