package etcd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/etcd"
	"github.com/tortienet/tortie/internal/datastore/internal/pkitest"
)

func TestTLSClientCerts(t *testing.T) {
	p := pkitest.New(t, false)
	srv := startServer(t, embedded.Config{ServerCertFile: p.ServerCert, ServerKeyFile: p.ServerKey, ClientCAFile: p.CAFile})
	eps := srv.Endpoints()
	if !strings.HasPrefix(eps[0], "https://") {
		t.Fatalf("endpoints %v, want https", eps)
	}

	st, err := etcd.New(t.Context(), etcd.Config{Endpoints: eps, CACertFile: p.CAFile, CertFile: p.ClientCert, KeyFile: p.ClientKey})
	if err != nil {
		t.Fatalf("with a client cert: %v", err)
	}
	defer st.Close()
	if _, err := st.Create(t.Context(), "/calico/v1/Ready", []byte("true")); err != nil {
		t.Fatal(err)
	}

	_, err = etcd.New(t.Context(), etcd.Config{Endpoints: eps, CACertFile: p.CAFile, DialTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot reach etcd at ["+eps[0]+"]") {
		t.Fatalf("without a client cert: got %v, want cannot reach etcd at %v", err, eps)
	}
	if !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("without a client cert: %v does not say the certificate is required", err)
	}

	_, err = etcd.New(t.Context(), etcd.Config{Endpoints: eps, CertFile: p.ClientCert, KeyFile: p.ClientKey, DialTimeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("without the CA: got %v, want an unknown authority error", err)
	}
}
