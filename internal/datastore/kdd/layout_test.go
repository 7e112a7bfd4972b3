package kdd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/datastore/kdd/kastest"
	"github.com/tortienet/tortie/internal/datastore/storetest"
)

// admin sends a request as the cluster administrator, failing t on error.
func admin(t *testing.T, method, path string, body, out any) {
	t.Helper()
	if err := cluster.Admin(t.Context(), method, path, body, out); err != nil {
		t.Fatal(err)
	}
}

// TestCRDLayout: a v3 resource is the crd.projectcalico.org/v1 object
// Calico would have written, and an object written that way (as calicoctl
// in KDD mode writes it) reads back as the v3 resource.
func TestCRDLayout(t *testing.T) {
	s, ctx := open(t), t.Context()
	key := datastore.ResourceKey("ippools", "", "layout-pool")
	val := `{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"layout-pool","uid":"3c4a","creationTimestamp":"2026-12-01T00:00:00Z","labels":{"a":"b"}},"spec":{"cidr":"10.40.0.0/16","blockSize":26,"ipipMode":"Always"}}`
	if _, err := s.Create(ctx, key, []byte(val)); err != nil {
		t.Fatal(err)
	}
	var o struct {
		APIVersion, Kind string
		Metadata         struct {
			Labels, Annotations map[string]string
		}
		Spec map[string]any
	}
	admin(t, http.MethodGet, "/apis/crd.projectcalico.org/v1/ippools/layout-pool", nil, &o)
	if o.APIVersion != "crd.projectcalico.org/v1" || o.Kind != "IPPool" || o.Spec["cidr"] != "10.40.0.0/16" ||
		o.Spec["ipipMode"] != "Always" || o.Metadata.Labels["a"] != "b" ||
		o.Metadata.Annotations[kdd.MetadataAnnotation] != `{"uid":"3c4a","creationTimestamp":"2026-12-01T00:00:00Z"}` {
		t.Fatalf("stored as %+v", o)
	}

	crd := map[string]any{"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
		"metadata": map[string]any{"name": "written-by-calicoctl",
			"annotations": map[string]any{kdd.MetadataAnnotation: `{"creationTimestamp":"2026-12-02T00:00:00Z"}`}},
		"spec": map[string]any{"cidr": "10.41.0.0/16", "blockSize": 26, "vxlanMode": "CrossSubnet"}}
	admin(t, http.MethodPost, "/apis/crd.projectcalico.org/v1/ippools", crd, nil)
	kv, err := s.Get(ctx, datastore.ResourceKey("ippools", "", "written-by-calicoctl"))
	if err != nil {
		t.Fatal(err)
	}
	var p v3.IPPool
	if err := json.Unmarshal(kv.Value, &p); err != nil {
		t.Fatal(err)
	}
	if p.Kind != "IPPool" || p.APIVersion != v3.APIVersion || p.Spec.CIDR != "10.41.0.0/16" ||
		p.CreationTimestamp != "2026-12-02T00:00:00Z" || p.Annotations != nil {
		t.Fatalf("read back %s", kv.Value)
	}
}

