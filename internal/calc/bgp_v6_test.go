package calc

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

// dualNode is bgpNode with an IPv6 address too ("" for none).
func dualNode(name, v4, v6 string, labels map[string]string, cluster string) *v3.Node {
	n := bgpNode(name, v4, labels, 0, cluster)
	n.Spec.BGP.IPv6Address = v6
	return n
}

var (
	d1 = dualNode("d1", "10.0.0.1/24", "fd00:ff::1/64", nil, "")
	d2 = dualNode("d2", "10.0.0.2/24", "fd00:ff::2/64", map[string]string{"rack": "r1"}, "")
	d3 = dualNode("d3", "10.0.0.3/24", "fd00:ff::a/64", nil, "")
	d4 = dualNode("d4", "10.0.0.4/24", "", nil, "") // IPv4 only
)

// The IPv6 sessions mirror the IPv4 ones (bird6 beside bird): one per
// family both ends have, the same mesh, peer, reflector and lexical rules,
// sourced from the node's address of that family.
func TestBGPPeersIPv6(t *testing.T) {
	rr := dualNode("rr", "10.0.0.5/24", "fd00:ff::5/64", rrLabel, "1.0.0.1")
	toRR := bgpPeer("to-rr", v3.BGPPeerSpec{NodeSelector: "all()", PeerSelector: "route-reflector == 'true'"})
	for _, tc := range []struct {
		name  string
		self  string
		nodes []*v3.Node
		bin   BGPInput
		want  string
	}{
		{name: "mesh: a v4 and a v6 session to each dual-stack node, v4 only to a v4-only node; lexical rule per family",
			self: "d2", nodes: []*v3.Node{d1, d2, d3, d4},
			want: lines("Mesh_10_0_0_1 node-to-node-mesh AS64512>64512",
				"Mesh_10_0_0_3 node-to-node-mesh AS64512>64512 passive",
				"Mesh_10_0_0_4 node-to-node-mesh AS64512>64512 passive",
				"Mesh_fd00_ff__1 node-to-node-mesh AS64512>64512",
				"Mesh_fd00_ff__a node-to-node-mesh AS64512>64512 passive")},
		{name: "a v4-only node has no IPv6 sessions", self: "d4", nodes: []*v3.Node{d1, d2, d4},
			want: lines("Mesh_10_0_0_1 node-to-node-mesh AS64512>64512",
				"Mesh_10_0_0_2 node-to-node-mesh AS64512>64512")},
		{name: "global IPv6 peer with [IPv6]:port; one at this node's own IPv6 address is skipped",
			self: "d1", nodes: []*v3.Node{d1},
			bin: BGPInput{Peers: []*v3.BGPPeer{
				bgpPeer("tor6", v3.BGPPeerSpec{PeerIP: "[fd00:ff::fe]:1179", ASNumber: 65000}),
				bgpPeer("self6", v3.BGPPeerSpec{PeerIP: "fd00:ff::1", ASNumber: 65000}),
			}},
			want: "Global_fd00_ff__fe_port_1179 global AS64512>65000"},
		{name: "an IPv6 peer on a node without IPv6 is not a session",
			self: "d4", nodes: []*v3.Node{d4},
			bin: BGPInput{Peers: []*v3.BGPPeer{bgpPeer("tor6", v3.BGPPeerSpec{PeerIP: "fd00:ff::fe", ASNumber: 65000})}}},
		{name: "node-specific IPv6 peer by nodeSelector, and its automatic reverse peering on the peer node",
			self: "d2", nodes: []*v3.Node{d1, d2, d3},
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{
				bgpPeer("r1-to-d3", v3.BGPPeerSpec{NodeSelector: "rack == 'r1'", PeerIP: "fd00:ff::a", ASNumber: 64512}),
			}},
			want: "Node_fd00_ff__a node-specific AS64512>64512 passive"},
		{name: "the reverse side", self: "d3", nodes: []*v3.Node{d1, d2, d3},
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{
				bgpPeer("r1-to-d3", v3.BGPPeerSpec{NodeSelector: "rack == 'r1'", PeerIP: "fd00:ff::a", ASNumber: 64512}),
			}},
			want: lines("Node_10_0_0_2 node-specific AS64512>64512", "Node_fd00_ff__2 node-specific AS64512>64512")},
		{name: "route reflector: IPv6 clients too", self: "rr", nodes: []*v3.Node{d1, rr, d4},
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{toRR}},
			want: lines("Node_10_0_0_1 node-specific AS64512>64512 rr-client:1.0.0.1",
				"Node_10_0_0_4 node-specific AS64512>64512 rr-client:1.0.0.1",
				"Node_fd00_ff__1 node-specific AS64512>64512 rr-client:1.0.0.1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := BGP(Input{Node: tc.self, Nodes: tc.nodes}, tc.bin)
			if got := peerLines(d); got != tc.want {
				t.Errorf("peers:\n%s\nwant:\n%s\nproblems: %v", got, tc.want, d.Problems)
			}
			for _, p := range d.Peers {
				if p.SourceAddress.Is6() != p.Address.Is6() {
					t.Errorf("peer %s: source address %s of the other family", p.Name, p.SourceAddress)
				}
			}
		})
	}
}

