package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/bgp"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane"
	"github.com/tortienet/tortie/internal/ipam"
)

// deltaRecorder is the harness's dataplane, recording whether each write
// was an Apply or a TryDelta, and the deltas.
type deltaRecorder struct {
	*fakeDataplane
	mu     sync.Mutex
	writes []string // "apply", or the delta's routes
}

func (r *deltaRecorder) Apply(ctx context.Context, d calc.Desired) (dataplane.Stats, error) {
	r.mu.Lock()
	r.writes = append(r.writes, "apply")
	r.mu.Unlock()
	return r.fakeDataplane.Apply(ctx, d)
}

func (r *deltaRecorder) TryDelta(ctx context.Context, d calc.Desired, delta calc.Delta) (dataplane.Stats, bool, error) {
	r.mu.Lock()
	r.writes = append(r.writes, fmt.Sprintf("+%v -%v", delta.AddedRoutes, delta.RemovedRoutes))
	r.mu.Unlock()
	st, err := r.fakeDataplane.Apply(ctx, d)
	return st, true, err
}

// take is the writes since the last take, but those of nothing (the
// health or the problems changed alone).
func (r *deltaRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := slices.DeleteFunc(r.writes, func(s string) bool { return s == "+[] -[]" })
	r.writes = nil
	return w
}

// TestAgentBGPBlockAsDelta: with BGP, a block of a direct peer reaches
// the kernel as a one-route delta (from the datastore, the fast path); the
// peer's announcement of the same block writes nothing; a route learned
// alone, and a block's removal, are one-route deltas too.
func TestAgentBGPBlockAsDelta(t *testing.T) {
	h := newHarness(t, map[string]string{"CALICO_IPV4POOL_IPIP": "Never"})
	nodeB := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: "node-b"}}
	nodeB.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: "172.31.1.11/24"}
	if _, err := h.c.Create(h.ctx, nodeB); err != nil {
		t.Fatal(err)
	}
	rec := &deltaRecorder{fakeDataplane: h.dp}
	fake := bgp.NewFake()
	a := New(h.cfg, Kernel{
		Detect: func(string, string) (Address, error) {
			return Address{Prefix: netip.MustParsePrefix("172.31.1.20/24"), Interface: "eth0", Reasoning: "test"}, nil
		},
		Dataplane: rec, IPIPSupported: func() bool { return false }, HostMTU: func(string) int { return 1500 },
		StartSpeaker: func(context.Context, bgp.Global, *slog.Logger) (bgp.Speaker, error) { return fake, nil },
	}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	b := netip.MustParseAddr("172.31.1.11")
	waitSpeaker(t, fake, "the mesh peer", func() bool { return len(fake.Peers()) == 1 })
	fake.SetState(b, bgp.PeerStatus{State: bgp.StateEstablished, EndOfRIB: true, Since: time.Now()})
	waitSpeaker(t, fake, "ready", func() bool { return a.health.report().Ready })
	time.Sleep(100 * time.Millisecond) // let the syncs of the start settle
	rec.take()

	block := netip.MustParsePrefix("10.244.9.0/26")
	value := `{"cidr":"10.244.9.0/26","affinity":"host:node-b","allocations":[],"unallocated":[],"attributes":[],"deleted":false}`
	if _, err := h.c.Store().Create(h.ctx, ipam.BlockKey(block), []byte(value)); err != nil {
		t.Fatal(err)
	}
	via := hasRoute("10.244.9.0/26", "10.244.9.0/26 via 172.31.1.11 dev eth0")
	h.dp.waitFor(t, "b's block from the datastore", via)
	fake.Learn(bgp.Learned{Prefix: block, NextHop: b, Peer: b}) // b announces it: nothing to write
	other := netip.MustParsePrefix("10.244.20.0/26")
	time.Sleep(100 * time.Millisecond)
	fake.Learn(bgp.Learned{Prefix: other, NextHop: b, Peer: b})
	h.dp.waitFor(t, "a route learned alone", hasRoute("10.244.20.0/26", "10.244.20.0/26 via 172.31.1.11 dev eth0"))
	want := []string{"+[10.244.9.0/26 via 172.31.1.11 dev eth0] -[]", "+[10.244.20.0/26 via 172.31.1.11 dev eth0] -[]"}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Fatalf("writes %q, want %q", got, want)
	}

	if _, err := h.c.Store().Delete(h.ctx, ipam.BlockKey(block), 0); err != nil {
		t.Fatal(err)
	}
	h.dp.waitFor(t, "b's block removed", func(d calc.Desired) bool { return !via(d) })
	fake.Forget(block)
	time.Sleep(100 * time.Millisecond)
	want = []string{"+[] -[10.244.9.0/26 via 172.31.1.11 dev eth0]"}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Fatalf("writes %q, want %q", got, want)
	}
}

func TestDiffInstalled(t *testing.T) {
	r := func(dst, gw string) calc.Route {
		return calc.Route{Dst: netip.MustParsePrefix(dst), Dev: "eth0", Gw: netip.MustParseAddr(gw)}
	}
	a, b, b2, c := r("10.0.1.0/26", "10.1.0.1"), r("10.0.2.0/26", "10.1.0.2"), r("10.0.2.0/26", "10.1.0.3"), r("10.0.3.0/26", "10.1.0.3")
	for _, tc := range []struct {
		name           string
		was, now       []calc.Route
		added, removed []calc.Route
	}{
		{"same", []calc.Route{a, b}, []calc.Route{a, b}, nil, nil},
		{"added", []calc.Route{a}, []calc.Route{a, c}, []calc.Route{c}, nil},
		{"removed", []calc.Route{a, c}, []calc.Route{a}, nil, []calc.Route{c}},
		{"next hop changed", []calc.Route{a, b}, []calc.Route{a, b2}, []calc.Route{b2}, []calc.Route{b}},
		{"from nothing", nil, []calc.Route{a}, []calc.Route{a}, nil},
	} {
		added, removed := diffInstalled(tc.was, tc.now)
		if !slices.Equal(added, tc.added) || !slices.Equal(removed, tc.removed) {
			t.Errorf("%s: +%v -%v, want +%v -%v", tc.name, added, removed, tc.added, tc.removed)
		}
	}
}
