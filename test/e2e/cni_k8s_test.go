package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni/cnitest"
	"github.com/tortienet/tortie/internal/controllers"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/datastore/kdd/kastest"
	"github.com/tortienet/tortie/internal/ipam"
)

// k8sInNode is where the node namespace reaches the test apiserver.
const k8sInNode = "127.0.0.1:6443"

// k8sCNIEnv is a CNI node whose plugin uses a real kube-apiserver (the
// Kubernetes datastore), the test acting as the kubelet: it creates the
// Node and the Pods, then calls the plugin with K8S_POD_* arguments.
type k8sCNIEnv struct {
	*cniEnv
	kas        *kastest.Cluster
	store      *kdd.Store
	kubeconfig string // as the node namespace reaches the apiserver
}

func newK8sCNIEnv(t *testing.T) *k8sCNIEnv {
	t.Helper()
	cnitest.RequireRoot(t)
	if _, err := kastest.Binary(); err != nil {
		t.Skip("needs a real kube-apiserver: ", err)
	}
	e := &k8sCNIEnv{cniEnv: newCNIEnv(t)}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	kas, err := kastest.Start(ctx)
	if err == nil {
		err = kas.InstallCRDs(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kas.Close)
	e.kas = kas
	if e.store, err = kas.Store("default"); err != nil {
		t.Fatal(err)
	}
	cnitest.Forward(t, e.node, k8sInNode, strings.TrimPrefix(kas.Server, "https://"))
	kc, err := os.ReadFile(kas.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	e.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	inNode := strings.Replace(string(kc), kas.Server, "https://"+k8sInNode, 1)
	if err := os.WriteFile(e.kubeconfig, []byte(inNode), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *k8sCNIEnv) admin(method, path string, body any) {
	e.t.Helper()
	if err := e.kas.Admin(e.t.Context(), method, path, body, nil); err != nil {
		e.t.Fatal(err)
	}
}

// kubelet registers the node with a pod CIDR and creates a namespace
// with its default service account.
func (e *k8sCNIEnv) kubelet(podCIDR, namespace string) {
	e.admin(http.MethodPost, "/api/v1/nodes", map[string]any{"metadata": map[string]any{"name": cniNodeName},
		"spec": map[string]any{"podCIDR": podCIDR, "podCIDRs": []string{podCIDR}}})
	e.admin(http.MethodPost, "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": namespace, "labels": map[string]any{"team": "a"}}})
	e.admin(http.MethodPost, "/api/v1/namespaces/"+namespace+"/serviceaccounts", map[string]any{"metadata": map[string]any{"name": "default"}})
}

// createPod creates a Pod bound to the node, as the scheduler would.
func (e *k8sCNIEnv) createPod(namespace, name string) {
	e.admin(http.MethodPost, "/api/v1/namespaces/"+namespace+"/pods", map[string]any{
		"metadata": map[string]any{"name": name, "labels": map[string]any{"app": "web"}},
		"spec": map[string]any{"nodeName": cniNodeName, "automountServiceAccountToken": false,
			"containers": []any{map[string]any{"name": "c", "image": "busybox", "ports": []any{map[string]any{"name": "http", "containerPort": 80}}}}},
	})
}

// conf is the plugin's configuration in Kubernetes mode, with host-local
// on the node's podCIDR.
func (e *k8sCNIEnv) conf() map[string]any {
	c := e.tortieConf()
	c["datastore_type"] = "kubernetes"
	delete(c, "etcd_endpoints")
	c["kubernetes"] = map[string]any{"kubeconfig": e.kubeconfig}
	c["policy"] = map[string]any{"type": "k8s"}
	c["ipam"] = map[string]any{"type": "host-local", "dataDir": e.IPAMDir, "subnet": "usePodCidr"}
	return c
}

// TestCniKubernetesDatastore: a pod's ADD on the Kubernetes datastore
// takes an address from the node's podCIDR (host-local usePodCidr), writes
// it to the Pod's annotations as Calico does, and the endpoint read back
// carries the pod's labels, service account and named ports; DEL empties
// the annotations.
func TestCniKubernetesDatastore(t *testing.T) {
	e := newK8sCNIEnv(t)
	e.kubelet("10.244.31.0/24", "shop")
	e.createPod("shop", "web-1")
	net := e.network("tcni-k8sds", "1.0.0", e.conf())
	pod := e.pod("web")
	args := "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=" + containerID(pod)
	res := e.add(net, pod, args)
	if len(res.IPs) != 1 || !netip.MustParsePrefix("10.244.31.0/24").Contains(netip.MustParsePrefix(res.IPs[0].Address).Addr()) {
		t.Fatalf("addresses %+v, want one in the node's podCIDR 10.244.31.0/24", res.IPs)
	}
	ip := netip.MustParsePrefix(res.IPs[0].Address).Addr()
	var p struct {
		Metadata struct{ Annotations map[string]string }
	}
	if err := e.kas.Admin(t.Context(), http.MethodGet, "/api/v1/namespaces/shop/pods/web-1", nil, &p); err != nil {
		t.Fatal(err)
	}
	a := p.Metadata.Annotations
	if a["cni.projectcalico.org/podIP"] != ip.String()+"/32" || a["cni.projectcalico.org/podIPs"] != ip.String()+"/32" ||
		a["cni.projectcalico.org/containerID"] != containerID(pod) {
		t.Fatalf("pod annotations %v, want podIP(s) %s/32 and the container ID", a, ip)
	}
	key := datastore.ResourceKey("workloadendpoints", "shop", kdd.WEPName(cniNodeName, "web-1", "eth0"))
	kv, err := e.store.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	var w v3.WorkloadEndpoint
	_ = json.Unmarshal(kv.Value, &w)
	if w.Labels["app"] != "web" || w.Spec.ServiceAccountName != "default" || len(w.Spec.Ports) != 1 ||
		w.Spec.InterfaceName != res.Interfaces[0].Name || w.Spec.Profiles[0] != "kns.shop" {
		t.Fatalf("endpoint %s (host interface %s)", kv.Value, res.Interfaces[0].Name)
	}
	if c := e.rt.Cnitool("del", net, pod.Path(), args); c.Err != nil {
		t.Fatal(c.Err)
	}
	if _, err := e.store.Get(t.Context(), key); err == nil {
		t.Fatal("endpoint still there after DEL")
	}
	if len(e.caliLinks()) != 0 {
		t.Errorf("after DEL: %v", e.caliLinks())
	}
}

// TestCniKubernetesControllersRelease: with tortie-ipam on the Kubernetes
// datastore, a pod deleted from the API whose DEL never came (a node that
// died) has its address released by the controllers once the grace period
// has passed, and not before.
func TestCniKubernetesControllersRelease(t *testing.T) {
	e := newK8sCNIEnv(t)
	e.kubelet("10.244.32.0/24", "shop")
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "gc-pool"}}
	pool.Spec.CIDR, pool.Spec.BlockSize = "10.77.0.0/24", 28
	if _, err := client.New(e.store).Apply(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	e.createPod("shop", "web-2")
	c := e.conf()
	c["ipam"] = map[string]any{"type": "tortie-ipam"}
	net := e.network("tcni-k8sgc", "1.0.0", c)
	pod := e.pod("web2")
	res := e.add(net, pod, "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-2")
	ip := netip.MustParsePrefix(res.IPs[0].Address).Addr()
	m := ipam.New(client.New(e.store))
	if a, ok, err := m.GetAllocation(t.Context(), ip); err != nil || !ok || a.Attrs[ipam.AttrPod] != "web-2" {
		t.Fatalf("allocation of %s: %+v %v %v", ip, a, ok, err)
	}
	// Force-deleted, as the node controller does for the pods of a dead
	// node (a bound pod's graceful delete waits for its kubelet).
	e.admin(http.MethodDelete, "/api/v1/namespaces/shop/pods/web-2", map[string]any{"gracePeriodSeconds": 0})

	ctl, err := controllers.New(controllers.Config{Identity: "e2e", Grace: time.Hour}, e.store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := ctl.Pass(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.GetAllocation(t.Context(), ip); !ok {
		t.Fatal("released within the grace period")
	}
	if _, err := ctl.Pass(t.Context(), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if a, ok, err := m.GetAllocation(t.Context(), ip); err != nil || ok {
		t.Fatalf("after the grace period, %s is still allocated: %+v (%v)", ip, a, err)
	}
}

// TestCniKubernetesForbidden: with a kubeconfig whose user has no RBAC
// grants, ADD fails naming the verb and the resource refused, and leaves
// nothing behind: no interface, no address held, no annotation.
func TestCniKubernetesForbidden(t *testing.T) {
	e := newK8sCNIEnv(t)
	e.kubelet("10.244.33.0/24", "shop")
	e.createPod("shop", "web-3")
	kc, err := e.kas.KubeconfigFor(kastest.NoRightsToken)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	inNode := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(inNode, []byte(strings.Replace(string(raw), e.kas.Server, "https://"+k8sInNode, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := e.conf()
	c["kubernetes"] = map[string]any{"kubeconfig": inNode}
	net := e.network("tcni-k8sfb", "1.0.0", c)
	pod := e.pod("web3")
	res := e.rt.Cnitool("add", net, pod.Path(), "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-3")
	msg := res.Stdout + res.Stderr
	if res.Err == nil || !strings.Contains(msg, "forbidden") || !strings.Contains(msg, kastest.NoRightsUser) || !strings.Contains(msg, "cannot get resource") {
		t.Fatalf("ADD without RBAC grants: %v\n%s", res.Err, msg)
	}
	if l := e.caliLinks(); len(l) != 0 {
		t.Errorf("interfaces left behind: %v", l)
	}
	if a := e.allocations(net); len(a) != 0 {
		t.Errorf("addresses left held: %v", a)
	}
	var p struct {
		Metadata struct{ Annotations map[string]string }
	}
	if err := e.kas.Admin(t.Context(), http.MethodGet, "/api/v1/namespaces/shop/pods/web-3", nil, &p); err != nil {
		t.Fatal(err)
	}
	if v, ok := p.Metadata.Annotations["cni.projectcalico.org/podIP"]; ok {
		t.Errorf("podIP annotation %q written though ADD failed", v)
	}
}
