package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/etcd"
	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/ns"
)

// startDatastore runs `tortiectl datastore serve` inside the underlay
// namespace, listening on the first subnet's gateway address, which every
// node reaches over its default route, and waits until it accepts
// connections. Its data lives in the lab directory.
func (l *Lab) startDatastore(ctx context.Context) error {
	dir := l.Dir()
	addr := l.top.DatastoreAddr().String()
	bin := filepath.Join(l.cfg.BinDir, "tortiectl")
	if !isExecutable(bin) {
		return fmt.Errorf("%s is missing: build it first (make build)", bin)
	}
	p := ProcessRecord{
		Role:  datastoreRole,
		Netns: l.ulNS(),
		Argv: []string{bin, "datastore", "serve", "--data-dir", filepath.Join(dir, "datastore"),
			"--listen", addr, "--peer-listen", "127.0.0.1:2380"},
		Log: filepath.Join(dir, "datastore.log"),
	}
	if err := l.startProcess(p, baseEnv()); err != nil {
		return err
	}
	endpoint := "http://" + addr
	if err := l.rec.update(func(st *State) { st.Datastore = endpoint }); err != nil {
		return err
	}
	rec := l.rec.snapshot().Processes
	return l.waitDatastore(ctx, rec[len(rec)-1])
}

// waitDatastore waits until the datastore process started accepts
// connections on the lab's datastore address.
func (l *Lab) waitDatastore(ctx context.Context, started ProcessRecord) error {
	addr := l.top.DatastoreAddr().String()
	endpoint := "http://" + addr
	deadline := time.Now().Add(l.cfg.ReadyTimeout)
	for {
		err := dialIn(ctx, l.ulNS(), addr, time.Second)
		if err == nil {
			l.log.Info("datastore is up", "endpoint", endpoint, "netns", l.ulNS())
			return nil
		}
		if !alive(started) {
			return fmt.Errorf("the datastore exited: %s", tail(started.Log, 2000))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the datastore does not answer at %s after %v: %v", endpoint, l.cfg.ReadyTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dialIn connects to addr from inside the named namespace and hangs up.
func dialIn(ctx context.Context, netns, addr string, timeout time.Duration) error {
	c, err := dialerIn(netns)(ctx, addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// dialerIn returns a dialer whose sockets are made inside the named
// namespace (a socket stays in the namespace it was made in, so the
// connection can then be used from any goroutine).
func dialerIn(netns string) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var conn net.Conn
		err := ns.Do(netns, func() error {
			d := net.Dialer{Timeout: 2 * time.Second}
			var err error
			conn, err = d.DialContext(ctx, "tcp", addr)
			return err
		})
		return conn, err
	}
}

// etcdClient connects to the lab's datastore from this process, through
// the underlay namespace, for reading what the cluster stored.
func (l *Lab) etcdClient(ctx context.Context) (*clientv3.Client, error) {
	ep := l.rec.snapshot().Datastore
	if ep == "" {
		return nil, fmt.Errorf("the lab has no datastore")
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{ep},
		DialTimeout: 3 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(dialerIn(l.ulNS()))},
		Logger:      zap.NewNop(),
		Context:     ctx,
	})
	if err != nil {
		return nil, fmt.Errorf("datastore %s: %w", ep, err)
	}
	return cli, nil
}

// Store opens the lab's datastore from this process: its etcd, or with
// the Kubernetes datastore its apiserver (both reached through the
// underlay namespace). The caller closes it.
func (l *Lab) Store(ctx context.Context) (datastore.Store, error) {
	if l.kube() {
		c, err := l.KubeConn()
		if err != nil {
			return nil, err
		}
		return kdd.New(c, "")
	}
	cli, err := l.etcdClient(ctx)
	if err != nil {
		return nil, err
	}
	return etcd.Wrap(cli), nil
}

// baseEnv is the environment of processes the lab starts: enough to find
// programs, nothing inherited that could point them at the host's files.
func baseEnv() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return []string{"PATH=" + path, "HOME=/root"}
}

// procEnv is baseEnv with the lab's bin dir first in PATH, so that
// tortiectl and friends run in a lab namespace are the lab's own.
func (l *Lab) procEnv() []string {
	env := baseEnv()
	env[0] = "PATH=" + l.cfg.BinDir + string(os.PathListSeparator) + env[0][len("PATH="):]
	return env
}
