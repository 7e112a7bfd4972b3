package ipam

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore/embedded/embeddedtest"
	"github.com/tortienet/tortie/internal/datastore/etcd"
)

// One embedded etcd serves the package's tests; each test starts from an
// empty /calico/ tree (tests in this package do not run in parallel).
var etcdEndpoints []string

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(embeddedtest.Main(m, &etcdEndpoints))
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	ctx   context.Context
	c     *client.Client
	ipam  *IPAM
	clock *fakeClock
}

// newEnv wipes the datastore and returns an IPAM on it.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	s, err := etcd.New(ctx, etcd.Config{Endpoints: etcdEndpoints})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Client().Delete(ctx, "/calico/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	c := client.New(s)
	clock := &fakeClock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	return &env{t: t, ctx: ctx, c: c, ipam: New(c, WithClock(clock.Now)), clock: clock}
}

func (e *env) apply(r v3.Resource) {
	e.t.Helper()
	if _, err := e.c.Apply(e.ctx, r); err != nil {
		e.t.Fatalf("apply %s: %v", r.GetObjectMeta().Name, err)
	}
}

func (e *env) pool(name, cidr string, blockSize int, mut func(*v3.IPPool)) {
	e.t.Helper()
	p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: name}}
	p.Spec.CIDR, p.Spec.BlockSize = cidr, blockSize
	if mut != nil {
		mut(p)
	}
	e.apply(p)
}

func (e *env) node(name string, labels map[string]string) {
	e.t.Helper()
	e.apply(&v3.Node{ObjectMeta: v3.ObjectMeta{Name: name, Labels: labels}})
}

// assign allocates n IPv4 addresses for handle on host, failing the test on error.
func (e *env) assign(host, handle string, n int) []string {
	e.t.Helper()
	v4, err := e.tryAssign(host, handle, n)
	if err != nil {
		e.t.Fatalf("assign %d for %s on %s: %v", n, handle, host, err)
	}
	return v4
}

func (e *env) tryAssign(host, handle string, n int) ([]string, error) {
	v4, _, err := e.ipam.AutoAssign(e.ctx, AutoAssignArgs{Num4: n, HandleID: handle, Hostname: host, Attrs: map[string]string{AttrNode: host}})
	var out []string
	for _, p := range v4 {
		out = append(out, p.String())
	}
	return out, err
}