// TestNodeIsKubernetesNode: the Calico Node is the Kubernetes Node plus
// annotations; a write patches them and leaves the rest alone.
func TestNodeIsKubernetesNode(t *testing.T) {
	s, ctx := open(t), t.Context()
	admin(t, http.MethodPost, "/api/v1/nodes", map[string]any{
		"metadata": map[string]any{"name": "layout-node", "labels": map[string]any{"kubernetes.io/hostname": "layout-node"}},
		"spec":     map[string]any{"podCIDR": "10.244.7.0/24", "podCIDRs": []string{"10.244.7.0/24"}},
	}, nil)
	key := datastore.ResourceKey("nodes", "", "layout-node")
	_, err := s.Create(ctx, key, []byte(`{"kind":"Node","metadata":{"name":"layout-node"}}`))
	if !errors.Is(err, datastore.ErrAlreadyExists) {
		t.Fatalf("create of a registered node: %v, want ErrAlreadyExists", err)
	}
	kv, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var n v3.Node
	_ = json.Unmarshal(kv.Value, &n)
	if n.Status.PodCIDRs[0] != "10.244.7.0/24" || n.Labels["kubernetes.io/hostname"] != "layout-node" {
		t.Fatalf("node %s", kv.Value)
	}
	n.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: "192.0.2.7/24", IPv4IPIPTunnelAddr: "10.244.7.1"}
	b, _ := json.Marshal(n)
	ch, err := s.Watch(ctx, key, kv.Revision, datastore.WithPrevValues())
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.Update(ctx, key, b, kv.Revision)
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Metadata struct{ Annotations map[string]string }
		Spec     struct{ PodCIDR string }
	}
	admin(t, http.MethodGet, "/api/v1/nodes/layout-node", nil, &k)
	if k.Metadata.Annotations["projectcalico.org/IPv4Address"] != "192.0.2.7/24" ||
		k.Metadata.Annotations["projectcalico.org/IPv4IPIPTunnelAddr"] != "10.244.7.1" || k.Spec.PodCIDR != "10.244.7.0/24" {
		t.Fatalf("kubernetes node after update: %+v", k)
	}
	ev := <-ch
	if ev.Type != datastore.EventPut || ev.KV.Revision != rev || string(ev.PrevValue) != string(kv.Value) {
		t.Fatalf("watch event %+v", ev)
	}
	if _, err := s.Update(ctx, key, b, kv.Revision); !errors.Is(err, datastore.ErrConflict) {
		t.Fatalf("update at a stale revision: %v, want ErrConflict", err)
	}
}

