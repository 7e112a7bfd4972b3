package etcd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/etcd"
	"github.com/tortienet/tortie/internal/datastore/storetest"
)

// startServer starts an embedded etcd on free ports in a temporary directory.
func startServer(t *testing.T, cfg embedded.Config) *embedded.Server {
	t.Helper()
	var err error
	cfg.DataDir = t.TempDir()
	if cfg.ClientAddr, err = embedded.FreeAddr(); err != nil {
		t.Fatal(err)
	}
	if cfg.PeerAddr, err = embedded.FreeAddr(); err != nil {
		t.Fatal(err)
	}
	srv, err := embedded.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// TestConformance runs the suite on one embedded server; every subtest has
// its own client and works under its own prefix.
func TestConformance(t *testing.T) {
	srv := startServer(t, embedded.Config{})
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		st, err := etcd.New(t.Context(), etcd.Config{Endpoints: srv.Endpoints()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return storetest.Harness{Store: st, Compact: st.Compact}
	})
}

// TestConformanceRanges runs the suite with ListPages reading through
// limited range reads of 3 keys, as it does on an etcd older than 3.7.
func TestConformanceRanges(t *testing.T) {
	srv := startServer(t, embedded.Config{})
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		st, err := etcd.New(t.Context(), etcd.Config{Endpoints: srv.Endpoints()})
		if err != nil {
			t.Fatal(err)
		}
		st.UseRanges(3)
		t.Cleanup(func() { st.Close() })
		return storetest.Harness{Store: st, Compact: st.Compact}
	})
}

func TestNewUnreachable(t *testing.T) {
	addr, err := embedded.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ep := "http://" + addr
	_, err = etcd.New(t.Context(), etcd.Config{Endpoints: []string{ep}, DialTimeout: 300 * time.Millisecond})
	want := "cannot reach etcd at [" + ep + "]: context deadline exceeded"
	if err == nil || err.Error() != want {
		t.Fatalf("New on a closed port: got %v, want %q", err, want)
	}
}

func TestNewNoEndpoints(t *testing.T) {
	if _, err := etcd.New(context.Background(), etcd.Config{}); err == nil {
		t.Fatal("New without endpoints succeeded")
	}
}

func TestNewBadTLSFiles(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]etcd.Config{
		"missing CA":   {CACertFile: dir + "/nope-ca.pem"},
		"missing cert": {CertFile: dir + "/nope-cert.pem", KeyFile: dir + "/nope-key.pem"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Endpoints = []string{"https://127.0.0.1:1"}
			_, err := etcd.New(t.Context(), cfg)
			file := cfg.CACertFile + cfg.CertFile
			if err == nil || !strings.Contains(err.Error(), file) {
				t.Fatalf("got %v, want an error naming %s", err, file)
			}
		})
	}
	_, err := etcd.New(t.Context(), etcd.Config{Endpoints: []string{"https://127.0.0.1:1"}, CertFile: dir + "/c.pem"})
	if err == nil || !strings.Contains(err.Error(), "together") {
		t.Fatalf("cert without key: got %v", err)
	}
}

// TestListPagesStreams: on etcd 3.7 (the embedded server), ListPages
// reads with RangeStream and does not fall back.
func TestListPagesStreams(t *testing.T) {
	srv := startServer(t, embedded.Config{})
	st, err := etcd.New(t.Context(), etcd.Config{Endpoints: srv.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range 5 {
		if _, err := st.Create(t.Context(), "/s/"+string(rune('a'+i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	if _, err := st.ListPages(t.Context(), "/s/", 2, func(page []datastore.KV) error {
		for _, kv := range page {
			keys = append(keys, kv.Key)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 5 || !st.Streams() {
		t.Errorf("listed %v, streaming %v; want 5 keys through RangeStream", keys, st.Streams())
	}
}
