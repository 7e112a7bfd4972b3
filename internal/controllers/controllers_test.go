package controllers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/datastore/kdd/kastest"
	"github.com/tortienet/tortie/internal/ipam"
)

var cluster *kastest.Cluster

func TestMain(m *testing.M) { os.Exit(kastest.Main(m, &cluster)) }

func open(t *testing.T) *kdd.Store {
	t.Helper()
	kastest.Need(t, cluster)
	s, err := cluster.Store("default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func admin(t *testing.T, method, path string, body any) {
	t.Helper()
	if err := cluster.Admin(t.Context(), method, path, body, nil); err != nil {
		t.Fatal(err)
	}
}

// TestPassReleases: against the real apiserver, a pass releases the
// addresses of a deleted pod and the affinities of a deleted node once
// they have been gone for the grace period, and nothing else.
func TestPassReleases(t *testing.T) {
	s, ctx := open(t), t.Context()
	m := ipam.New(client.New(s))
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "ctl-pool"}}
	pool.Spec.CIDR, pool.Spec.BlockSize = "10.60.0.0/24", 28
	if _, err := client.New(s).Apply(ctx, pool); err != nil {
		t.Fatal(err)
	}
	admin(t, http.MethodPost, "/api/v1/nodes", map[string]any{"metadata": map[string]any{"name": "ctl-node"}})
	admin(t, http.MethodPost, "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "ctl"}})
	admin(t, http.MethodPost, "/api/v1/namespaces/ctl/serviceaccounts", map[string]any{"metadata": map[string]any{"name": "default"}})
	admin(t, http.MethodPost, "/api/v1/namespaces/ctl/pods", map[string]any{"metadata": map[string]any{"name": "live"},
		"spec": map[string]any{"nodeName": "ctl-node", "containers": []any{map[string]any{"name": "c", "image": "busybox"}}}})
	alloc := func(handle, host, pod string) {
		t.Helper()
		attrs := map[string]string{ipam.AttrNode: host, ipam.AttrNamespace: "ctl", ipam.AttrPod: pod}
		if _, _, err := m.AutoAssign(ctx, ipam.AutoAssignArgs{Num4: 1, HandleID: handle, Hostname: host, Attrs: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	alloc("ctl-live", "ctl-node", "live")
	alloc("ctl-gone", "ctl-node", "gone")
	alloc("ctl-on-gone-node", "ctl-gone-node", "live")

	c, err := New(Config{Identity: "test", Grace: time.Hour}, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if a, err := c.Pass(ctx, t0); err != nil || len(a.Handles)+len(a.Hosts) != 0 {
		t.Fatalf("first pass released %+v (%v); want only suspects", a, err)
	}
	a, err := c.Pass(ctx, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Handles) != 1 || a.Handles[0] != "ctl-gone" || len(a.Hosts) != 1 || a.Hosts[0] != "ctl-gone-node" {
		t.Fatalf("second pass: %+v; want handle ctl-gone and host ctl-gone-node", a)
	}
	for h, want := range map[string]int{"ctl-live": 1, "ctl-gone": 0, "ctl-on-gone-node": 1} {
		ips, err := m.IPsByHandle(ctx, h)
		if want == 0 && errors.Is(err, datastore.ErrNotFound) {
			continue // the handle is gone with its addresses
		}
		if err != nil || len(ips) != want {
			t.Errorf("handle %s holds %v (%v), want %d addresses", h, ips, err, want)
		}
	}
	affs, err := m.ListAffinities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, af := range affs {
		if af.Host == "ctl-gone-node" {
			t.Errorf("affinity %v of the deleted node is left", af)
		}
	}
}

// TestLease: one holder at a time; another takes over only once the
// holder has not renewed for the lease's duration.
func TestLease(t *testing.T) {
	s, ctx := open(t), t.Context()
	a := s.Lease("default", "ctl-lease", "a", 30*time.Second)
	b := s.Lease("default", "ctl-lease", "b", 30*time.Second)
	now := time.Now()
	for _, step := range []struct {
		l    *kdd.Lease
		at   time.Time
		want bool
	}{
		{a, now, true}, {b, now, false}, {a, now.Add(20 * time.Second), true},
		{b, now.Add(45 * time.Second), false}, // a renewed at +20s: not expired yet
		{b, now.Add(51 * time.Second), true}, {a, now.Add(52 * time.Second), false},
	} {
		got, err := step.l.TryAcquire(ctx, step.at)
		if err != nil || got != step.want {
			t.Fatalf("TryAcquire at +%v: %v (%v), want %v", step.at.Sub(now), got, err, step.want)
		}
	}
	if h, err := a.Holder(context.Background()); err != nil || h != "b" {
		t.Fatalf("holder %q (%v), want b", h, err)
	}
}
