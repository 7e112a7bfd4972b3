package etcdhttp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/etcdhttp"
)

// The PKI helpers are those of package etcd's TLS test.

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate, written as PEM files. The server certificate is also
// valid for client authentication when serverAsClient is set: etcd's JSON
// gateway needs that with client certificate auth (gatewayTLSHint).
type pki struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
}

func newPKI(t *testing.T, serverAsClient bool) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert := newCert(t, "tortie test CA", nil, nil, func(c *x509.Certificate) {
		c.IsCA = true
		c.BasicConstraintsValid = true
		c.KeyUsage = x509.KeyUsageCertSign
	})
	p := pki{caFile: filepath.Join(dir, "ca.pem")}
	writePEM(t, p.caFile, "CERTIFICATE", caCert.Raw)
	p.serverCert, p.serverKey = issue(t, dir, "server", caKey, caCert, func(c *x509.Certificate) {
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		if serverAsClient {
			c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		}
	})
	p.clientCert, p.clientKey = issue(t, dir, "client", caKey, caCert, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	return p
}

// issue makes a certificate signed by the CA and writes it and its key.
func issue(t *testing.T, dir, name string, caKey *ecdsa.PrivateKey, ca *x509.Certificate, edit func(*x509.Certificate)) (certFile, keyFile string) {
	t.Helper()
	key, cert := newCert(t, name, caKey, ca, edit)
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", cert.Raw)
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyFile, "EC PRIVATE KEY", der)
	return certFile, keyFile
}

// newCert creates a key and a certificate for it, signed by parentKey
// (self-signed when parent is nil).
func newCert(t *testing.T, cn string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, edit func(*x509.Certificate)) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	edit(tmpl)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startTLSServer starts an embedded etcd whose client listener is https
// and requires client certificates signed by p's CA.
func startTLSServer(t *testing.T, p pki) *embedded.Server {
	t.Helper()
	cfg := embedded.Config{DataDir: t.TempDir(), ServerCertFile: p.serverCert, ServerKeyFile: p.serverKey, ClientCAFile: p.caFile}
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
	p := newPKI(t, true)
	srv := startTLSServer(t, p)
	eps := srv.Endpoints()
	if !strings.HasPrefix(eps[0], "https://") {
		t.Fatalf("endpoints %v, want https", eps)
	}

	st, err := etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: eps, CACertFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey})
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

	_, err = etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: eps, CACertFile: p.caFile, DialTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot reach etcd at ["+eps[0]+"]") {
		t.Fatalf("without a client cert: got %v, want cannot reach etcd at %v", err, eps)
	}
	if !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("without a client cert: %v does not say the certificate is required", err)
	}

	_, err = etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: eps, CertFile: p.clientCert, KeyFile: p.clientKey, DialTimeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("without the CA: got %v, want an unknown authority error", err)
	}
}

// TestTLSServerCertNotForClients: with a server certificate only for server
// authentication, etcd's gateway cannot call etcd; New says why.
func TestTLSServerCertNotForClients(t *testing.T) {
	p := newPKI(t, false)
	srv := startTLSServer(t, p)
	_, err := etcdhttp.New(t.Context(), etcdhttp.Config{Endpoints: srv.Endpoints(), CACertFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey})
	if err == nil || !strings.Contains(err.Error(), "clientAuth extended key usage") {
		t.Fatalf("got %v, want an error explaining the server certificate needs clientAuth", err)
	}
}
