package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/cni/agentsock/proxy"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/storetest"
)

// serve serves s on a socket in a temporary directory until the test ends,
// and returns the socket's path and the server.
func serve(tb testing.TB, s datastore.Store) (string, *http.Server) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tortie.sock")
	l, err := proxy.Listen(path)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: proxy.Handler(s)}
	go srv.Serve(l) //nolint:errcheck // ends with ErrServerClosed
	tb.Cleanup(func() { srv.Close() })
	return path, srv
}

func dial(tb testing.TB, path string) *proxy.Client {
	tb.Helper()
	c, err := proxy.Dial(tb.Context(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// newProxied returns a Client talking through a socket to a fresh Memory.
func newProxied(tb testing.TB) (*proxy.Client, *datastore.Memory) {
	tb.Helper()
	m := datastore.NewMemory()
	tb.Cleanup(func() { m.Close() })
	path, _ := serve(tb, m)
	return dial(tb, path), m
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		c, m := newProxied(t)
		return storetest.Harness{
			Store:   c,
			Compact: func(_ context.Context, rev int64) error { return m.Compact(rev) },
		}
	})
}

// TestLean: the point of the package is to keep the CNI plugin small and
// quick to start.
func TestLean(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the package's dependencies")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{"etcd.io", "grpc", "protobuf", "prometheus"} {
			if strings.Contains(dep, heavy) {
				t.Errorf("proxy depends on %s", dep)
			}
		}
	}
}

