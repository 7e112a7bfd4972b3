package cni

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni/veth"
)

// Dataplane wires workload interfaces; veth.Linux is the real one.
type Dataplane interface {
	// Probe reports what exists under the spec's interface names.
	Probe(s *veth.Spec) (veth.State, error)
	// Setup creates the pair and everything on it, or nothing.
	Setup(s *veth.Spec) error
	// Verify reports every difference from the spec.
	Verify(s *veth.Spec) error
	// RemoveContainer deletes the pod-side veth (and so the pair).
	RemoveContainer(netns, ifName string) (bool, error)
	// RemoveHost deletes a host-side veth (and so the pair).
	RemoveHost(name string) error
}

// Plugin runs one CNI command. It holds no state between commands: each
// is a fresh process.
type Plugin struct {
	Conf *NetConf
	// Stdin is the configuration as the runtime sent it, passed on to IPAM.
	Stdin []byte
	Log   *slog.Logger
	IPAM  IPAM
	Net   Dataplane
	// OpenStore connects to the datastore. It is called at most once per
	// command, and only by commands that need the datastore.
	OpenStore func(ctx context.Context) (*client.Client, error)
}

// storeFuture connects to the datastore in the background, so that the
// connection is set up while IPAM runs.
type storeFuture struct {
	done chan struct{}
	cl   *client.Client
	err  error
	took time.Duration // how long connecting took
	once sync.Once
}

func (p *Plugin) connect(ctx context.Context) *storeFuture {
	f := &storeFuture{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		start := time.Now()
		f.cl, f.err = p.OpenStore(ctx)
		f.took = time.Since(start)
	}()
	return f
}

// wait returns the client or the connection error.
func (f *storeFuture) wait() (*client.Client, error) {
	<-f.done
	return f.cl, f.err
}

// close closes the client once it is connected.
func (f *storeFuture) close() {
	f.once.Do(func() {
		if cl, err := f.wait(); err == nil {
			cl.Close()
		}
	})
}

// phases measures the steps of a command for the debug log.
type phases struct {
	last  time.Time
	attrs []any
}

func newPhases() *phases { return &phases{last: time.Now()} }

// mark records the time since the previous mark under name.
func (p *phases) mark(name string) {
	now := time.Now()
	p.attrs = append(p.attrs, name, now.Sub(p.last))
	p.last = now
}
