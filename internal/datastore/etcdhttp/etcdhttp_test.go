package etcdhttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/embedded/embeddedtest"
	"github.com/tortienet/tortie/internal/datastore/etcdhttp"
	"github.com/tortienet/tortie/internal/datastore/storetest"
)

// endpoints are those of the embedded etcd every test here shares.
var endpoints []string

func TestMain(m *testing.M) { os.Exit(embeddedtest.Main(m, &endpoints)) }

func newStore(t *testing.T, cfg etcdhttp.Config) *etcdhttp.Store {
	t.Helper()
	if cfg.Endpoints == nil {
		cfg.Endpoints = endpoints
	}
	st, err := etcdhttp.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// uniqueKey returns a key under prefix that no other test run used (with
// -count, runs share the server).
func uniqueKey(prefix string) string {
	return prefix + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// TestConformance runs the suite on the embedded server through its
// gateway; every subtest has its own client and its own prefix.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		st := newStore(t, etcdhttp.Config{})
		return storetest.Harness{Store: st, Compact: st.Compact}
	})
}

// TestNoGRPC: the point of the package is to link neither etcd's client
// nor gRPC nor protobuf.
func TestNoGRPC(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the package's dependencies")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "etcd.io") || strings.Contains(dep, "grpc") || strings.Contains(dep, "protobuf") ||
			strings.HasSuffix(dep, "/internal/datastore/etcd") {
			t.Errorf("etcdhttp depends on %s", dep)
		}
	}
}

func TestNewUnreachable(t *testing.T) {
	addr, err := embedded.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ep := "http://" + addr
	start := time.Now()
	_, err = etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: []string{ep}, DialTimeout: 300 * time.Millisecond})
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach etcd at ["+ep+"]: ") {
		t.Fatalf("New on a closed port: got %v, want cannot reach etcd at [%s]", err, ep)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("New on a closed port took %v", d)
	}
}

// TestFailover: a dead first endpoint is skipped, in New and after.
func TestFailover(t *testing.T) {
	addr, err := embedded.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	st := newStore(t, etcdhttp.Config{Endpoints: append([]string{"http://" + addr}, endpoints...)})
	ctx := t.Context()
	key := uniqueKey("/failover/")
	rev, err := st.Create(ctx, key, []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := st.Watch(ctx, key, rev-1)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.Type != datastore.EventPut || ev.KV.Key != key {
			t.Fatalf("watch event %+v, want the put of %s", ev, key)
		}
	case <-time.After(storetest.Timeout):
		t.Fatal("no watch event")
	}
}

func TestNewNoEndpoints(t *testing.T) {
	if _, err := etcdhttp.New(context.Background(), etcdhttp.Config{}); err == nil {
		t.Fatal("New without endpoints succeeded")
	}
	_, err := etcdhttp.New(context.Background(), etcdhttp.Config{Endpoints: []string{"unix:///run/etcd.sock"}})
	if err == nil || !strings.Contains(err.Error(), "unix:///run/etcd.sock") {
		t.Fatalf("unix endpoint: got %v, want an error naming it", err)
	}
}

func TestNewBadTLSFiles(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]etcdhttp.Config{
		"missing CA":   {CACertFile: dir + "/nope-ca.pem"},
		"missing cert": {CertFile: dir + "/nope-cert.pem", KeyFile: dir + "/nope-key.pem"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Endpoints = []string{"https://127.0.0.1:1"}
			_, err := etcdhttp.New(t.Context(), cfg)
			file := cfg.CACertFile + cfg.CertFile
			if err == nil || !strings.Contains(err.Error(), file) {
				t.Fatalf("got %v, want an error naming %s", err, file)
			}
		})
	}
	_, err := etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: []string{"https://127.0.0.1:1"}, CertFile: dir + "/c.pem"})
	if err == nil || !strings.Contains(err.Error(), "together") {
		t.Fatalf("cert without key: got %v", err)
	}
}

// TestEtcdErrors: errors etcd answers (non-200 through the gateway) come
// back with etcd's message.
func TestEtcdErrors(t *testing.T) {
	st := newStore(t, etcdhttp.Config{})
	ctx := t.Context()
	_, rev, err := st.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	err = st.Compact(ctx, rev+1000)
	if err == nil || !strings.Contains(err.Error(), "required revision is a future revision") {
		t.Fatalf("compact at a future revision: got %v", err)
	}
	key := uniqueKey("/etcderrors/")
	if _, err := st.Create(ctx, key, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(ctx, key, []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	kv, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Compact(ctx, kv.Revision); err != nil {
		t.Fatal(err)
	}
	if err := st.Compact(ctx, kv.Revision-1); !errors.Is(err, datastore.ErrCompacted) {
		t.Fatalf("compact before the last compaction: got %v, want ErrCompacted", err)
	}
}

// TestCloseEndsWatch: Close ends an open watch with an EventError.
func TestCloseEndsWatch(t *testing.T) {
	st := newStore(t, etcdhttp.Config{})
	_, rev, err := st.List(t.Context(), "/close/")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := st.Watch(t.Context(), "/close/", rev)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	ev := <-ch
	if ev.Type != datastore.EventError {
		t.Fatalf("after Close: got %+v, want an EventError", ev)
	}
	if _, ok := <-ch; ok {
		t.Fatal("watch channel not closed after its error")
	}
	if _, err := st.Get(t.Context(), "/close/k"); err == nil {
		t.Fatal("Get after Close succeeded")
	}
}

// fakeGateway answers the range of New, then path's requests with body.
func fakeGateway(t *testing.T, path, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v3/kv/range":
			if r.URL.Path != path {
				fmt.Fprint(w, `{"header":{"revision":"7"}}`)
				return
			}
		case path:
		default:
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestErrorsOfOlderGateways: an error inside a 200 answer, as some gateway
// versions send it, or inside a watch stream, is an error.
func TestErrorsOfOlderGateways(t *testing.T) {
	ep := fakeGateway(t, "/v3/kv/range", `{"error":"etcdserver: request timed out","code":14,"message":"etcdserver: request timed out"}`)
	_, err := etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: []string{ep}})
	if err == nil || !strings.Contains(err.Error(), "etcdserver: request timed out") {
		t.Fatalf("error in a 200 answer: got %v", err)
	}

	ep = fakeGateway(t, "/v3/watch", `{"result":{"header":{"revision":"7"},"created":true}}`+"\n"+
		`{"result":{"header":{"revision":"8"},"events":[{"kv":{"key":"L2Ev","mod_revision":"8","create_revision":"8","version":"1","value":"eA=="}}]}}`+"\n"+
		`{"error":{"code":14,"message":"etcdserver: no leader","details":[]}}`+"\n")
	st := newStore(t, etcdhttp.Config{Endpoints: []string{ep}})
	ch, err := st.Watch(t.Context(), "/a/", 7)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.Type != datastore.EventPut || ev.KV.Key != "/a/" || string(ev.KV.Value) != "x" || ev.KV.Revision != 8 {
		t.Fatalf("first event %+v, want the put of /a/ = x at 8", ev)
	}
	if ev := <-ch; ev.Type != datastore.EventError || !strings.Contains(ev.Err.Error(), "no leader") {
		t.Fatalf("second event %+v, want an EventError saying no leader", ev)
	}
}
