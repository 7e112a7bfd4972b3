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
	// Create makes the pair, without addresses, or nothing.
	Create(s *veth.Spec) error
	// Configure puts addresses, routes and neighbours on a created pair.
	Configure(s *veth.Spec) error
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
	// OpenStore connects to the datastore. Commands that need the
	// datastore call it once and close what it returns; in-process IPAM
	// calls it too, so it may hand out one shared connection (run's
	// sharedStore) whose clients' Close leaves it open.
	OpenStore func(ctx context.Context) (*client.Client, error)
}

// storeFuture connects to the datastore in the background, so that the
// connection is set up while IPAM runs, and then runs an optional warm-up
// (ADD creates the network's profile then, which also makes the client
// read the cluster objects it checks on its first write).
type storeFuture struct {
	connected chan struct{} // closed once cl or err is set
	warmed    chan struct{} // closed once the warm-up has run or been skipped
	cl        *client.Client
	err       error
	warmErr   error
	took      time.Duration // how long connecting took
	warmTook  time.Duration // how long the warm-up took
	once      sync.Once
}

func (p *Plugin) connect(ctx context.Context, warm func(context.Context, *client.Client) error) *storeFuture {
	f := &storeFuture{connected: make(chan struct{}), warmed: make(chan struct{})}
	go func() {
		defer close(f.warmed)
		start := time.Now()
		f.cl, f.err = p.OpenStore(ctx)
		f.took = time.Since(start)
		close(f.connected)
		if f.err == nil && warm != nil {
			start := time.Now()
			f.warmErr = warm(ctx, f.cl)
			f.warmTook = time.Since(start)
		}
	}()
	return f
}

// wait returns the client or the connection error.
func (f *storeFuture) wait() (*client.Client, error) {
	<-f.connected
	return f.cl, f.err
}

// warmResult waits for the warm-up and returns its error.
func (f *storeFuture) warmResult() error {
	<-f.warmed
	return f.warmErr
}

// close closes the client once the warm-up is over.
func (f *storeFuture) close() {
	f.once.Do(func() {
		<-f.warmed
		if f.err == nil {
			f.cl.Close()
		}
	})
}

// phases measures the steps of a command for the debug log.
type phases struct {
	last  time.Time
	attrs []any
}

func newPhases() *phases { return &phases{last: time.Now()} }

// note records a duration measured apart from the marks.
func (p *phases) note(name string, d time.Duration) { p.attrs = append(p.attrs, name, d) }

// mark records the time since the previous mark under name.
func (p *phases) mark(name string) {
	now := time.Now()
	p.attrs = append(p.attrs, name, now.Sub(p.last))
	p.last = now
}
