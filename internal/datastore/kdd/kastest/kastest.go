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
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/datastore/kdd/kasrun"
)

// Version is the Kubernetes release the harness runs.
const Version = kasrun.Version

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
func Binary() (string, error) { return kasrun.Binary() }

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
	c.cmd = exec.Command(bin, kasrun.Args(kasrun.Flags{Dir: c.dir, Etcd: c.etcd.Endpoints(),
		Addr: "127.0.0.1", Port: port, WatchCache: c.opts.WatchCache})...)
	// Dies with the test process, even when that panics or is killed.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	log, err := os.Create(filepath.Join(c.dir, "apiserver.log"))
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
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := c.adminClient().WaitReady(ctx, func() error {
		select {
		case err := <-c.exit:
			c.exit <- err
			return fmt.Errorf("kube-apiserver exited (%v)", err)
		default:
			return nil
		}
	})
	if err != nil {
		return fmt.Errorf("%w; log:\n%s", err, c.logTail())
	}
	return nil
}

func (c *Cluster) adminClient() *kasrun.Admin {
	return &kasrun.Admin{Server: c.Server, Token: AdminToken, HTTP: insecure}
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
func (c *Cluster) kubeconfig(token string) string { return kasrun.Kubeconfig(c.Server, token, nil) }

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
	users := []kasrun.User{
		{Name: "tortie-admin", Token: AdminToken, Groups: []string{"system:masters"}},
		{Name: NoRightsUser, Token: NoRightsToken},
	}
	for _, u := range ComponentUsers {
		users = append(users, kasrun.User{Name: u, Token: u + "-token"})
	}
	_, err := kasrun.WriteFiles(dir, nil, users)
	return err
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
func (c *Cluster) InstallCRDs(ctx context.Context) error { return c.adminClient().InstallCRDs(ctx) }

// admin sends one request as the administrator; out (if set) receives
// the JSON answer.
func (c *Cluster) admin(ctx context.Context, method, path string, body, out any) error {
	return c.adminClient().Do(ctx, method, path, body, out)
}

// Admin sends one request as the administrator (for tests that set up
// Kubernetes objects: Nodes, Pods, Namespaces); out receives the answer.
func (c *Cluster) Admin(ctx context.Context, method, path string, body, out any) error {
	return c.admin(ctx, method, path, body, out)
}

var insecure = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// HTTPClient reaches the test apiserver (its certificate is throwaway).
var HTTPClient = insecure
