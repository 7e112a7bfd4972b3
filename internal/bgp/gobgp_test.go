package bgp

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v4/api"
)

// These tests run real GoBGP speakers against each other on the host's
// loopback (127.0.0.x, unprivileged ports): no namespace, no root.

type node struct {
	sp   *GoBGP
	addr netip.Addr
	port int
	asn  uint32
}

func freePort(t *testing.T, addr netip.Addr) int {
	t.Helper()
	l, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startNode(t *testing.T, last byte, asn uint32) *node {
	t.Helper()
	addr := netip.AddrFrom4([4]byte{127, 0, 0, last})
	port := freePort(t, addr)
	sp, err := Start(context.Background(), Global{ASN: asn, RouterID: addr, ListenPort: port,
		ListenAddresses: []netip.Addr{addr}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	return &node{sp: sp, addr: addr, port: port, asn: asn}
}

// peerOf is how n sees other.
func (n *node) peerOf(other *node) Peer {
	return Peer{Name: "Mesh_" + other.addr.String(), Address: other.addr, Port: uint16(other.port),
		ASN: other.asn, SourceAddress: n.addr, Passive: n.addr.Compare(other.addr) > 0}
}

// waitFor waits, through the speaker's change notifications, until cond
// holds. The deadline only bounds a broken test; nothing is timed.
func waitFor(t *testing.T, sp Speaker, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !cond() {
		select {
		case <-sp.Changed():
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("gave up waiting for %s; status %+v, learned %+v", what, sp.Status(), sp.Learned())
		}
	}
}

func established(sp Speaker, n int) func() bool {
	return func() bool {
		c := 0
		for _, s := range sp.Status() {
			if s.State == StateEstablished {
				c++
			}
		}
		return c == n
	}
}

func hasRoute(sp Speaker, pfx string, nh netip.Addr) func() bool {
	p := netip.MustParsePrefix(pfx)
	return func() bool {
		return slices.ContainsFunc(sp.Learned(), func(l Learned) bool { return l.Prefix == p && l.NextHop == nh })
	}
}

func lacks(sp Speaker, pfx string) func() bool {
	p := netip.MustParsePrefix(pfx)
	return func() bool { return !slices.ContainsFunc(sp.Learned(), func(l Learned) bool { return l.Prefix == p }) }
}

func mesh(t *testing.T, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		var ps []Peer
		for _, o := range nodes {
			if o != n {
				ps = append(ps, n.peerOf(o))
			}
		}
		if err := n.sp.SetPeers(context.Background(), ps); err != nil {
			t.Fatal(err)
		}
	}
}

func announce(t *testing.T, n *node, pfxs ...string) {
	t.Helper()
	var rs []Route
	for _, p := range pfxs {
		rs = append(rs, Route{Prefix: netip.MustParsePrefix(p), NextHop: n.addr})
	}
	if err := n.sp.SetRoutes(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
}

func TestGoBGPMeshRoutesBothWays(t *testing.T) {
	a, b := startNode(t, 11, 64512), startNode(t, 12, 64512)
	announce(t, a, "10.244.1.0/26")
	announce(t, b, "10.244.2.0/26")
	mesh(t, a, b)
	waitFor(t, a.sp, "a's session up", established(a.sp, 1))
	waitFor(t, a.sp, "b's block at a", hasRoute(a.sp, "10.244.2.0/26", b.addr))
	waitFor(t, b.sp, "a's block at b", hasRoute(b.sp, "10.244.1.0/26", a.addr))

	announce(t, a, "10.244.1.0/26", "10.244.1.64/26")
	waitFor(t, b.sp, "a's second block at b", hasRoute(b.sp, "10.244.1.64/26", a.addr))
	announce(t, a, "10.244.1.64/26")
	waitFor(t, b.sp, "a's first block withdrawn", lacks(b.sp, "10.244.1.0/26"))
	for _, s := range b.sp.Status() {
		if s.Name != "Mesh_127.0.0.11" || !s.EndOfRIB || s.Info != "" {
			t.Errorf("b's view of a: %+v, want Established with End-of-RIB and no info", s)
		}
	}
}

// A session whose settings change is reset alone; the others stay up.
func TestGoBGPChangedPeerResetsOnlyItself(t *testing.T) {
	a, b, c := startNode(t, 21, 64512), startNode(t, 22, 64512), startNode(t, 23, 64512)
	mesh(t, a, b, c)
	waitFor(t, a.sp, "a's sessions up", established(a.sp, 2))
	since := map[netip.Addr]time.Time{}
	for _, s := range a.sp.Status() {
		since[s.Address] = s.Since
	}
	pc := a.peerOf(c)
	pc.KeepaliveTime, pc.HoldTime = 5*time.Second, 15*time.Second
	if err := a.sp.SetPeers(context.Background(), []Peer{a.peerOf(b), pc}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a.sp, "a's sessions up again", established(a.sp, 2))
	for _, s := range a.sp.Status() {
		if s.Address == b.addr && !s.Since.Equal(since[b.addr]) {
			t.Errorf("session to b was reset (since %v, was %v) though its peer did not change", s.Since, since[b.addr])
		}
	}
	if err := a.sp.SetPeers(context.Background(), []Peer{a.peerOf(b)}); err != nil {
		t.Fatal(err)
	}
	if st := a.sp.Status(); len(st) != 1 || st[0].Address != b.addr {
		t.Errorf("after removing c: %+v, want only b", st)
	}
}

// A node passes on nothing it learned over eBGP: b learns a's route from
// its eBGP peer a, and its iBGP peers c and d do not get it from b. As a
// route reflector, b reflects c's route to its other client d (and, as
// BIRD with Calico's export filter does, to its eBGP peers too).
func TestGoBGPNoTransitButReflection(t *testing.T) {
	a := startNode(t, 31, 65001)
	b, c, d := startNode(t, 32, 64512), startNode(t, 33, 64512), startNode(t, 34, 64512)
	announce(t, a, "10.1.0.0/24")
	announce(t, c, "10.244.3.0/26")
	set := func(n *node, ps ...Peer) {
		if err := n.sp.SetPeers(context.Background(), ps); err != nil {
			t.Fatal(err)
		}
	}
	client := func(p Peer) Peer { p.RRClient, p.RRClusterID = true, "1.0.0.1"; return p }
	set(a, a.peerOf(b))
	set(b, b.peerOf(a), client(b.peerOf(c)), client(b.peerOf(d)))
	set(c, c.peerOf(b))
	set(d, d.peerOf(b))
	waitFor(t, b.sp, "b's sessions up", established(b.sp, 3))
	waitFor(t, b.sp, "a's route at b", hasRoute(b.sp, "10.1.0.0/24", a.addr))
	waitFor(t, d.sp, "c's block reflected to d", hasRoute(d.sp, "10.244.3.0/26", c.addr))
	if !lacks(c.sp, "10.1.0.0/24")() || !lacks(d.sp, "10.1.0.0/24")() {
		t.Errorf("b passed on a route learned over eBGP: c %v, d %v", c.sp.Learned(), d.sp.Learned())
	}
}

func TestGoBGPUnreachablePeerShowsReason(t *testing.T) {
	a := startNode(t, 41, 64512)
	gone := netip.MustParseAddr("127.0.0.42")
	port := freePort(t, gone) // nothing listens there now
	err := a.sp.SetPeers(context.Background(), []Peer{{Name: "Global_127_0_0_42", Address: gone,
		Port: uint16(port), ASN: 64512, SourceAddress: a.addr}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, a.sp, "a reason", func() bool {
		st := a.sp.Status()
		return len(st) == 1 && st[0].Info != ""
	})
	st := a.sp.Status()[0]
	if st.State == StateEstablished || st.Info != "Socket: Connection refused" {
		t.Errorf("status %+v, want not Established with %q", st, "Socket: Connection refused")
	}
}

// The speaker's RIBs hold IPv4 unicast alone (IPv4 and IPv6 unicast with
// Global.IPv6): GoBGP would otherwise make a table for every family it
// knows (megabytes of empty shards).
func TestGoBGPGlobalFamilies(t *testing.T) {
	n := startNode(t, 40, 64512)
	table := func(afi api.Family_Afi) error {
		_, err := n.sp.s.GetTable(context.Background(), &api.GetTableRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL,
			Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}})
		return err
	}
	if err := table(api.Family_AFI_IP); err != nil {
		t.Fatalf("the IPv4 unicast table: %v", err)
	}
	if table(api.Family_AFI_IP6) == nil {
		t.Fatal("the speaker has an IPv6 unicast table")
	}
	sp6, err := Start(context.Background(), Global{ASN: 64512, RouterID: netip.MustParseAddr("127.0.0.41"), ListenPort: -1, IPv6: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp6.Close()
	_, err = sp6.s.GetTable(context.Background(), &api.GetTableRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL,
		Family: &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}})
	if err != nil {
		t.Fatalf("with IPv6, the IPv6 unicast table: %v", err)
	}
}

// With IPv6 the speaker holds IPv6 unicast too: an IPv6 session (here on
// ::1, beside the IPv4 one) carries the IPv6 routes, with the next hop
// they were announced with; the IPv4 session carries the IPv4 ones.
func TestGoBGPIPv6Session(t *testing.T) {
	lo6 := netip.IPv6Loopback()
	start := func(last byte) *node {
		addr := netip.AddrFrom4([4]byte{127, 0, 0, last})
		port := freePort(t, lo6)
		sp, err := Start(context.Background(), Global{ASN: 64512, RouterID: addr, ListenPort: port,
			ListenAddresses: []netip.Addr{addr, lo6}, IPv6: true}, nil)
		if err != nil {
			t.Skipf("no IPv6 loopback here: %v", err)
		}
		t.Cleanup(func() { _ = sp.Close() })
		return &node{sp: sp, addr: addr, port: port, asn: 64512}
	}
	a, b := start(51), start(52)
	nh := map[*node]netip.Addr{a: netip.MustParseAddr("fd00:ff::51"), b: netip.MustParseAddr("fd00:ff::52")}
	peers := func(n *node, export6 []FilterRule) {
		t.Helper()
		o := b
		if n == b {
			o = a
		}
		v6 := Peer{Name: "Mesh_v6", Address: lo6, Port: uint16(o.port), ASN: 64512, SourceAddress: lo6, Passive: n == b,
			Export: export6}
		if err := n.sp.SetPeers(context.Background(), []Peer{n.peerOf(o), v6}); err != nil {
			t.Fatal(err)
		}
	}
	peers(a, nil)
	peers(b, nil)
	routes := func(n *node, v4 string, v6 ...string) {
		t.Helper()
		rs := []Route{{Prefix: netip.MustParsePrefix(v4), NextHop: n.addr}}
		for _, p := range v6 {
			rs = append(rs, Route{Prefix: netip.MustParsePrefix(p), NextHop: nh[n]})
		}
		if err := n.sp.SetRoutes(context.Background(), rs); err != nil {
			t.Fatal(err)
		}
	}
	routes(a, "10.244.1.0/26", "fd00:1::/122")
	routes(b, "10.244.2.0/26", "fd00:1::40/122")
	waitFor(t, a.sp, "both sessions up", established(a.sp, 2))
	waitFor(t, a.sp, "b's IPv6 block at a", hasRoute(a.sp, "fd00:1::40/122", nh[b]))
	waitFor(t, b.sp, "a's IPv6 block at b", hasRoute(b.sp, "fd00:1::/122", nh[a]))
	waitFor(t, b.sp, "a's IPv4 block at b", hasRoute(b.sp, "10.244.1.0/26", a.addr))
	for _, l := range b.sp.Learned() {
		if l.Prefix.Addr().Is6() != (l.Peer == lo6) {
			t.Errorf("%s learned over the session to %s: want each family over its own session", l.Prefix, l.Peer)
		}
	}
	routes(a, "10.244.1.0/26", "fd00:1::80/122")
	waitFor(t, b.sp, "a's old IPv6 block withdrawn", lacks(b.sp, "fd00:1::/122"))

	// An export filter on the IPv6 session (a BGPFilter's exportV6 rule).
	peers(a, []FilterRule{{Prefixes: []PrefixRange{pr("fd00:1::c0/122", 122, 122)}}})
	routes(a, "10.244.1.0/26", "fd00:1::80/122", "fd00:1::c0/122")
	waitFor(t, b.sp, "the unfiltered IPv6 block", hasRoute(b.sp, "fd00:1::80/122", nh[a]))
	if !lacks(b.sp, "fd00:1::c0/122")() || !hasRoute(b.sp, "10.244.1.0/26", a.addr)() {
		t.Errorf("b learned %v: want fd00:1::c0/122 filtered out, the IPv4 block still in", b.sp.Learned())
	}
}
