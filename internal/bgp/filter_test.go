package bgp

import (
	"context"
	"net/netip"
	"testing"
)

func pr(s string, min, max int) PrefixRange {
	return PrefixRange{Prefix: netip.MustParsePrefix(s), Min: min, Max: max}
}

// Filters per session: a's export filter keeps one block from b and not
// from c; b's import filter keeps another of a's blocks out of b. Changing
// the filters applies them to what was already exchanged, without
// resetting the sessions.
func TestGoBGPFilters(t *testing.T) {
	a, b, c := startNode(t, 51, 64512), startNode(t, 52, 64512), startNode(t, 53, 64512)
	announce(t, a, "10.244.1.0/26", "10.244.1.64/26", "10.244.1.128/26")
	set := func(n *node, ps ...Peer) {
		t.Helper()
		if err := n.sp.SetPeers(context.Background(), ps); err != nil {
			t.Fatal(err)
		}
	}
	ab := a.peerOf(b)
	ab.Export = []FilterRule{{Prefixes: []PrefixRange{pr("10.244.1.0/26", 26, 26)}}}
	ba := b.peerOf(a)
	ba.Import = []FilterRule{
		{Prefixes: []PrefixRange{pr("10.244.1.64/26", 26, 26)}, Accept: false},
		{Prefixes: []PrefixRange{pr("10.244.0.0/16", 16, 32)}, Accept: true},
	}
	set(a, ab, a.peerOf(c))
	set(b, ba)
	set(c, c.peerOf(a))
	waitFor(t, b.sp, "a's third block at b", hasRoute(b.sp, "10.244.1.128/26", a.addr))
	waitFor(t, c.sp, "a's blocks at c", func() bool {
		return hasRoute(c.sp, "10.244.1.0/26", a.addr)() && hasRoute(c.sp, "10.244.1.64/26", a.addr)()
	})
	if !lacks(b.sp, "10.244.1.0/26")() {
		t.Errorf("a's export filter let 10.244.1.0/26 reach b: %v", b.sp.Learned())
	}
	if !lacks(b.sp, "10.244.1.64/26")() {
		t.Errorf("b's import filter let 10.244.1.64/26 in: %v", b.sp.Learned())
	}
	since := b.sp.Status()[0].Since

	// Inverted match: reject everything but the first block.
	ab.Export = []FilterRule{{Prefixes: []PrefixRange{pr("10.244.1.0/26", 26, 26)}, Invert: true}}
	ba.Import = nil
	set(a, ab, a.peerOf(c))
	set(b, ba)
	waitFor(t, b.sp, "the first block at b, the others gone", func() bool {
		return hasRoute(b.sp, "10.244.1.0/26", a.addr)() && lacks(b.sp, "10.244.1.64/26")() &&
			lacks(b.sp, "10.244.1.128/26")()
	})
	if st := b.sp.Status()[0]; st.State != StateEstablished || !st.Since.Equal(since) {
		t.Errorf("b's session after the filter change: %+v, want Established since %v", st, since)
	}

	// A remote-source rule does not touch what a originates.
	ab.Export = []FilterRule{{Source: SourceRemote}}
	set(a, ab, a.peerOf(c))
	waitFor(t, b.sp, "all of a's blocks at b", func() bool {
		return hasRoute(b.sp, "10.244.1.64/26", a.addr)() && hasRoute(b.sp, "10.244.1.128/26", a.addr)()
	})
}

// A route reflector passes its client's block to an eBGP peer with itself
// as the next hop; with NextHopKeep on that session, with the client's
// address it came with. The change resets no session.
func TestGoBGPNextHopKeep(t *testing.T) {
	a := startNode(t, 61, 65001)
	b, c := startNode(t, 62, 64512), startNode(t, 63, 64512)
	announce(t, c, "10.244.3.0/26")
	set := func(n *node, ps ...Peer) {
		t.Helper()
		if err := n.sp.SetPeers(context.Background(), ps); err != nil {
			t.Fatal(err)
		}
	}
	client := b.peerOf(c)
	client.RRClient, client.RRClusterID = true, "1.0.0.1"
	ba := b.peerOf(a)
	ba.Multihop = true
	set(a, a.peerOf(b))
	set(b, ba, client)
	set(c, c.peerOf(b))
	waitFor(t, a.sp, "c's block at a via b", hasRoute(a.sp, "10.244.3.0/26", b.addr))
	since := a.sp.Status()[0].Since
	ba.NextHopKeep = true
	set(b, ba, client)
	waitFor(t, a.sp, "c's block at a via c", hasRoute(a.sp, "10.244.3.0/26", c.addr))
	if st := a.sp.Status()[0]; !st.Since.Equal(since) {
		t.Errorf("a's session was reset: %+v, since %v", st, since)
	}
}

// An import filter taken off lets in again what it kept out (the session's
// routes are judged again from what the peer sent, without a reset).
func TestGoBGPImportFilterOff(t *testing.T) {
	a, b := startNode(t, 71, 64512), startNode(t, 72, 64512)
	announce(t, a, "10.244.7.0/26", "10.244.7.64/26")
	ba := b.peerOf(a)
	ba.Import = []FilterRule{{Prefixes: []PrefixRange{pr("10.244.7.64/26", 26, 26)}}}
	if err := a.sp.SetPeers(context.Background(), []Peer{a.peerOf(b)}); err != nil {
		t.Fatal(err)
	}
	if err := b.sp.SetPeers(context.Background(), []Peer{ba}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b.sp, "the first block at b", hasRoute(b.sp, "10.244.7.0/26", a.addr))
	if !lacks(b.sp, "10.244.7.64/26")() {
		t.Fatalf("the import filter let 10.244.7.64/26 in: %v", b.sp.Learned())
	}
	ba.Import = nil
	if err := b.sp.SetPeers(context.Background(), []Peer{ba}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b.sp, "the second block at b once the filter is off", hasRoute(b.sp, "10.244.7.64/26", a.addr))
}

// A rule's LocalPref (a BGPFilter rule's priority) matches only routes
// sent with that LOCAL_PREF: b rejects a's route at priority 512 (LOCAL_PREF
// 2147483135) and keeps the one at the normal 1024 (2147482623).
func TestGoBGPFilterLocalPref(t *testing.T) {
	a, b := startNode(t, 74, 64512), startNode(t, 75, 64512)
	err := a.sp.SetRoutes(context.Background(), []Route{
		{Prefix: netip.MustParsePrefix("10.244.4.0/26"), NextHop: a.addr, LocalPref: 2147483647 - 1024},
		{Prefix: netip.MustParsePrefix("10.244.4.64/26"), NextHop: a.addr, LocalPref: 2147483647 - 512},
	})
	if err != nil {
		t.Fatal(err)
	}
	ba := b.peerOf(a)
	ba.Import = []FilterRule{{LocalPref: 2147483647 - 512}}
	for _, x := range []struct {
		n *node
		p Peer
	}{{a, a.peerOf(b)}, {b, ba}} {
		if err := x.n.sp.SetPeers(context.Background(), []Peer{x.p}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, b.sp, "the normal-priority block at b", hasRoute(b.sp, "10.244.4.0/26", a.addr))
	if !lacks(b.sp, "10.244.4.64/26")() {
		t.Errorf("the priority rule let the priority-512 route in: %v", b.sp.Learned())
	}
}