func TestDialFails(t *testing.T) {
	dir := t.TempDir()
	// A socket file nobody listens on, as a crashed agent leaves behind.
	dead := filepath.Join(dir, "dead.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: dead, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()

	for _, tc := range []struct {
		name, path, msg string
		is              error
	}{
		{"missing", filepath.Join(dir, "missing.sock"), "no such file or directory", fs.ErrNotExist},
		{"refused", dead, "connection refused", syscall.ECONNREFUSED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := proxy.Dial(t.Context(), tc.path)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if want := "node agent socket " + tc.path + ": " + tc.msg; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// getStore is a Store whose Get is get.
type getStore struct {
	datastore.Store
	get func(ctx context.Context, key string) (datastore.KV, error)
}

func (s getStore) Get(ctx context.Context, key string) (datastore.KV, error) { return s.get(ctx, key) }

func TestErrors(t *testing.T) {
	var serverErr atomic.Pointer[error]
	m := datastore.NewMemory()
	defer m.Close()
	path, _ := serve(t, getStore{Store: m, get: func(context.Context, string) (datastore.KV, error) {
		return datastore.KV{}, *serverErr.Load()
	}})
	c := dial(t, path)

	kinds := []error{datastore.ErrNotFound, datastore.ErrAlreadyExists, datastore.ErrConflict,
		datastore.ErrCompacted, context.DeadlineExceeded, context.Canceled}
	for _, tc := range []struct {
		name string
		err  error
		is   error  // the kind errors.Is must find (nil: none)
		key  string // the key errors.As must find ("": no KeyError)
	}{
		{"not found", datastore.NewKeyError("/k", datastore.ErrNotFound), datastore.ErrNotFound, "/k"},
		{"already exists", datastore.NewKeyError("/k", datastore.ErrAlreadyExists), datastore.ErrAlreadyExists, "/k"},
		{"conflict", datastore.NewKeyError("/k", datastore.ErrConflict), datastore.ErrConflict, "/k"},
		{"compacted", fmt.Errorf("watch /p from 3: %w", datastore.ErrCompacted), datastore.ErrCompacted, ""},
		{"wrapped key error", fmt.Errorf("txn: %w", datastore.NewKeyError("/a", datastore.ErrConflict)), datastore.ErrConflict, "/a"},
		{"deadline", fmt.Errorf("etcd get /k: %w", context.DeadlineExceeded), context.DeadlineExceeded, ""},
		{"canceled", context.Canceled, context.Canceled, ""},
		{"other", errors.New("etcdserver: no leader"), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serverErr.Store(&tc.err)
			_, err := c.Get(t.Context(), "/k")
			if err == nil || err.Error() != tc.err.Error() {
				t.Fatalf("error %v, want the server's message %q", err, tc.err)
			}
			for _, k := range kinds {
				if errors.Is(err, k) != (k == tc.is) {
					t.Errorf("errors.Is(%v, %v) = %v", err, k, !(k == tc.is))
				}
			}
			var ke *datastore.KeyError
			if errors.As(err, &ke) != (tc.key != "") || (ke != nil && ke.Key != tc.key) {
				t.Errorf("errors.As(%v, *KeyError) gives %+v, want key %q", err, ke, tc.key)
			}
		})
	}
}

// blockedStore is a Store whose Get reports its context's deadline on
// deadlines, and whose Get of "/block" then waits for that context to end
// and reports its error on ended.
type blockedStore struct {
	datastore.Store
	deadlines chan time.Time
	ended     chan error
}

func (s blockedStore) Get(ctx context.Context, key string) (datastore.KV, error) {
	dl, _ := ctx.Deadline()
	s.deadlines <- dl
	if key != "/block" {
		return datastore.KV{}, datastore.NewKeyError(key, datastore.ErrNotFound)
	}
	<-ctx.Done()
	s.ended <- ctx.Err()
	return datastore.KV{}, ctx.Err()
}

// TestContextCrossesSocket: the client's deadline bounds the server's call,
// and a client that gives up cancels it.
func TestContextCrossesSocket(t *testing.T) {
	m := datastore.NewMemory()
	defer m.Close()
	s := blockedStore{Store: m, deadlines: make(chan time.Time, 1), ended: make(chan error, 1)}
	path, _ := serve(t, s)
	c := dial(t, path)

	// The deadline travels.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	want, _ := ctx.Deadline()
	c.Get(ctx, "/k") //nolint:errcheck
	if got := <-s.deadlines; got.Before(want.Add(-time.Second)) || got.After(want.Add(time.Second)) {
		t.Errorf("server call's deadline %v, want about %v", got, want)
	}
	c.Get(t.Context(), "/k") //nolint:errcheck
	if got := <-s.deadlines; !got.IsZero() {
		t.Errorf("server call's deadline %v, want none", got)
	}

	// A call past its deadline ends on both sides (whichever notices first:
	// the server's deadline, or the client hanging up).
	ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, "/block"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get past its deadline: %v, want DeadlineExceeded", err)
	}
	<-s.deadlines
	waitEnded(t, s.ended)

	// A client that gives up cancels the server's call.
	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := c.Get(ctx, "/block"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Get: %v, want Canceled", err)
	}
	<-s.deadlines
	if err := waitEnded(t, s.ended); !errors.Is(err, context.Canceled) {
		t.Errorf("server call ended with %v, want Canceled", err)
	}
}

func waitEnded(t *testing.T, ended <-chan error) error {
	t.Helper()
	select {
	case err := <-ended:
		return err
	case <-time.After(storetest.Timeout):
		t.Fatal("server call not ended")
		return nil
	}
}

func nextEvent(t *testing.T, ch <-chan datastore.Event) (datastore.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		return ev, ok
	case <-time.After(storetest.Timeout):
		t.Fatal("no watch event")
		return datastore.Event{}, false
	}
}

// wantFailed: the watch ends with an EventError, then closes.
func wantFailed(t *testing.T, ch <-chan datastore.Event, msg string) {
	t.Helper()
	ev, ok := nextEvent(t, ch)
	if !ok || ev.Type != datastore.EventError || !strings.Contains(ev.Err.Error(), msg) {
		t.Fatalf("got %+v (open %v), want an EventError containing %q", ev, ok, msg)
	}
	if _, ok := nextEvent(t, ch); ok {
		t.Fatal("watch channel open after its EventError")
	}
}

func TestWatchServerGone(t *testing.T) {
	m := datastore.NewMemory()
	defer m.Close()
	path, srv := serve(t, m)
	c := dial(t, path)
	ch, err := c.Watch(t.Context(), "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	wantFailed(t, ch, "node agent socket "+path)
}

func TestWatchStoreClosed(t *testing.T) {
	c, m := newProxied(t)
	ch, err := c.Watch(t.Context(), "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	wantFailed(t, ch, "memory datastore is closed")
	if _, err := c.Watch(t.Context(), "/", 0); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Watch on a closed store: %v, want its error", err)
	}
}

func TestClose(t *testing.T) {
	c, m := newProxied(t)
	ch, err := c.Watch(t.Context(), "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(t.Context(), "/k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if ev, _ := nextEvent(t, ch); ev.Type != datastore.EventPut || ev.KV.Key != "/k" {
		t.Fatalf("got %+v, want a put of /k", ev)
	}
	c.Close()
	wantFailed(t, ch, "closed")
	if _, err := c.Get(t.Context(), "/k"); err == nil {
		t.Fatal("Get after Close succeeded")
	}
}

// TestValues: nil and empty values, and ListKeys's missing values, keep
// their shape across the socket.
func TestValues(t *testing.T) {
	c, _ := newProxied(t)
	ctx := t.Context()
	if _, err := c.Create(ctx, "/empty", []byte{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "/bin", []byte{0, 0xff, '\n'}); err != nil {
		t.Fatal(err)
	}
	if kv, err := c.Get(ctx, "/empty"); err != nil || kv.Value == nil || len(kv.Value) != 0 {
		t.Errorf("get /empty: %#v, %v; want an empty, non-nil value", kv.Value, err)
	}
	if kv, err := c.Get(ctx, "/bin"); err != nil || string(kv.Value) != "\x00\xff\n" {
		t.Errorf("get /bin: %q, %v", kv.Value, err)
	}
	kvs, _, err := c.ListKeys(ctx, "/")
	if err != nil || len(kvs) != 2 || kvs[0].Value != nil || kvs[1].Value != nil {
		t.Errorf("list keys: %+v, %v; want 2 keys without values", kvs, err)
	}
	if _, err := c.Txn(ctx, datastore.Op{Type: 7, Key: "/x"}); err == nil {
		t.Error("txn with an unknown op type succeeded")
	}
}

func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tortie.sock")

	// A stale socket is replaced; the new one is 0600.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	l, err := proxy.Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode %v, want 0600", perm)
	}

	// A live one is left alone.
	if l2, err := proxy.Listen(path); err == nil {
		l2.Close()
		t.Error("Listen took over a socket another listener serves")
	}
	l.Close()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file still there after Close: %v", err)
	}

	// Anything else is not removed.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l, err := proxy.Listen(file); err == nil {
		l.Close()
		t.Error("Listen replaced a regular file")
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != "keep" {
		t.Errorf("regular file after Listen: %q, %v", data, err)
	}
}

// BenchmarkGet is the cost of one request through the socket.
func BenchmarkGet(b *testing.B) {
	c, m := newProxied(b)
	if _, err := m.Create(b.Context(), "/calico/ipam/v2/host/node-1", []byte(`{"ipv4":"10.0.0.0/26"}`)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Get(b.Context(), "/calico/ipam/v2/host/node-1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDialGet is what a fresh CNI plugin process pays for its first
// request: connect, ping, get.
func BenchmarkDialGet(b *testing.B) {
	m := datastore.NewMemory()
	b.Cleanup(func() { m.Close() })
	path, _ := serve(b, m)
	if _, err := m.Create(b.Context(), "/k", []byte("v")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := proxy.Dial(b.Context(), path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Get(b.Context(), "/k"); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