// The IPv6 routes a node originates: its IPv6 blocks (aggregated), the
// /128s its workloads borrowed, IPv6 service ranges; none without an IPv6
// address.
func TestBGPRoutesIPv6(t *testing.T) {
	p6 := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "p6"}}
	p6.Spec.CIDR = "fd00:1::/48"
	w := func(node, ip string) *v3.WorkloadEndpoint {
		x := &v3.WorkloadEndpoint{}
		x.Spec.Node, x.Spec.IPNetworks = node, []string{ip}
		return x
	}
	in := Input{Node: "d1", Nodes: []*v3.Node{d1, d2}, Pools: []*v3.IPPool{p6},
		Blocks: []Block{
			{CIDR: netip.MustParsePrefix("fd00:1::/122"), Host: "d1"},
			{CIDR: netip.MustParsePrefix("fd00:1::40/122"), Host: "d2"},
		},
		Endpoints: []*v3.WorkloadEndpoint{w("d1", "fd00:1::5/128"), w("d1", "fd00:1::41/128"), w("d2", "fd00:1::7/128")},
	}
	bin := BGPInput{Configs: []*v3.BGPConfiguration{bgpCfg("default", func(s *v3.BGPConfigurationSpec) {
		s.ServiceClusterIPs = []v3.ServiceClusterIPBlock{{CIDR: "fd00:96::/112"}}
	})}}
	d := BGP(in, bin)
	var got []string
	for _, r := range d.Routes {
		got = append(got, r.Prefix.String())
	}
	if g, w := strings.Join(got, " "), "fd00:1::/122 fd00:1::41/128 fd00:96::/112"; g != w {
		t.Errorf("routes %s, want %s", g, w)
	}
	if d.IPv6Address != netip.MustParseAddr("fd00:ff::1") || d.RouterID != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("IPv6 address %s, router ID %s", d.IPv6Address, d.RouterID)
	}
	in.Node, in.Nodes = "d4", []*v3.Node{d4}
	for i := range in.Blocks {
		in.Blocks[i].Host = "d4"
	}
	if d := BGP(in, bin); len(d.Routes) != 0 || d.IPv6Address.IsValid() {
		t.Errorf("a node without IPv6: routes %v, IPv6 address %s; want none", d.Routes, d.IPv6Address)
	}
}

