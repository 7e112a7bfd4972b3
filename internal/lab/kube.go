package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/datastore/kdd/kasrun"
	"github.com/tortienet/tortie/internal/lab/topo"
)

// The Kubernetes datastore in a lab: a kube-apiserver in the underlay
// namespace, next to the lab's etcd (which it stores in), listening on
// the same address; the lab registers the Nodes and creates each Pod
// object before its CNI ADD, as kubelet does, and runs tortie-controllers.
const (
	kasPort         = "6443"
	kasRole         = "kube-apiserver"
	controllersRole = "tortie-controllers"
	// The lab's controllers run a pass every few seconds and release a
	// gone pod's addresses after a short grace period, so that a lab shows
	// the cleanup soon (Calico's defaults: 5m and 15m).
	labReconcilePeriod = "3s"
	labLeakGrace       = "5s"
)

// kube reports whether the lab uses the Kubernetes datastore.
func (l *Lab) kube() bool { return l.top.Datastore == topo.DatastoreKubernetes }

// kubeDir holds the apiserver's files and the lab's kubeconfig.
func (l *Lab) kubeDir() string { return filepath.Join(l.Dir(), "kube") }

// Kubeconfig is the administrator's kubeconfig of a lab on the
// Kubernetes datastore, valid inside the lab's namespaces ("" otherwise).
func (l *Lab) Kubeconfig() string {
	if !l.kube() {
		return ""
	}
	return filepath.Join(l.kubeDir(), "kubeconfig")
}

// startKubernetes runs kube-apiserver on the lab's etcd, installs tortie's
// CRDs and registers the nodes. Nothing when the lab uses etcd.
func (l *Lab) startKubernetes(ctx context.Context) error {
	if !l.kube() {
		return nil
	}
	bin, err := kasrun.Binary()
	if err != nil {
		return err
	}
	dir := l.kubeDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	gw := l.top.DatastoreAddr().Addr()
	token := make([]byte, 16)
	_, _ = rand.Read(token)
	admin := kasrun.User{Name: "lab-admin", Token: hex.EncodeToString(token), Groups: []string{"system:masters"}}
	ca, err := kasrun.WriteFiles(dir, []net.IP{net.IP(gw.AsSlice())}, []kasrun.User{admin})
	if err != nil {
		return fmt.Errorf("apiserver files: %w", err)
	}
	server := "https://" + net.JoinHostPort(gw.String(), kasPort)
	if err := os.WriteFile(l.Kubeconfig(), []byte(kasrun.Kubeconfig(server, admin.Token, ca)), 0o600); err != nil {
		return err
	}
	args := kasrun.Args(kasrun.Flags{Dir: dir, Etcd: []string{l.rec.snapshot().Datastore},
		Addr: gw.String(), Port: kasPort, WatchCache: true})
	p := ProcessRecord{Role: kasRole, Netns: l.ulNS(), Argv: append([]string{bin}, args...),
		Log: filepath.Join(dir, "apiserver.log")}
	if err := l.startProcess(p, baseEnv()); err != nil {
		return err
	}
	if err := l.waitAPIServer(ctx); err != nil {
		return err
	}
	a, err := l.kubeAdmin()
	if err != nil {
		return err
	}
	if err := a.InstallCRDs(ctx); err != nil {
		return err
	}
	if err := l.registerNodes(ctx, a); err != nil {
		return err
	}
	return l.startControllers()
}

