package node

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/bgp"
	"github.com/tortienet/tortie/internal/bgp/bgpstatus"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/ipam"
)

// startBGP runs an agent whose speaker is fake.
func (h *harness) startBGP(addr string, fake *bgp.Fake) *Agent {
	k := Kernel{
		Detect: func(string, string) (Address, error) {
			return Address{Prefix: netip.MustParsePrefix(addr), Interface: "eth0", Reasoning: "test"}, nil
		},
		Dataplane:     h.dp,
		IPIPSupported: func() bool { return false },
		HostMTU:       func(string) int { return 1500 },
		StartSpeaker: func(_ context.Context, g bgp.Global, _ *slog.Logger) (bgp.Speaker, error) {
			h.global.Store(g)
			return fake, nil
		},
	}
	if h.addr6 != "" {
		k.Detect6 = func(string, string) (Address, error) {
			return Address{Prefix: netip.MustParsePrefix(h.addr6), Interface: "eth0", Reasoning: "test"}, nil
		}
	}
	ctx, cancel := context.WithCancel(h.ctx)
	a := New(h.cfg, k, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-done })
	return a
}

func waitSpeaker(t *testing.T, f *bgp.Fake, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the speaker to get %s; peers %+v, ops %v", what, f.Peers(), f.Ops)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasRoute(dst, text string) func(calc.Desired) bool {
	return func(d calc.Desired) bool {
		return slices.ContainsFunc(d.Routes, func(r calc.Route) bool { return r.Dst.String() == dst && r.String() == text })
	}
}

func TestAgentBGP(t *testing.T) {
	h := newHarness(t, map[string]string{"CALICO_IPV4POOL_IPIP": "Never"})
	nodeB := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: "node-b"}}
	nodeB.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: "172.31.1.11/24"}
	if _, err := h.c.Create(h.ctx, nodeB); err != nil {
		t.Fatal(err)
	}
	fake := bgp.NewFake()
	a := h.startBGP("172.31.1.20/24", fake)
	b := netip.MustParseAddr("172.31.1.11")
	waitSpeaker(t, fake, "the mesh peer", func() bool {
		ps := fake.Peers()
		return len(ps) == 1 && ps[0].Name == "Mesh_172_31_1_11" && ps[0].ASN == 64512 && !ps[0].Passive
	})

	// Not ready while the active session is down; the peer is named.
	h.dp.waitFor(t, "a sync", func(calc.Desired) bool { return true })
	waitSpeaker(t, fake, "not-ready", func() bool {
		r := a.health.report()
		return !r.Ready && slices.ContainsFunc(r.Problems, func(p string) bool { return strings.Contains(p, "Mesh_172_31_1_11") })
	})

	// The session comes up with End-of-RIB, b's block is learned: it is
	// installed via b on the underlay, and the node is ready.
	fake.Learn(bgp.Learned{Prefix: netip.MustParsePrefix("10.244.9.0/26"), NextHop: b, Peer: b})
	fake.SetState(b, bgp.PeerStatus{State: bgp.StateEstablished, EndOfRIB: true, Since: time.Now()})
	h.dp.waitFor(t, "b's block from BGP", hasRoute("10.244.9.0/26", "10.244.9.0/26 via 172.31.1.11 dev eth0"))
	waitSpeaker(t, fake, "ready", func() bool { return a.health.report().Ready })

	// Withdrawn by the peer: gone.
	h.dp.mu.Lock()
	before := len(h.dp.applied)
	h.dp.mu.Unlock()
	fake.Forget(netip.MustParsePrefix("10.244.9.0/26"))
	h.dp.waitFor(t, "b's block withdrawn", func(d calc.Desired) bool {
		// waitFor calls this holding h.dp.mu: applied is safe to read.
		return len(h.dp.applied) > before &&
			!hasRoute("10.244.9.0/26", "10.244.9.0/26 via 172.31.1.11 dev eth0")(h.dp.applied[len(h.dp.applied)-1])
	})

	// A global BGPPeer adds one session and touches no other.
	fake.Ops = nil
	p := &v3.BGPPeer{ObjectMeta: v3.ObjectMeta{Name: "tor"}, Spec: v3.BGPPeerSpec{PeerIP: "172.31.1.254", ASNumber: 65000}}
	if _, err := h.c.Create(h.ctx, p); err != nil {
		t.Fatal(err)
	}
	waitSpeaker(t, fake, "the ToR", func() bool { return len(fake.Peers()) == 2 })
	if got := strings.Join(fake.Ops, ","); got != "add Global_172_31_1_254" {
		t.Errorf("speaker operations %q, want only the ToR added", got)
	}

	// node status reads the same over the status socket.
	st := readStatus(t, filepath.Join(h.cfg.StateDir, conventions.StatusSocket))
	if !st.Running || len(st.Peers) != 2 || st.Peers[0].State != bgp.StateEstablished || st.Peers[1].Type() != "global" {
		t.Errorf("status = %+v", st)
	}
}

