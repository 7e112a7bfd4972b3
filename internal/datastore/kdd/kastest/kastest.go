// Package kastest runs a real kube-apiserver for tests: the binary built
// from the Go module proxy by test/k8s/build-apiserver.sh (cached outside
// the repository), against an embedded etcd on loopback, with RBAC on and
// two bearer tokens: an administrator (system:masters) and a user with no
// permissions, to test what a missing RBAC grant looks like.
//
// Tests that need it call Need(t), which skips them with the reason when
// the binary is not there.
package kastest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/datastore/kdd/crds"
)

// Version is the Kubernetes release the harness runs.
const Version = "v1.37.0"

// Tokens of the two users the apiserver knows.
const (
	AdminToken    = "tortie-admin-token"
	NoRightsToken = "tortie-nobody-token"
	NoRightsUser  = "tortie-nobody"
)

// ComponentUsers are users with no rights of their own, for tests to bind
// to a component's roles (token: the name + "-token").
var ComponentUsers = []string{"tortie-node-user", "tortie-controllers-user"}

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

// Cluster is a running kube-apiserver with its etcd.
type Cluster struct {
	// Server is the apiserver's https URL.
	Server string
	// Kubeconfig is a kubeconfig file for the administrator.
	Kubeconfig string
	// Etcd is a client of the apiserver's etcd (for compaction).
	Etcd *clientv3.Client
	dir  string
	opts Options
	bin  string
	port string
	etcd *embedded.Server
	cmd  *exec.Cmd
	exit chan error
}

// Options change how the apiserver runs.
type Options struct {
	// WatchCache turns the apiserver's watch cache on, as in production
	// (off by default: watches then read etcd, so an etcd compaction is
	// what a watch from an old revision sees).
	WatchCache bool
}

// Start runs etcd and the apiserver in a temporary directory and waits
// until /readyz answers ok.
func Start(ctx context.Context) (*Cluster, error) { return StartWith(ctx, Options{}) }

// StartWith is Start with options.
func StartWith(ctx context.Context, opts Options) (_ *Cluster, err error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tortie-kas-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, opts: opts}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if err := c.startEtcd(ctx); err != nil {
		return nil, err
	}
	if err := writeFiles(dir); err != nil {
		return nil, err
	}
	port, err := embedded.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, p, _ := net.SplitHostPort(port)
	c.Server = "https://127.0.0.1:" + p
	c.bin, c.port = bin, p
	if err := c.startAPIServer(bin, p); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	return c, os.WriteFile(c.Kubeconfig, []byte(c.kubeconfig(AdminToken)), 0o600)
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	caddr, err := embedded.FreeAddr()
	if err != nil {
		return err
	}
	paddr, err := embedded.FreeAddr()
	if err != nil {
		return err
	}
	c.etcd, err = embedded.Start(ctx, embedded.Config{DataDir: filepath.Join(c.dir, "etcd"), ClientAddr: caddr, PeerAddr: paddr})
	if err != nil {
		return err
	}
	c.Etcd, err = clientv3.New(clientv3.Config{Endpoints: c.etcd.Endpoints(), DialTimeout: 5 * time.Second})
	return err
}

