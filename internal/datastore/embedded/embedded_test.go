package embedded_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/etcd"
	"github.com/tortienet/tortie/internal/datastore/storetest"
)

// testConfig returns a config on fresh free ports and a fresh directory.
func testConfig(t *testing.T) embedded.Config {
	t.Helper()
	client, err := embedded.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := embedded.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return embedded.Config{DataDir: t.TempDir(), ClientAddr: client, PeerAddr: peer, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
}

func start(t *testing.T, cfg embedded.Config) *embedded.Server {
	t.Helper()
	srv, err := embedded.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func connect(t *testing.T, srv *embedded.Server) *etcd.Store {
	t.Helper()
	st, err := etcd.New(t.Context(), etcd.Config{Endpoints: srv.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestDataSurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	srv := start(t, cfg)
	st := connect(t, srv)
	rev, err := st.Create(t.Context(), "/calico/v1/Ready", []byte("true"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, ok := <-srv.Err(); ok {
		t.Fatal("Err() not closed after Close")
	}

	st = connect(t, start(t, cfg))
	kv, err := st.Get(t.Context(), "/calico/v1/Ready")
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if string(kv.Value) != "true" || kv.Revision != rev {
		t.Fatalf("after restart got %q at revision %d, want \"true\" at %d", kv.Value, kv.Revision, rev)
	}
}

func TestStartAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := testConfig(t)
	cfg.ClientAddr = l.Addr().String()
	_, err = embedded.Start(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), cfg.DataDir) || !strings.Contains(err.Error(), cfg.ClientAddr) {
		t.Fatalf("Start on a used address: got %v, want an error naming %s and %s", err, cfg.DataDir, cfg.ClientAddr)
	}
	t.Log(err)
}

func TestStartNeedsDataDir(t *testing.T) {
	if _, err := embedded.Start(t.Context(), embedded.Config{}); err == nil {
		t.Fatal("Start without a data dir succeeded")
	}
}

// TestListWatchReconnect stops the server under a running ListWatch and
// starts it again on the same directory and addresses; a write made after
// the restart reaches the handler.
func TestListWatchReconnect(t *testing.T) {
	cfg := testConfig(t)
	srv := start(t, cfg)
	st := connect(t, srv)
	const p = "/calico/resources/v3/projectcalico.org/ippools/"
	if _, err := st.Create(t.Context(), p+"a", []byte("a")); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	rec := storetest.NewRecorder()
	go func() {
		defer close(done)
		datastore.ListWatch(ctx, st, p, rec, datastore.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	}()
	defer func() { cancel(); <-done }()
	view := storetest.View{}
	rec.WaitFor(t, view, map[string]string{p + "a": "a"})

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = start(t, cfg)
	other := connect(t, srv)
	if _, err := other.Create(t.Context(), p+"b", []byte("b")); err != nil {
		t.Fatal(err)
	}
	synced := false
	for _, c := range rec.WaitFor(t, view, map[string]string{p + "a": "a", p + "b": "b"}) {
		synced = synced || c.Sync
	}
	if !synced {
		t.Fatal("no OnSync after the server restarted; want a full resync")
	}
}

func TestErrQuietWhileHealthy(t *testing.T) {
	srv := start(t, testConfig(t))
	select {
	case err := <-srv.Err():
		t.Fatalf("Err() reported %v on a healthy server", err)
	default:
	}
}
