package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// TestSyncMode is the agent's choice of what a sync writes.
func TestSyncMode(t *testing.T) {
	one := pending{deltas: 1}
	for _, c := range []struct {
		name                     string
		s                        syncState
		resync, rebuild, speaker bool
		want                     applyMode
	}{
		{"first sync", syncState{}, false, false, false, applyFull},
		{"resync", syncState{clean: true}, true, false, false, applyResync},
		{"resync after a failure", syncState{pend: one}, true, false, false, applyResync},
		{"nothing changed", syncState{clean: true}, false, false, false, applyNothing},
		{"a tunnel or BGP change alone, no speaker", syncState{clean: true, pend: pending{tunnel: true, bgp: true}}, false, false, false, applyNothing},
		{"one delta", syncState{clean: true, pend: one}, false, false, false, applyDelta},
		{"one delta and the policy", syncState{clean: true, pend: one}, false, true, false, applyDelta},
		{"the policy alone", syncState{clean: true}, false, true, false, applyDelta},
		{"two deltas", syncState{clean: true, pend: pending{deltas: 2}}, false, false, false, applyFull},
		{"after a sync not clean", syncState{pend: one}, false, false, false, applyFull},
		{"nothing changed, not clean", syncState{}, false, false, false, applyFull},
		{"one delta with a speaker", syncState{clean: true, pend: one}, false, false, true, applyDelta},
		{"BGP with a speaker", syncState{clean: true, pend: pending{bgp: true}}, false, false, true, applyFull},
		{"nothing with a speaker", syncState{clean: true}, false, false, true, applyNothing},
	} {
		if got := c.s.mode(c.resync, c.rebuild, c.speaker); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// deltaDataplane records each write: "delta" (taken), "refused" (a delta
// it did not take), "apply" or "resync", and the routes it was given.
type deltaDataplane struct {
	fakeDataplane
	refuse bool
	calls  []string
	routes [][]calc.Route
}

func (f *deltaDataplane) record(call string, d calc.Desired) {
	f.calls = append(f.calls, call)
	f.routes = append(f.routes, d.Routes)
}

func (f *deltaDataplane) Apply(ctx context.Context, d calc.Desired) (dataplane.Stats, error) {
	f.record("apply", d)
	return f.fakeDataplane.Apply(ctx, d)
}

func (f *deltaDataplane) Resync(ctx context.Context, d calc.Desired) (dataplane.Stats, error) {
	f.record("resync", d)
	return f.fakeDataplane.Apply(ctx, d)
}

func (f *deltaDataplane) TryDelta(_ context.Context, d calc.Desired, _ calc.Delta) (dataplane.Stats, bool, error) {
	if f.refuse {
		f.record("refused", d)
		return dataplane.Stats{}, false, nil
	}
	f.record("delta", d)
	return dataplane.Stats{}, true, nil
}

// deltaCluster is a pool and three remote nodes (node-1 … node-3), the
// blocks of the first two.
func deltaCluster(t *testing.T) []datastore.KV {
	t.Helper()
	kv := func(key string, v any) datastore.KV {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return datastore.KV{Key: key, Value: j}
	}
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "p"}, Spec: v3.IPPoolSpec{CIDR: "10.64.0.0/10", VXLANMode: v3.EncapAlways}}
	out := []datastore.KV{kv(datastore.ResourceKey("ippools", "", "p"), pool)}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("node-%d", i)
		n := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: name}, Spec: v3.NodeSpec{
			BGP:                 &v3.NodeBGPSpec{IPv4Address: fmt.Sprintf("172.16.0.%d/24", i)},
			IPv4VXLANTunnelAddr: benchBlock(i).Addr().String(), VXLANTunnelMACAddr: fmt.Sprintf("66:00:00:00:00:0%d", i)}}
		out = append(out, kv(datastore.ResourceKey("nodes", "", name), n))
		if i < 3 {
			out = append(out, kv(ipam.BlockKey(benchBlock(i)), map[string]any{"cidr": benchBlock(i).String(), "affinity": "host:" + name}))
		}
	}
	return out
}

// TestSyncAppliesDeltaWithoutLists: after a full first sync, a remote block
// reaches the dataplane as a delta, without the lists being built; a delta
// the dataplane refuses is an Apply with the lists as of the take, and
// after it the next change is a delta again.
func TestSyncAppliesDeltaWithoutLists(t *testing.T) {
	f := &deltaDataplane{}
	a := New(Config{NodeName: "node-0", Backend: "vxlan", StateDir: t.TempDir()}, Kernel{Dataplane: f}, slog.New(slog.DiscardHandler))
	a.view.OnSync(deltaCluster(t), 1)
	ctx := context.Background()
	sync := func() {
		t.Helper()
		if err := a.syncOnce(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
	block := func(i int, rev int64) {
		v, _ := json.Marshal(map[string]any{"cidr": benchBlock(i).String(), "affinity": "host:node-3"})
		a.view.OnEvent(datastore.Event{Type: datastore.EventPut, KV: datastore.KV{Key: ipam.BlockKey(benchBlock(i)), Value: v, Revision: rev}})
	}
	sync()
	block(3, 2)
	sync()
	sync() // nothing changed: nothing written
	f.refuse = true
	block(4, 3)
	sync()
	f.refuse = false
	block(5, 4)
	sync()
	want := []string{"apply", "delta", "refused", "apply", "delta"}
	if fmt.Sprint(f.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
	routes := func(i int) []calc.Route { return f.routes[i] }
	if len(routes(0)) != 2 || routes(1) != nil || routes(2) != nil || len(routes(3)) != 4 || routes(4) != nil {
		t.Fatalf("routes given: %v", f.routes)
	}
	if got := a.view.eng.Desired().Routes; len(got) != 5 {
		t.Fatalf("the Engine's routes after the last delta: %v", got)
	}
}

// TestFullSyncIsResync: a periodic resync re-reads the kernel, with the
// lists.
func TestFullSyncIsResync(t *testing.T) {
	f := &deltaDataplane{}
	a := New(Config{NodeName: "node-0", Backend: "vxlan", StateDir: t.TempDir()}, Kernel{Dataplane: f}, slog.New(slog.DiscardHandler))
	a.view.OnSync(deltaCluster(t), 1)
	for _, full := range []bool{false, true} {
		if err := a.syncOnce(context.Background(), full); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(f.calls) != "[apply resync]" || len(f.routes[1]) != 2 {
		t.Fatalf("calls %v, routes %v", f.calls, f.routes)
	}
}

// TestHostMTUReadOncePerAge: the host MTU (a netlink request) is read for
// the first sync, for a resync, and once it is older than hostMTUAge; the
// syncs between use it as read.
func TestHostMTUReadOncePerAge(t *testing.T) {
	reads := 0
	k := Kernel{Dataplane: &deltaDataplane{}, HostMTU: func(string) int { reads++; return 1400 + reads }}
	a := New(Config{NodeName: "node-0", StateDir: t.TempDir()}, k, slog.New(slog.DiscardHandler))
	for _, fresh := range []bool{false, false, false, true, false} {
		a.env(fresh)
	}
	if reads != 2 || a.env(false).HostMTU != 1402 {
		t.Fatalf("%d reads, MTU %d; want 2 reads, 1402", reads, a.env(false).HostMTU)
	}
	a.hostMTU.read = a.hostMTU.read.Add(-hostMTUAge - time.Second)
	if a.env(false).HostMTU != 1403 {
		t.Fatalf("an MTU older than %v was not read again", hostMTUAge)
	}
}
