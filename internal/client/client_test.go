package client

import (
	"context"
	"errors"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

func pool(name, cidr string) *v3.IPPool {
	p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: name}}
	p.Spec.CIDR = cidr
	return p
}

func kind(t *testing.T, k string) v3.KindInfo {
	t.Helper()
	ki, ok := v3.LookupKind(k)
	if !ok {
		t.Fatalf("no kind %s", k)
	}
	return ki
}

func TestCreateDefaultsAndBootstraps(t *testing.T) {
	ctx := context.Background()
	c := New(datastore.NewMemory())
	r, err := c.Create(ctx, pool("p1", "10.1.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	p := r.(*v3.IPPool)
	if p.Spec.BlockSize != 26 || p.Spec.NodeSelector != "all()" || p.UID == "" || p.CreationTimestamp == "" || p.ResourceVersion == "" {
		t.Errorf("created pool not defaulted or stamped: %+v", p)
	}
	ci, err := c.Get(ctx, kind(t, "ClusterInformation"), "", "default")
	if err != nil {
		t.Fatalf("ClusterInformation not created on first write: %v", err)
	}
	if g := ci.(*v3.ClusterInformation).Spec.ClusterGUID; len(g) != 32 {
		t.Errorf("clusterGUID = %q, want 32 hex characters", g)
	}
	tiers, _, err := c.List(ctx, kind(t, "Tier"), "")
	if err != nil || len(tiers) != 3 {
		t.Fatalf("tiers = %d (%v), want default, kube-admin, kube-baseline", len(tiers), err)
	}
	kv, err := c.Store().Get(ctx, Key(p))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(kv.Value); strings.Contains(got, "resourceVersion") {
		t.Errorf("stored value carries resourceVersion: %s", got)
	}
}

func TestUpdateIsCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	c := New(datastore.NewMemory())
	r, err := c.Create(ctx, pool("p1", "10.1.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	stale := r.GetObjectMeta().ResourceVersion
	a := pool("p1", "10.1.0.0/16")
	a.ResourceVersion = stale
	a.Spec.NATOutgoing = true
	if _, err := c.Update(ctx, a); err != nil {
		t.Fatalf("update at the current revision: %v", err)
	}
	b := pool("p1", "10.1.0.0/16")
	b.ResourceVersion = stale
	if _, err := c.Update(ctx, b); !errors.Is(err, datastore.ErrConflict) {
		t.Fatalf("update at a stale revision: err = %v, want ErrConflict", err)
	}
	got, _ := c.Get(ctx, kind(t, "IPPool"), "", "p1")
	if !got.(*v3.IPPool).Spec.NATOutgoing {
		t.Error("the stale update overwrote the fresh one")
	}
	if got.GetObjectMeta().UID != r.GetObjectMeta().UID {
		t.Error("update changed the uid")
	}
}

func TestWritesAreValidated(t *testing.T) {
	ctx := context.Background()
	c := New(datastore.NewMemory())
	if _, err := c.Create(ctx, pool("p1", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*v3.IPPool{pool("p2", "10.1.128.0/17"), pool("p3", "10.2.0.1/16")} {
		if _, err := c.Apply(ctx, p); err == nil {
			t.Errorf("apply %s %s: no error", p.Name, p.Spec.CIDR)
		}
		if _, err := c.Get(ctx, kind(t, "IPPool"), "", p.Name); !errors.Is(err, datastore.ErrNotFound) {
			t.Errorf("refused pool %s was written (get: %v)", p.Name, err)
		}
	}
	changed := pool("p1", "10.9.0.0/16")
	if _, err := c.Apply(ctx, changed); err == nil {
		t.Error("changing an immutable cidr was accepted")
	}
}

// A policy in a tier that does not exist is refused, naming the field
// and the value; the fixed tiers always exist.
func TestPolicyTierMustExist(t *testing.T) {
	ctx := context.Background()
	c := New(datastore.NewMemory())
	gnp := &v3.GlobalNetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: "security.p"}, Spec: v3.GlobalNetworkPolicySpec{Tier: "security", Selector: "all()"}}
	if _, err := c.Create(ctx, gnp); err == nil || !strings.Contains(err.Error(), `spec.tier = "security": no such Tier`) {
		t.Fatalf("policy in a missing tier: %v", err)
	}
	order := 10.0
	if _, err := c.Create(ctx, &v3.Tier{ObjectMeta: v3.ObjectMeta{Name: "security"}, Spec: v3.TierSpec{Order: &order}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, gnp); err != nil {
		t.Errorf("policy once its tier exists: %v", err)
	}
	np := &v3.NetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: v3.NetworkPolicySpec{Selector: "all()"}}
	if _, err := c.Create(ctx, np); err != nil {
		t.Errorf("policy in the default tier: %v", err)
	}
}

func TestSynthesizedDefaultAllowProfile(t *testing.T) {
	ctx := context.Background()
	c := New(datastore.NewMemory())
	if _, err := c.Get(ctx, kind(t, "Profile"), "", DefaultAllowProfile); err != nil {
		t.Fatalf("get %s: %v", DefaultAllowProfile, err)
	}
	ps, _, err := c.List(ctx, kind(t, "Profile"), "")
	if err != nil || len(ps) != 1 {
		t.Fatalf("profiles = %v (%v), want only the synthesized one", ps, err)
	}
	kvs, _, _ := c.Store().List(ctx, datastore.Root)
	if len(kvs) != 0 {
		t.Errorf("reading wrote %d keys", len(kvs))
	}
}

func TestNamespacedDefaultsToDefault(t *testing.T) {
	ctx := context.Background()
	c := New(datastore.NewMemory())
	ns := &v3.NetworkSet{ObjectMeta: v3.ObjectMeta{Name: "set1"}}
	ns.Spec.Nets = []string{"192.0.2.0/24"}
	if _, err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store().Get(ctx, datastore.ResourceKey("networksets", "default", "set1")); err != nil {
		t.Errorf("namespaced resource not stored under namespace default: %v", err)
	}
}

// countingStore counts reads.
type countingStore struct {
	datastore.Store
	gets int
}

func (s *countingStore) Get(ctx context.Context, key string) (datastore.KV, error) {
	s.gets++
	return s.Store.Get(ctx, key)
}

// A later process's first write finds ClusterInformation and reads
// nothing else; one that finds it missing fills in what is missing and
// keeps what exists.
func TestBootstrapOneReadWhenInitialised(t *testing.T) {
	ctx := context.Background()
	mem := datastore.NewMemory()
	if _, err := New(mem).Create(ctx, pool("p1", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: mem}
	if _, err := New(cs).Create(ctx, pool("p2", "10.2.0.0/16")); err != nil {
		t.Fatal(err)
	}
	if cs.gets != 1 {
		t.Errorf("first write of an initialised cluster read %d keys, want 1 (ClusterInformation)", cs.gets)
	}

	// A tier deleted and ClusterInformation gone: both come back, the
	// other tiers are kept as they are.
	c := New(mem)
	before, err := c.Get(ctx, kind(t, "Tier"), "", "default")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ kind, name string }{{"Tier", "kube-admin"}, {"ClusterInformation", "default"}} {
		if _, err := c.Delete(ctx, kind(t, k.kind), "", k.name, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(mem).Create(ctx, pool("p3", "10.3.0.0/16")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ kind, name string }{{"Tier", "kube-admin"}, {"ClusterInformation", "default"}} {
		if _, err := c.Get(ctx, kind(t, k.kind), "", k.name); err != nil {
			t.Errorf("%s %s not recreated: %v", k.kind, k.name, err)
		}
	}
	after, _ := c.Get(ctx, kind(t, "Tier"), "", "default")
	if after.GetObjectMeta().ResourceVersion != before.GetObjectMeta().ResourceVersion {
		t.Error("an existing tier was rewritten")
	}
}