// TestWorkloadEndpointIsPod: the CNI plugin's write of an endpoint is the
// Pod's podIP annotations; its delete empties them.
func TestWorkloadEndpointIsPod(t *testing.T) {
	s, ctx := open(t), t.Context()
	admin(t, http.MethodPost, "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "wep-ns", "labels": map[string]any{"team": "a"}}}, nil)
	admin(t, http.MethodPost, "/api/v1/namespaces/wep-ns/serviceaccounts", map[string]any{"metadata": map[string]any{"name": "sa1"}}, nil)
	admin(t, http.MethodPost, "/api/v1/namespaces/wep-ns/pods", map[string]any{
		"metadata": map[string]any{"name": "web-1", "labels": map[string]any{"app": "web"}},
		"spec": map[string]any{"nodeName": "layout-node", "serviceAccountName": "sa1", "automountServiceAccountToken": false,
			"containers": []any{map[string]any{"name": "c", "image": "busybox",
				"ports": []any{map[string]any{"name": "http", "containerPort": 80}}}}},
	}, nil)
	name := kdd.WEPName("layout-node", "web-1", "eth0")
	key := datastore.ResourceKey("workloadendpoints", "wep-ns", name)
	if _, err := s.Get(ctx, key); !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("endpoint of a pod without an address: %v, want ErrNotFound", err)
	}
	w := v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: name, Namespace: "wep-ns"}}
	w.Spec.IPNetworks, w.Spec.ContainerID = []string{"10.244.7.5/32"}, "cid-1"
	b, _ := json.Marshal(w)
	if _, err := s.Create(ctx, key, b); err != nil {
		t.Fatal(err)
	}
	kv, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var got v3.WorkloadEndpoint
	_ = json.Unmarshal(kv.Value, &got)
	if got.Spec.IPNetworks[0] != "10.244.7.5/32" || got.Spec.ContainerID != "cid-1" || got.Spec.ServiceAccountName != "sa1" ||
		got.Spec.Ports[0].Name != "http" || got.Labels["app"] != "web" || got.Spec.InterfaceName != kdd.VethName("wep-ns", "web-1") {
		t.Fatalf("endpoint %s", kv.Value)
	}
	var pod struct {
		Metadata struct{ Annotations map[string]string }
	}
	admin(t, http.MethodGet, "/api/v1/namespaces/wep-ns/pods/web-1", nil, &pod)
	if pod.Metadata.Annotations["cni.projectcalico.org/podIP"] != "10.244.7.5/32" ||
		pod.Metadata.Annotations["cni.projectcalico.org/containerID"] != "cid-1" {
		t.Fatalf("pod annotations %v", pod.Metadata.Annotations)
	}
	kvs, _, err := s.List(ctx, datastore.ResourceListPrefix("profiles", ""))
	if err != nil {
		t.Fatal(err)
	}
	profiles := map[string]string{}
	for _, kv := range kvs {
		profiles[strings.TrimPrefix(kv.Key, datastore.ResourceListPrefix("profiles", ""))] = string(kv.Value)
	}
	for _, want := range []string{"kns.wep-ns", "kns.default", "ksa.wep-ns.sa1", kdd.DefaultAllowProfile} {
		if _, ok := profiles[want]; !ok {
			t.Errorf("profiles %v lack %s", keys(profiles), want)
		}
	}
	if !strings.Contains(profiles["kns.wep-ns"], `"pcns.team":"a"`) || !strings.Contains(profiles["ksa.wep-ns.sa1"], `"pcsa.projectcalico.org/name":"sa1"`) {
		t.Errorf("profile labels: %s, %s", profiles["kns.wep-ns"], profiles["ksa.wep-ns.sa1"])
	}
	if _, err := s.Delete(ctx, key, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, key); !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("endpoint after delete: %v, want ErrNotFound", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestBadInput: each failure names what is missing.
func TestBadInput(t *testing.T) {
	kastest.Need(t, cluster)
	ctx := t.Context()
	key := datastore.ResourceKey("ippools", "", "p")

	kc, err := cluster.KubeconfigFor(kastest.NoRightsToken)
	if err != nil {
		t.Fatal(err)
	}
	s, err := kdd.Open(kdd.Config{Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, key)
	if !errors.Is(err, kdd.ErrForbidden) || !strings.Contains(err.Error(), `cannot get resource "ippools" in API group "crd.projectcalico.org"`) {
		t.Errorf("without RBAC: %v", err)
	}

	bad := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := strings.Replace(readFile(t, cluster.Kubeconfig), cluster.Server, "https://127.0.0.1:1", 1)
	if err := os.WriteFile(bad, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = kdd.Open(kdd.Config{Kubeconfig: bad})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = s.Get(ctx, key); err == nil || !strings.Contains(err.Error(), "kube-apiserver https://127.0.0.1:1 unreachable") {
		t.Errorf("unreachable: %v", err)
	}

	// A key in Calico's key space that no kind holds.
	if _, err := open(t).Create(ctx, datastore.ResourceKey("ippools", "", "a/b"), []byte("{}")); err == nil ||
		!strings.Contains(err.Error(), "not a key the Kubernetes datastore can hold") {
		t.Errorf("malformed key: %v", err)
	}

	// A missing CRD: remove one for the test, then put it back.
	const crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/kubecontrollersconfigurations.crd.projectcalico.org"
	admin(t, http.MethodDelete, crd, nil, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cluster.InstallCRDs(ctx); err != nil {
			t.Error(err)
		}
	})
	s = open(t)
	kcc := datastore.ResourceKey("kubecontrollersconfigurations", "", "default")
	var lastErr error
	for i := 0; i < 100; i++ { // until the apiserver has stopped serving it
		if _, lastErr = s.Create(ctx, kcc, []byte(`{"kind":"KubeControllersConfiguration","spec":{}}`)); errors.Is(lastErr, kdd.ErrNotServed) {
			break
		}
		select {
		case <-ctx.Done():
		case <-timeAfter():
		}
	}
	if !errors.Is(lastErr, kdd.ErrNotServed) || !strings.Contains(lastErr.Error(), "kubecontrollersconfigurations.crd.projectcalico.org") ||
		!strings.Contains(lastErr.Error(), "deploy/crds.yaml") {
		t.Errorf("missing CRD: %v", lastErr)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func timeAfter() <-chan time.Time { return time.After(50 * time.Millisecond) }

// TestListWatchRoot: what tortie-node does: one ListWatch of everything
// under /calico/, which in KDD spans every resource; a snapshot first,
// then each change as one event.
func TestListWatchRoot(t *testing.T) {
	s, ctx := open(t), t.Context()
	rec := storetest.NewRecorder()
	lwCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		datastore.ListWatch(lwCtx, s, datastore.Root, rec)
	}()
	defer func() { stop(); <-done }()
	c := rec.Next(t)
	if !c.Sync {
		t.Fatalf("first call %+v, want a snapshot", c)
	}
	view := storetest.View{}
	view.Apply(c)
	allow := datastore.ResourceKey("profiles", "", kdd.DefaultAllowProfile)
	if _, ok := view[allow]; !ok {
		t.Fatalf("snapshot of %d keys lacks %s", len(view), allow)
	}
	key := datastore.ResourceKey("globalnetworksets", "", "lw-set")
	rev, err := s.Create(ctx, key, []byte(`{"kind":"GlobalNetworkSet","metadata":{"name":"lw-set"},"spec":{"nets":["192.0.2.0/24"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	for {
		c = rec.Next(t)
		if c.Sync || c.Event.KV.Key == key {
			break
		}
	}
	if c.Sync || c.Event.Type != datastore.EventPut || c.Event.KV.Revision != rev {
		t.Fatalf("after a create, got %+v", c)
	}
}

// TestWatchSurvivesRestart: when the apiserver restarts, a watch resumes
// from the last resourceVersion it saw: no error, no resync, and the
// changes made meanwhile arrive once, in order.
func TestWatchSurvivesRestart(t *testing.T) {
	s, ctx := open(t), t.Context()
	p := datastore.ResourceListPrefix("globalnetworksets", "")
	_, rev, err := s.List(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx, p, rev)
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string) int64 {
		t.Helper()
		r, err := s.Create(ctx, p+name, []byte(`{"kind":"GlobalNetworkSet","metadata":{"name":"`+name+`"},"spec":{"nets":["192.0.2.1/32"]}}`))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	next := func() datastore.Event {
		t.Helper()
		select {
		case ev := <-ch:
			return ev
		case <-time.After(storetest.Timeout):
			t.Fatal("no event")
		}
		return datastore.Event{}
	}
	r1 := put("before-restart")
	if ev := next(); ev.Type != datastore.EventPut || ev.KV.Revision != r1 {
		t.Fatalf("before the restart: %+v", ev)
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := cluster.Restart(rctx); err != nil {
		t.Fatal(err)
	}
	r2 := put("after-restart")
	if ev := next(); ev.Type != datastore.EventPut || ev.KV.Revision != r2 || ev.KV.Key != p+"after-restart" {
		t.Fatalf("after the restart: %+v (err %v)", ev, ev.Err)
	}
}

// TestKubernetesNetworkPolicyRead: a NetworkPolicy applied to Kubernetes
// reads as the Calico policy it maps to; it cannot be written through
// tortie.
func TestKubernetesNetworkPolicyRead(t *testing.T) {
	s, ctx := open(t), t.Context()
	admin(t, http.MethodPost, "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", map[string]any{
		"metadata": map[string]any{"name": "deny-all"},
		"spec":     map[string]any{"podSelector": map[string]any{}, "policyTypes": []string{"Ingress"}},
	}, nil)
	key := datastore.ResourceKey(kdd.KNPPlural, "default", kdd.KNPNamePrefix+"deny-all")
	kv, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var p v3.NetworkPolicy
	_ = json.Unmarshal(kv.Value, &p)
	if p.Spec.Tier != "default" || *p.Spec.Order != 1000 || len(p.Spec.Ingress) != 0 ||
		p.Spec.Selector != "projectcalico.org/orchestrator == 'k8s'" || len(p.Spec.Types) != 1 {
		t.Fatalf("policy %s", kv.Value)
	}
	if _, err := s.Update(ctx, key, kv.Value, 0); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("update of a Kubernetes policy: %v", err)
	}
	kvs, _, err := s.List(ctx, datastore.ResourceListPrefix("networkpolicies", ""))
	if err != nil || len(kvs) != 0 {
		t.Fatalf("Calico networkpolicies list Kubernetes ones: %v (%v)", kvs, err)
	}
}

// TestAffinitiesByHost: a host's affinities are listed by a field
// selector on spec.node, so the list returns that host's alone.
func TestAffinitiesByHost(t *testing.T) {
	s, ctx := open(t), t.Context()
	for _, k := range []string{"/calico/ipam/v2/host/fs-h1/ipv4/block/10.88.0.0-26", "/calico/ipam/v2/host/fs-h2/ipv4/block/10.88.0.64-26",
		"/calico/ipam/v2/host/fs-h1/ipv4/block/10.88.0.128-26"} {
		if _, err := s.Create(ctx, k, []byte(`{"state":"confirmed","deleted":false}`)); err != nil {
			t.Fatal(err)
		}
	}
	kvs, _, err := s.List(ctx, "/calico/ipam/v2/host/fs-h1/ipv4/block/")
	if err != nil || len(kvs) != 2 || !strings.Contains(kvs[0].Key, "/fs-h1/") || !strings.Contains(kvs[1].Key, "/fs-h1/") {
		t.Fatalf("fs-h1's affinities: %v (%v)", kvs, err)
	}
}

// TestPrefetch: a Create after Prefetch patches the Pod read ahead; if the
// Pod changed in between (here: a label), the Create reads it again and
// still writes; a Pod that got its endpoint meanwhile makes the Create
// fail as without Prefetch.
func TestPrefetch(t *testing.T) {
	s, ctx := open(t), t.Context()
	admin(t, http.MethodPost, "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "pf-ns"}}, nil)
	admin(t, http.MethodPost, "/api/v1/namespaces/pf-ns/serviceaccounts", map[string]any{"metadata": map[string]any{"name": "default"}}, nil)
	wep := func(pod, ip string) (string, []byte) {
		name := kdd.WEPName("pf-node", pod, "eth0")
		w := v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: name, Namespace: "pf-ns"}}
		w.Spec.IPNetworks, w.Spec.ContainerID = []string{ip + "/32"}, "cid-"+pod
		b, _ := json.Marshal(w)
		return datastore.ResourceKey("workloadendpoints", "pf-ns", name), b
	}
	for i, change := range []bool{false, true} {
		pod := fmt.Sprintf("p%d", i)
		admin(t, http.MethodPost, "/api/v1/namespaces/pf-ns/pods", map[string]any{"metadata": map[string]any{"name": pod},
			"spec": map[string]any{"nodeName": "pf-node", "automountServiceAccountToken": false,
				"containers": []any{map[string]any{"name": "c", "image": "busybox"}}}}, nil)
		key, val := wep(pod, fmt.Sprintf("10.244.9.%d", i+1))
		if err := s.Prefetch(ctx, key); err != nil {
			t.Fatal(err)
		}
		if change {
			admin(t, http.MethodPut, "/api/v1/namespaces/pf-ns/pods/"+pod, podWithLabel(t, pod), nil)
		}
		if _, err := s.Create(ctx, key, val); err != nil {
			t.Fatalf("create after prefetch (pod changed: %v): %v", change, err)
		}
		if kv, err := s.Get(ctx, key); err != nil || !strings.Contains(string(kv.Value), fmt.Sprintf("10.244.9.%d/32", i+1)) {
			t.Fatalf("endpoint %s (%v)", kv.Value, err)
		}
	}
	key, val := wep("p0", "10.244.9.9")
	if err := s.Prefetch(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, key, val); !errors.Is(err, datastore.ErrAlreadyExists) {
		t.Fatalf("create of an endpoint that exists, after prefetch: %v, want ErrAlreadyExists", err)
	}
	// A Delete at the revision just read (which it need not read again):
	// refused if the Pod changed since, done if not.
	for _, pod := range []string{"p0", "p1"} {
		key, _ := wep(pod, "")
		kv, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if pod == "p0" {
			admin(t, http.MethodPut, "/api/v1/namespaces/pf-ns/pods/"+pod, podWithLabel(t, pod), nil)
			if _, err := s.Delete(ctx, key, kv.Revision); !errors.Is(err, datastore.ErrConflict) {
				t.Fatalf("delete at a revision the Pod has left: %v, want ErrConflict", err)
			}
			continue
		}
		if _, err := s.Delete(ctx, key, kv.Revision); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, datastore.ErrNotFound) {
			t.Fatalf("endpoint after delete: %v", err)
		}
	}
}

// podWithLabel reads the pod and returns it with one more label (a
// replace, which changes its resourceVersion).
func podWithLabel(t *testing.T, pod string) map[string]any {
	t.Helper()
	var p map[string]any
	admin(t, http.MethodGet, "/api/v1/namespaces/pf-ns/pods/"+pod, nil, &p)
	md := p["metadata"].(map[string]any)
	md["labels"] = map[string]any{"changed": "yes"}
	return p
}
