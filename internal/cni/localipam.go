package cni

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni/agentsock"
	"github.com/tortienet/tortie/internal/cni/cniipam"
	"github.com/tortienet/tortie/internal/datastore"
)

// newIPAM is the IPAM the configuration names: tortie-ipam runs in this
// process on the command's datastore connection (store); any other type
// (host-local, ...) is exec'd from CNI_PATH.
func newIPAM(conf *NetConf, args *skel.CmdArgs, store *sharedStore, log *slog.Logger) IPAM {
	if conf.IPAM.Type == cniipam.Name {
		return &localIPAM{conf: conf, containerID: args.ContainerID, args: args.Args, store: store, log: log}
	}
	if wantsPodCIDR(args.StdinData) {
		return podCIDRIPAM{inner: execIPAM{plugin: conf.IPAM.Type}, conf: conf, open: store.get}
	}
	return execIPAM{plugin: conf.IPAM.Type}
}

// localIPAM is tortie-ipam run in process: the same core as the
// tortie-ipam binary (package cniipam), with the same results and errors
// as its exec (wrapped by ipamError as execIPAM wraps them), but no second
// process start-up and no second datastore connection.
type localIPAM struct {
	conf        *NetConf
	containerID string
	args        string // CNI_ARGS
	// store is the command's connection; when it goes through the node
	// agent, Add and Del are the agent's too (agentsock.IPAMClient).
	store *sharedStore
	log   *slog.Logger
}

// open is what the tortie-ipam binary does before each command: read the
// ipam section, find the node, connect.
func (l *localIPAM) open(ctx context.Context, stdin []byte, unreachableCode uint) (*client.Client, cniipam.Request, error) {
	ic, err := cniipam.ParseConf(stdin)
	if err != nil {
		return nil, cniipam.Request{}, err
	}
	node, err := l.conf.NodeName()
	if err != nil {
		return nil, cniipam.Request{}, types.NewError(types.ErrTryAgainLater, err.Error(), "")
	}
	cl, err := l.store.get(ctx)
	if err != nil {
		return nil, cniipam.Request{}, cniipam.Unreachable(unreachableCode, err)
	}
	req := cniipam.Request{Network: l.conf.Name, ContainerID: l.containerID, Args: l.args, Node: node, Conf: ic}
	return cl, req, nil
}

func (l *localIPAM) Add(ctx context.Context, stdin []byte) (*current.Result, error) {
	start := time.Now()
	m, req, err := l.open(ctx, stdin, types.ErrTryAgainLater)
	if err == nil {
		opened := time.Now()
		var res *current.Result
		err = l.viaAgent(func(a *agentsock.IPAMClient) error {
			res, err = a.Add(ctx, req)
			return err
		}, func() error {
			res, err = cniipam.Add(ctx, m, req)
			return err
		})
		l.log.Debug("timing", "ipam_connect_wait", opened.Sub(start), "ipam_assign", time.Since(opened))
		if err == nil {
			return res, nil
		}
	}
	return nil, ipamError(cniipam.Name, "failed to assign an address", err)
}

func (l *localIPAM) Del(ctx context.Context, stdin []byte) error {
	m, req, err := l.open(ctx, stdin, types.ErrTryAgainLater)
	if err == nil {
		err = l.viaAgent(func(a *agentsock.IPAMClient) error { return a.Del(ctx, req) },
			func() error { return cniipam.Del(ctx, m, req) })
	}
	if err != nil {
		return ipamError(cniipam.Name, "failed to release", err)
	}
	return nil
}

// viaAgent runs agent with the node agent's client when the connection
// goes through the agent, else (or when the agent does not serve IPAM)
// local, in this process on the connection.
func (l *localIPAM) viaAgent(agent func(*agentsock.IPAMClient) error, local func() error) error {
	if path := l.store.agentSocket(); path != "" {
		a := agentsock.NewIPAMClient(path)
		defer a.Close()
		err := agent(a)
		if !errors.Is(err, agentsock.ErrNoIPAM) {
			return err
		}
		l.log.Debug("the node agent does not serve IPAM; allocating here")
	}
	return local()
}

func (l *localIPAM) Check(ctx context.Context, stdin []byte) error {
	m, req, err := l.open(ctx, stdin, types.ErrTryAgainLater)
	if err == nil {
		err = cniipam.Check(ctx, m, req, cniipam.PrevResult(stdin))
	}
	if err != nil {
		return ipamError(cniipam.Name, "check failed", err)
	}
	return nil
}

// Status is the tortie-ipam binary's STATUS: the datastore answers.
func (l *localIPAM) Status(ctx context.Context, stdin []byte) error {
	_, err := cniipam.ParseConf(stdin)
	if err == nil {
		if _, err = l.store.get(ctx); err != nil {
			err = cniipam.NotAvailable(err)
		}
	}
	if err != nil {
		return ipamError(cniipam.Name, "is not ready", err)
	}
	return nil
}

func (l *localIPAM) GC(ctx context.Context, stdin []byte) error {
	m, req, err := l.open(ctx, stdin, types.ErrTryAgainLater)
	if err == nil {
		var valid []types.GCAttachment
		if valid, err = cniipam.ValidAttachments(stdin); err == nil {
			err = cniipam.GC(ctx, m, req.Network, valid)
		}
	}
	if err != nil {
		return ipamError(cniipam.Name, "garbage collection failed", err)
	}
	return nil
}

// sharedStore is one datastore connection for a whole command, opened on
// first use and shared by the plugin and in-process IPAM, which may use it
// at the same time. The clients it hands out do not close the connection
// (callers close them as they would their own); close does.
type sharedStore struct {
	dial  func(context.Context) (*client.Client, string, error)
	once  sync.Once
	cl    *client.Client
	err   error
	store datastore.Store // the connection, nil until opened
	agent string          // the node agent's socket, if the connection is through it
}

// get connects once; later and concurrent callers get the same client or
// error.
func (s *sharedStore) get(ctx context.Context) (*client.Client, error) {
	s.once.Do(func() {
		cl, agent, err := s.dial(ctx)
		if err != nil {
			s.err = err
			return
		}
		s.agent = agent
		s.store = cl.Store()
		s.cl = client.New(keepOpen{s.store})
	})
	return s.cl, s.err
}

// agentSocket is the node agent's socket when the connection (opened by
// get, which must have returned) goes through it, else "".
func (s *sharedStore) agentSocket() string { return s.agent }

// close closes the connection, if one was made. Call it when the command
// is over.
func (s *sharedStore) close() {
	s.once.Do(func() { s.err = errClosed })
	if s.store != nil {
		s.store.Close()
	}
}

var errClosed = errors.New("the command is over: its datastore connection is closed")

// keepOpen is a Store whose Close leaves the connection open.
type keepOpen struct{ datastore.Store }

func (keepOpen) Close() error { return nil }
