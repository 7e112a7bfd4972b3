// Package kasrun has what running a kube-apiserver takes, outside of a
// real cluster: the binary test/k8s/build-apiserver.sh builds, the files
// it reads (a serving certificate, the service-account key pair, a token
// file), its flags, and an administrator's client that waits for it and
// installs tortie's CRDs. The test harness (kastest) and the lab (which
// runs one inside its underlay namespace) share it.
package kasrun

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	b64 "encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tortienet/tortie/internal/datastore/kdd/crds"
)

// Version is the Kubernetes release built and run.
const Version = "v1.37.0"

// Binary returns the kube-apiserver binary: $TORTIE_KUBE_APISERVER, else
// the cache test/k8s/build-apiserver.sh fills.
func Binary() (string, error) {
	p := os.Getenv("TORTIE_KUBE_APISERVER")
	if p == "" {
		p = "/var/cache/tortie/kube-apiserver-" + Version + "/kube-apiserver"
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no kube-apiserver at %s (build it with test/k8s/build-apiserver.sh): %w", p, err)
	}
	return p, nil
}

// User is a bearer token the apiserver accepts (its --token-auth-file).
type User struct {
	Name, Token string
	Groups      []string
}

// WriteFiles writes into dir the serving certificate (self-signed, valid
// for 127.0.0.1, localhost and ips), the service-account key pair and the
// token file of users. It returns the certificate, PEM, for clients to
// trust.
func WriteFiles(dir string, ips []net.IP, users []User) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
		IPAddresses: append([]net.IP{net.IPv4(127, 0, 0, 1)}, ips...), DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	saDER, _ := x509.MarshalECPrivateKey(sa)
	saPub, _ := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	var tokens strings.Builder
	for _, u := range users {
		fmt.Fprintf(&tokens, "%s,%s,%s", u.Token, u.Name, u.Name)
		if len(u.Groups) > 0 {
			fmt.Fprintf(&tokens, ",%s", strings.Join(u.Groups, ","))
		}
		tokens.WriteString("\n")
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	files := map[string][]byte{
		"apiserver.crt": cert,
		"apiserver.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"sa.key":        pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saDER}),
		"sa.pub":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		"tokens.csv":    []byte(tokens.String()),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			return nil, err
		}
	}
	return cert, nil
}

// Flags are the settings of one apiserver.
type Flags struct {
	// Dir holds the files WriteFiles wrote.
	Dir string
	// Etcd lists the etcd client URLs.
	Etcd []string
	// Addr and Port are where it listens (https).
	Addr, Port string
	// WatchCache turns the watch cache on, as in production (off: watches
	// read etcd, so a compaction is what a watch from an old revision sees).
	WatchCache bool
}

// Args is the apiserver's command line (without the binary): RBAC on,
// token authentication, no controllers' endpoints, no flow control.
func Args(f Flags) []string {
	p := func(n string) string { return filepath.Join(f.Dir, n) }
	return []string{
		"--etcd-servers=" + strings.Join(f.Etcd, ","),
		"--etcd-compaction-interval=0", // tests compact when they mean to
		"--watch-cache=" + fmt.Sprint(f.WatchCache),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p("sa.pub"), "--service-account-signing-key-file=" + p("sa.key"),
		"--authorization-mode=RBAC", "--token-auth-file=" + p("tokens.csv"),
		"--tls-cert-file=" + p("apiserver.crt"), "--tls-private-key-file=" + p("apiserver.key"),
		"--bind-address=" + f.Addr, "--advertise-address=" + f.Addr, "--endpoint-reconciler-type=none",
		"--secure-port=" + f.Port, "--service-cluster-ip-range=10.96.0.0/16",
		"--enable-priority-and-fairness=false",
		"--allow-privileged=true", // as every real cluster: CNI DaemonSets are privileged
	}
}

// Kubeconfig is a kubeconfig for server and token; with no ca the
// server's certificate is not verified.
func Kubeconfig(server, token string, ca []byte) string {
	tls := "insecure-skip-tls-verify: true"
	if ca != nil {
		tls = "certificate-authority-data: " + base64(ca)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster:
    server: %s
    %s
users:
- name: test
  user:
    token: %s
contexts:
- name: test
  context:
    cluster: test
    user: test
`, server, tls, token)
}

// Admin sends requests as an administrator.
type Admin struct {
	Server, Token string
	HTTP          *http.Client
}

// What Do returns (wrapped) on 409 Conflict and 404 Not Found.
var (
	ErrExists   = errors.New("already exists")
	ErrNotFound = errors.New("not found")
)

// Do sends one request; out (if set) receives the JSON answer.
func (a *Admin) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Server+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusConflict:
		return fmt.Errorf("%s %s: %w: %s", method, path, ErrExists, b)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w: %s", method, path, ErrNotFound, b)
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, b)
	case out != nil:
		return json.Unmarshal(b, out)
	}
	return nil
}

// WaitReady polls /readyz until it answers ok; exited (when not nil)
// reports an apiserver that has died, which ends the wait.
func (a *Admin) WaitReady(ctx context.Context, exited func() error) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := a.Do(rctx, http.MethodGet, "/readyz", nil, nil)
		cancel()
		if err == nil {
			return nil
		}
		if exited != nil {
			if e := exited(); e != nil {
				return e
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready: %w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// InstallCRDs creates every tortie storage CRD (package crds) and waits
// until the apiserver serves them.
func (a *Admin) InstallCRDs(ctx context.Context) error {
	for _, d := range crds.Defs() {
		err := a.Do(ctx, http.MethodPost, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", d.Object(), nil)
		if err != nil && !errors.Is(err, ErrExists) {
			return fmt.Errorf("install CRD %s: %w", d.Plural, err)
		}
	}
	for _, d := range crds.Defs() {
		path := "/apis/" + crds.Group + "/" + crds.Version + "/" + d.Plural
		for {
			err := a.Do(ctx, http.MethodGet, path, nil, nil)
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not served: %w (last: %v)", d.Plural, ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func base64(b []byte) string { return b64.StdEncoding.EncodeToString(b) }