func readStatus(t *testing.T, sock string) bgpstatus.Status {
	t.Helper()
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Get("http://agent" + bgpstatus.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st bgpstatus.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A BGPPeer's filters and next-hop mode reach the speaker's session; an
// edit of the BGPFilter alone changes the session's rules in place.
func TestAgentBGPFilters(t *testing.T) {
	h := newHarness(t, map[string]string{"CALICO_IPV4POOL_IPIP": "Never"})
	filter := &v3.BGPFilter{ObjectMeta: v3.ObjectMeta{Name: "no-default"}, Spec: v3.BGPFilterSpec{
		ImportV4: []v3.BGPFilterRule{{Action: "Reject", CIDR: "0.0.0.0/0", MatchOperator: "Equal"}}}}
	peer := &v3.BGPPeer{ObjectMeta: v3.ObjectMeta{Name: "tor"}, Spec: v3.BGPPeerSpec{PeerIP: "172.31.1.1",
		ASNumber: 65000, Filters: []string{"no-default"}, KeepOriginalNextHop: true}}
	for _, o := range []v3.Resource{filter, peer} {
		if _, err := h.c.Create(h.ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	fake := bgp.NewFake()
	h.startBGP("172.31.1.20/24", fake)
	zero := bgp.PrefixRange{Prefix: netip.MustParsePrefix("0.0.0.0/0")}
	waitSpeaker(t, fake, "the ToR session with its filter and next hop keep", func() bool {
		ps := fake.Peers()
		return len(ps) == 1 && ps[0].NextHopKeep && len(ps[0].Import) == 1 &&
			!ps[0].Import[0].Accept && slices.Equal(ps[0].Import[0].Prefixes, []bgp.PrefixRange{zero})
	})
	filter.Spec.ImportV4[0].Action = "Accept"
	if _, err := h.c.Update(h.ctx, filter); err != nil {
		t.Fatal(err)
	}
	waitSpeaker(t, fake, "the filter's new action", func() bool {
		ps := fake.Peers()
		return len(ps) == 1 && len(ps[0].Import) == 1 && ps[0].Import[0].Accept
	})
	if slices.ContainsFunc(fake.Ops, func(op string) bool { return strings.HasPrefix(op, "delete ") }) {
		t.Errorf("the session was replaced for a filter change: %v", fake.Ops)
	}
}

// Once the speaker has learned everything after its start, a peer that
// goes away later takes its block with it: the datastore does not stand in
// again (a silent failure is routed around after the hold time, not at the
// next resync).
func TestAgentBGPPeerLostAfterSync(t *testing.T) {
	h := newHarness(t, map[string]string{"CALICO_IPV4POOL_IPIP": "Never"})
	nodeB := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: "node-b"}}
	nodeB.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: "172.31.1.11/24"}
	if _, err := h.c.Create(h.ctx, nodeB); err != nil {
		t.Fatal(err)
	}
	block := netip.MustParsePrefix("10.244.9.0/26")
	value := `{"cidr":"10.244.9.0/26","affinity":"host:node-b","allocations":[],"unallocated":[],"attributes":[],"deleted":false}`
	if _, err := h.c.Store().Create(h.ctx, ipam.BlockKey(block), []byte(value)); err != nil {
		t.Fatal(err)
	}
	fake := bgp.NewFake()
	a := h.startBGP("172.31.1.20/24", fake)
	b := netip.MustParseAddr("172.31.1.11")
	waitSpeaker(t, fake, "the mesh peer", func() bool { return len(fake.Peers()) == 1 })
	via := hasRoute("10.244.9.0/26", "10.244.9.0/26 via 172.31.1.11 dev eth0")
	h.dp.waitFor(t, "b's block from the datastore while the speaker starts", via)

	fake.Learn(bgp.Learned{Prefix: block, NextHop: b, Peer: b})
	fake.SetState(b, bgp.PeerStatus{State: bgp.StateEstablished, EndOfRIB: true, Since: time.Now()})
	waitSpeaker(t, fake, "ready: a sync saw the session up with End-of-RIB", func() bool { return a.health.report().Ready })
	h.dp.waitFor(t, "b's block with the session up", via)

	fake.Forget(block)
	fake.SetState(b, bgp.PeerStatus{State: bgp.StateActive, Info: "Hold timer expired", Since: time.Now()})
	h.dp.waitFor(t, "b's block gone with its session", func(d calc.Desired) bool { return !via(d) })
}

// A dual-stack node (IP6 set): the speaker holds IPv6 too, an IPv6 mesh
// session beside the IPv4 one, the node's IPv6 block announced with its
// IPv6 next hop, a learned IPv6 block installed via the peer's IPv6
// address on the underlay, and readiness waits for the IPv6 session too.
func TestAgentBGPIPv6(t *testing.T) {
	h := newHarness(t, map[string]string{"CALICO_IPV4POOL_IPIP": "Never", "IP6": "autodetect"})
	h.addr6 = "fd00:ff::20/64"
	nodeB := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: "node-b"}}
	nodeB.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: "172.31.1.11/24", IPv6Address: "fd00:ff::11/64"}
	pool6 := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "v6"}, Spec: v3.IPPoolSpec{CIDR: "fd00:1::/48"}}
	for _, o := range []v3.Resource{nodeB, pool6} {
		if _, err := h.c.Create(h.ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	fake := bgp.NewFake()
	a := h.startBGP("172.31.1.20/24", fake)
	b4, b6 := netip.MustParseAddr("172.31.1.11"), netip.MustParseAddr("fd00:ff::11")
	waitSpeaker(t, fake, "both mesh sessions", func() bool {
		ps := fake.Peers()
		return len(ps) == 2 && ps[0].Address == b4 && ps[1].Address == b6 && ps[1].Name == "Mesh_fd00_ff__11" &&
			ps[1].SourceAddress == netip.MustParseAddr("fd00:ff::20") && !ps[1].Passive
	})
	if g, _ := h.global.Load().(bgp.Global); !g.IPv6 {
		t.Errorf("speaker global %+v: want IPv6", g)
	}
	// This node takes an IPv6 address, so a block: announced with its IPv6
	// next hop.
	_, v6, err := a.ipam.AutoAssign(h.ctx, ipam.AutoAssignArgs{Num6: 1, HandleID: "test", Hostname: "node-a"})
	if err != nil || len(v6) != 1 {
		t.Fatalf("assign an IPv6 address: %v %v", v6, err)
	}
	blk := v6[0].Masked()
	waitSpeaker(t, fake, "the IPv6 block "+blk.String()+" announced", func() bool {
		return slices.ContainsFunc(fake.Routes(), func(r bgp.Route) bool {
			return r.Prefix == blk && r.NextHop == netip.MustParseAddr("fd00:ff::20")
		})
	})
	fake.SetState(b4, bgp.PeerStatus{State: bgp.StateEstablished, EndOfRIB: true, Since: time.Now()})
	waitSpeaker(t, fake, "not ready for the IPv6 session", func() bool {
		r := a.health.report()
		return !r.Ready && slices.ContainsFunc(r.Problems, func(p string) bool { return strings.Contains(p, "Mesh_fd00_ff__11") })
	})
	fake.Learn(bgp.Learned{Prefix: netip.MustParsePrefix("fd00:1::40/122"), NextHop: b6, Peer: b6})
	fake.SetState(b6, bgp.PeerStatus{State: bgp.StateEstablished, EndOfRIB: true, Since: time.Now()})
	h.dp.waitFor(t, "b's IPv6 block from BGP", hasRoute("fd00:1::40/122", "fd00:1::40/122 via fd00:ff::11 dev eth0"))
	waitSpeaker(t, fake, "ready", func() bool { return a.health.report().Ready })
}