func (c *Cluster) startAPIServer(bin, port string) error {
	f := func(n string) string { return filepath.Join(c.dir, n) }
	c.cmd = exec.Command(bin,
		"--etcd-servers="+strings.Join(c.etcd.Endpoints(), ","),
		"--etcd-compaction-interval=0",                 // the tests compact when they mean to
		"--watch-cache="+fmt.Sprint(c.opts.WatchCache), // off: watches read etcd, compaction is what the tests see
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+f("sa.pub"), "--service-account-signing-key-file="+f("sa.key"),
		"--authorization-mode=RBAC", "--token-auth-file="+f("tokens.csv"),
		"--tls-cert-file="+f("apiserver.crt"), "--tls-private-key-file="+f("apiserver.key"),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--secure-port="+port, "--service-cluster-ip-range=10.96.0.0/16",
		"--enable-priority-and-fairness=false",
		"--allow-privileged=true", // as every real cluster: CNI DaemonSets are privileged
	)
	// Dies with the test process, even when that panics or is killed.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	log, err := os.Create(f("apiserver.log"))
	if err != nil {
		return err
	}
	c.cmd.Stdout, c.cmd.Stderr = log, log
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	c.exit = make(chan error, 1)
	go func() { c.exit <- c.cmd.Wait(); log.Close() }()
	return nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 2 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-c.exit:
			c.exit <- err
			return fmt.Errorf("kube-apiserver exited (%v); log:\n%s", err, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready: %w; log:\n%s", ctx.Err(), c.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "apiserver.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kubeconfig is a kubeconfig for token (server TLS not verified: the
// certificate is throwaway).
func (c *Cluster) kubeconfig(token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: test
  user:
    token: %s
contexts:
- name: test
  context:
    cluster: test
    user: test
`, c.Server, token)
}

// KubeconfigFor writes a kubeconfig for token into the cluster's
// directory and returns its path.
func (c *Cluster) KubeconfigFor(token string) (string, error) {
	p := filepath.Join(c.dir, "kubeconfig-"+token)
	return p, os.WriteFile(p, []byte(c.kubeconfig(token)), 0o600)
}

// Restart stops the apiserver and starts it again on the same port and
// etcd, as an upgrade or a crash would, and waits until it is ready.
func (c *Cluster) Restart(ctx context.Context) error {
	_ = c.cmd.Process.Kill()
	<-c.exit
	if err := c.startAPIServer(c.bin, c.port); err != nil {
		return err
	}
	return c.waitReady(ctx)
}

// Compact compacts the etcd history before rev, as the apiserver does
// every few minutes: a watch or list from an older resourceVersion then
// fails with 410 Gone.
func (c *Cluster) Compact(ctx context.Context, rev int64) error {
	_, err := c.Etcd.Compact(ctx, rev, clientv3.WithCompactPhysical())
	return err
}

// Store opens a kdd Store on the cluster as the administrator, with its
// own keys in namespace.
func (c *Cluster) Store(namespace string) (*kdd.Store, error) {
	return kdd.Open(kdd.Config{Kubeconfig: c.Kubeconfig, Namespace: namespace})
}

// Close stops the apiserver and etcd and removes their files.
func (c *Cluster) Close() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
		<-c.exit
	}
	if c.Etcd != nil {
		c.Etcd.Close()
	}
	if c.etcd != nil {
		c.etcd.Close()
	}
	os.RemoveAll(c.dir)
}

// writeFiles writes the serving certificate, the service-account key pair
// and the token file.
func writeFiles(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	saDER, _ := x509.MarshalECPrivateKey(sa)
	saPub, _ := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	tokens := fmt.Sprintf("%s,tortie-admin,tortie-admin,system:masters\n%s,%s,%s\n", AdminToken, NoRightsToken, NoRightsUser, NoRightsUser)
	for _, u := range ComponentUsers {
		tokens += fmt.Sprintf("%s,%s,%s\n", u+"-token", u, u)
	}
	files := map[string][]byte{
		"apiserver.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"apiserver.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"sa.key":        pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saDER}),
		"sa.pub":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		"tokens.csv":    []byte(tokens),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Main starts one cluster for a test binary, stores it in *c (nil when
// the binary is missing: Need then skips), runs the tests and stops it:
// `os.Exit(kastest.Main(m, &cluster))`.
func Main(m *testing.M, c **Cluster) int {
	if _, err := Binary(); err != nil {
		skipReason = err.Error()
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := Start(ctx)
	if err == nil {
		err = cl.InstallCRDs(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kastest:", err)
		return 1
	}
	defer cl.Close()
	*c = cl
	return m.Run()
}

var skipReason = "kastest.Main was not called"

// Need skips t when c is nil (no kube-apiserver binary), saying why.
func Need(t testing.TB, c *Cluster) {
	t.Helper()
	if c == nil {
		t.Skip("needs a real kube-apiserver: " + skipReason)
	}
}

// InstallCRDs creates every tortie storage CRD (package crds) and waits
// until the apiserver serves them.
func (c *Cluster) InstallCRDs(ctx context.Context) error {
	for _, d := range crds.Defs() {
		err := c.admin(ctx, http.MethodPost, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", d.Object(), nil)
		if err != nil && !errors.Is(err, errExists) {
			return fmt.Errorf("install CRD %s: %w", d.Plural, err)
		}
	}
	for _, d := range crds.Defs() {
		path := "/apis/" + crds.Group + "/" + crds.Version + "/" + d.Plural
		for {
			err := c.admin(ctx, http.MethodGet, path, nil, nil)
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

var errExists = errors.New("already exists")

// admin sends one request as the administrator; out (if set) receives
// the JSON answer.
func (c *Cluster) admin(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Server+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := insecure.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusConflict:
		return fmt.Errorf("%s %s: %w: %s", method, path, errExists, b)
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, b)
	case out != nil:
		return json.Unmarshal(b, out)
	}
	return nil
}

// Admin sends one request as the administrator (for tests that set up
// Kubernetes objects: Nodes, Pods, Namespaces); out receives the answer.
func (c *Cluster) Admin(ctx context.Context, method, path string, body, out any) error {
	return c.admin(ctx, method, path, body, out)
}

var insecure = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// HTTPClient reaches the test apiserver (its certificate is throwaway).
var HTTPClient = insecure
