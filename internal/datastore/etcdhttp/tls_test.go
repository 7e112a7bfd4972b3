package etcdhttp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/etcdhttp"
	"github.com/tortienet/tortie/internal/datastore/internal/pkitest"
)

// startTLSServer starts an embedded etcd whose client listener is https
// and requires client certificates signed by p's CA.
func startTLSServer(t *testing.T, p pkitest.PKI) *embedded.Server {
	t.Helper()
	cfg := embedded.Config{DataDir: t.TempDir(), ServerCertFile: p.ServerCert, ServerKeyFile: p.ServerKey, ClientCAFile: p.CAFile}
	var err error
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

func TestTLSClientCerts(t *testing.T) {
	p := pkitest.New(t, true)
	srv := startTLSServer(t, p)
	eps := srv.Endpoints()
	if !strings.HasPrefix(eps[0], "https://") {
		t.Fatalf("endpoints %v, want https", eps)
	}

	st, err := etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: eps, CACertFile: p.CAFile, CertFile: p.ClientCert, KeyFile: p.ClientKey})
	if err != nil {
		t.Fatalf("with a client cert: %v", err)
	}
	defer st.Close()
	if _, err := st.Create(t.Context(), "/calico/v1/Ready", []byte("true")); err != nil {
		t.Fatal(err)
	}
	kv, err := st.Get(t.Context(), "/calico/v1/Ready")
	if err != nil || string(kv.Value) != "true" {
		t.Fatalf("get over TLS: %q, %v", kv.Value, err)
	}

	_, err = etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: eps, CACertFile: p.CAFile, DialTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot reach etcd at ["+eps[0]+"]") {
		t.Fatalf("without a client cert: got %v, want cannot reach etcd at %v", err, eps)
	}
	if !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("without a client cert: %v does not say the certificate is required", err)
	}

	_, err = etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: eps, CertFile: p.ClientCert, KeyFile: p.ClientKey, DialTimeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("without the CA: got %v, want an unknown authority error", err)
	}
}

// TestTLSServerCertNotForClients: with a server certificate only for server
// authentication, etcd's gateway cannot call etcd; New says why.
func TestTLSServerCertNotForClients(t *testing.T) {
	p := pkitest.New(t, false)
	srv := startTLSServer(t, p)
	_, err := etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: srv.Endpoints(), CACertFile: p.CAFile, CertFile: p.ClientCert, KeyFile: p.ClientKey})
	if err == nil || !strings.Contains(err.Error(), "clientAuth extended key usage") {
		t.Fatalf("got %v, want an error explaining the server certificate needs clientAuth", err)
	}
}