// waitAPIServer waits until the lab's apiserver answers /readyz.
func (l *Lab) waitAPIServer(ctx context.Context) error {
	a, err := l.kubeAdmin()
	if err != nil {
		return err
	}
	_, started, err := l.process(kasRole)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ReadyTimeout)
	defer cancel()
	err = a.WaitReady(ctx, func() error {
		if !alive(started) {
			return errors.New("kube-apiserver exited")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w; its log ends: %s", err, tail(started.Log, 2000))
	}
	l.log.Info("kube-apiserver is up", "server", a.Server, "netns", l.ulNS())
	return nil
}

// KubeConn is how this process reaches the lab's apiserver: the lab's
// kubeconfig, connections made inside the underlay namespace.
func (l *Lab) KubeConn() (kdd.Conn, error) {
	if !l.kube() {
		return kdd.Conn{}, fmt.Errorf("lab %s uses the etcd datastore", l.top.Name)
	}
	c, err := kdd.LoadKubeconfig(l.Kubeconfig(), "")
	if err != nil {
		return c, err
	}
	dial := dialerIn(l.ulNS())
	c.Dial = func(ctx context.Context, _, addr string) (net.Conn, error) { return dial(ctx, addr) }
	return c, nil
}

// kubeAdmin is an administrator's client of the lab's apiserver.
func (l *Lab) kubeAdmin() (*kasrun.Admin, error) {
	c, err := l.KubeConn()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig, tr.DialContext = c.TLS, c.Dial
	return &kasrun.Admin{Server: c.Server, Token: c.Token, HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// registerNodes creates each node's Kubernetes Node, as its kubelet would,
// with a podCIDR (the i-th /24 of the pool) when the lab uses them.
func (l *Lab) registerNodes(ctx context.Context, a *kasrun.Admin) error {
	for i, n := range l.top.Nodes {
		spec := map[string]any{}
		if l.top.UsePodCIDR {
			cidr, err := nodeSubnet(l.top.Pool.Prefix, i)
			if err != nil {
				return err
			}
			spec["podCIDR"], spec["podCIDRs"] = cidr.String(), []string{cidr.String()}
		}
		node := map[string]any{"metadata": map[string]any{"name": n.Name,
			"labels": map[string]string{"kubernetes.io/hostname": n.Name, "kubernetes.io/os": "linux"}}, "spec": spec}
		if err := a.Do(ctx, http.MethodPost, "/api/v1/nodes", node, nil); err != nil {
			return fmt.Errorf("register node %s: %w", n.Name, err)
		}
	}
	return nil
}

// createPodObject creates the Pod p stands for, bound to its node (and its
// namespace with the default service account first, which the
// controller-manager a lab lacks would create).
func (l *Lab) createPodObject(ctx context.Context, p topo.Pod) error {
	a, err := l.kubeAdmin()
	if err != nil {
		return err
	}
	ns := map[string]any{"metadata": map[string]any{"name": p.Namespace}}
	if err := a.Do(ctx, http.MethodPost, "/api/v1/namespaces", ns, nil); err != nil && !errors.Is(err, kasrun.ErrExists) {
		return fmt.Errorf("namespace %s: %w", p.Namespace, err)
	}
	sa := map[string]any{"metadata": map[string]any{"name": "default"}}
	if err := a.Do(ctx, http.MethodPost, "/api/v1/namespaces/"+p.Namespace+"/serviceaccounts", sa, nil); err != nil && !errors.Is(err, kasrun.ErrExists) {
		return fmt.Errorf("service account %s/default: %w", p.Namespace, err)
	}
	pod := map[string]any{
		"metadata": map[string]any{"name": p.Name, "labels": p.Labels},
		"spec": map[string]any{"nodeName": p.Node, "automountServiceAccountToken": false,
			"containers": []any{map[string]any{"name": "main", "image": "lab"}}},
	}
	if err := a.Do(ctx, http.MethodPost, "/api/v1/namespaces/"+p.Namespace+"/pods", pod, nil); err != nil {
		return fmt.Errorf("create the Pod: %w", err)
	}
	return nil
}

// deletePodObject removes the Pod of key at once (as a kubelet's final
// delete does), if it is there.
func (l *Lab) deletePodObject(ctx context.Context, key string) error {
	a, err := l.kubeAdmin()
	if err != nil {
		return err
	}
	namespace, name, _ := strings.Cut(key, "/")
	err = a.Do(ctx, http.MethodDelete, "/api/v1/namespaces/"+namespace+"/pods/"+name, map[string]any{"gracePeriodSeconds": 0}, nil)
	if err != nil && !errors.Is(err, kasrun.ErrNotFound) {
		return fmt.Errorf("delete the Pod %s: %w", key, err)
	}
	return nil
}

// startControllers runs tortie-controllers in the underlay namespace, if
// the bin dir has it.
func (l *Lab) startControllers() error {
	bin := filepath.Join(l.cfg.BinDir, controllersRole)
	if !isExecutable(bin) {
		l.log.Info("no tortie-controllers: addresses of pods deleted from the API are not released", "missing", bin)
		return nil
	}
	env := append(baseEnv(), "KUBECONFIG="+l.Kubeconfig(), "POD_NAME=lab-"+l.top.Name,
		"RECONCILER_PERIOD="+labReconcilePeriod, "LEAK_GRACE_PERIOD="+labLeakGrace)
	return l.startProcess(ProcessRecord{Role: controllersRole, Netns: l.ulNS(), Argv: []string{bin},
		Log: filepath.Join(l.kubeDir(), controllersRole+".log")}, env)
}

// datastoreEnv is how a program in the lab reaches its datastore:
// calico-node's and calicoctl's variables.
func (l *Lab) datastoreEnv() []string {
	if l.kube() {
		return []string{"DATASTORE_TYPE=kubernetes", "KUBECONFIG=" + l.Kubeconfig()}
	}
	return []string{"DATASTORE_TYPE=etcdv3", "ETCD_ENDPOINTS=" + l.rec.snapshot().Datastore}
}