// The V6 rule lists apply to IPv6 sessions, the V4 ones to IPv4 sessions,
// with prefix lengths up to 128.
func TestBGPFilterRulesIPv6(t *testing.T) {
	f := filter("f", v3.BGPFilterSpec{
		ImportV4: []v3.BGPFilterRule{{Action: "Reject", CIDR: "10.9.0.0/16", MatchOperator: "In"}},
		ImportV6: []v3.BGPFilterRule{{Action: "Reject", CIDR: "fd00:9::/32", MatchOperator: "In"}},
		ExportV6: []v3.BGPFilterRule{{Action: "Accept", CIDR: "fd00:1::/48", MatchOperator: "NotIn"},
			{Action: "Reject", PrefixLength: &v3.BGPFilterPrefixLength{Min: i32(120)}}},
	})
	in := Input{Node: "d1", Nodes: []*v3.Node{d1}, ParentDevice: "eth0"}
	bin := BGPInput{Filters: []*v3.BGPFilter{f}, Peers: []*v3.BGPPeer{
		bgpPeer("tor", v3.BGPPeerSpec{PeerIP: "10.0.0.254", ASNumber: 65000, Filters: []string{"f"}}),
		bgpPeer("tor6", v3.BGPPeerSpec{PeerIP: "fd00:ff::fe", ASNumber: 65000, Filters: []string{"f"}}),
	}}
	got := map[string]string{}
	for _, p := range BGP(in, bin).Peers {
		got[p.Address.String()] = fmt.Sprintf("import:\n%s\nexport:\n%s", ruleLines(p.Import), ruleLines(p.Export))
	}
	want := map[string]string{
		"10.0.0.254":  "import:\nreject 10.9.0.0/16{16,32}\nexport:\n",
		"fd00:ff::fe": "import:\nreject fd00:9::/32{32,128}\nexport:\naccept ! fd00:1::/48{48,128}\nreject ::/0{120,128}",
	}
	for a, w := range want {
		if got[a] != w {
			t.Errorf("session %s:\n%s\nwant:\n%s", a, got[a], w)
		}
	}
}

// Learned IPv6 routes are installed via their next hop on the underlay
// when it is in this node's IPv6 subnet; the node's own IPv6 block and
// next hops that are this node are not.
func TestInstallLearnedIPv6(t *testing.T) {
	in := dualStack("a")
	in.RouteUnencapsulated = false
	learned := []LearnedRoute{
		{netip.MustParsePrefix("fd00:1::40/122"), netip.MustParseAddr("fd00:ff::2")}, // b's block
		{netip.MustParsePrefix("fd00:1::80/122"), netip.MustParseAddr("fd00:fe::3")}, // c's, another subnet
		{netip.MustParsePrefix("fd00:1::/122"), netip.MustParseAddr("fd00:ff::2")},   // a's own, echoed
		{netip.MustParsePrefix("::/0"), netip.MustParseAddr("fd00:ff::fe")},          // a router's default
		{netip.MustParsePrefix("fd00:7::/64"), netip.MustParseAddr("fd00:ff::1")},    // next hop is this node
		{netip.MustParsePrefix("fd00:8::/64"), netip.MustParseAddr("172.31.1.2")},    // a next hop of the other family
	}
	d := InstallLearned(in, BGPInput{}, Compute(in), learned, nil)
	var got []string
	for _, r := range d.Routes {
		if r.Dst.Addr().Is6() && !r.Workload {
			got = append(got, r.String())
		}
	}
	want := lines("::/0 via fd00:ff::fe dev eth0",
		"blackhole fd00:1::/122",
		"fd00:1::40/122 via fd00:ff::2 dev eth0")
	if g := strings.Join(got, "\n"); g != want {
		t.Errorf("routes:\n%s\nwant:\n%s\nproblems: %v", g, want, d.Problems)
	}
	if !strings.Contains(strings.Join(d.Problems, "\n"), "fd00:1::80/122 learned via fd00:fe::3: the next hop is not in this node's subnet fd00:ff::1/64") {
		t.Errorf("problems %q: want c's block's next hop named", d.Problems)
	}
}
