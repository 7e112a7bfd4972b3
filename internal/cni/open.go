package cni

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni/agentsock"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/etcdhttp"
	"github.com/tortienet/tortie/internal/datastore/kdd"
)

// agentSocket is where the node agent serves its datastore connection.
func (c *NetConf) agentSocket() string {
	return agentsock.Path(c.stateDir())
}

// Open connects to the datastore. When the node agent serves its
// connection on its socket (<state_dir>/tortie.sock), requests go through
// it: the agent's connection is warm, so a request costs a unix-socket
// round trip more than etcd's own time, and there is no dial. Otherwise,
// or when the socket does not answer (an agent that died), the plugin
// connects to etcd_endpoints itself, over etcd's JSON gateway. The agent
// uses the datastore of its own configuration, which on a node is the same
// as the plugin's.
func (c *NetConf) Open(ctx context.Context, log *slog.Logger) (*client.Client, error) {
	cl, _, err := c.open(ctx, log)
	return cl, err
}

// open is Open, and also returns the agent's socket when it went through
// the agent ("" when it did not).
func (c *NetConf) open(ctx context.Context, log *slog.Logger) (*client.Client, string, error) {
	path := c.agentSocket()
	s, err := agentsock.DialStore(ctx, path)
	if err == nil {
		log.Debug("datastore through the node agent", "socket", path)
		return client.New(s), path, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		log.Warn("the node agent's socket does not answer; connecting to etcd directly", "error", err)
	}
	ds, err := datastore.Open(ctx, c.clientConfig(), datastore.Backends{Etcd: etcdhttp.Dial, Kubernetes: kdd.DialUnchecked})
	if err != nil {
		return nil, "", err
	}
	return client.New(ds), "", nil
}
