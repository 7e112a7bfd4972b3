package calc

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
)

// bgpNode is a node with an address, labels and optional AS / cluster ID.
func bgpNode(name, addr string, labels map[string]string, asn uint32, cluster string) *v3.Node {
	n := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: name, Labels: labels}}
	n.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: addr, RouteReflectorClusterID: cluster}
	if asn != 0 {
		a := v3.ASNumber(asn)
		n.Spec.BGP.ASNumber = &a
	}
	return n
}

func bgpCfg(name string, f func(*v3.BGPConfigurationSpec)) *v3.BGPConfiguration {
	c := &v3.BGPConfiguration{ObjectMeta: v3.ObjectMeta{Name: name}}
	f(&c.Spec)
	return c
}

func bgpPeer(name string, s v3.BGPPeerSpec) *v3.BGPPeer {
	return &v3.BGPPeer{ObjectMeta: v3.ObjectMeta{Name: name}, Spec: s}
}

var (
	meshOff = bgpCfg("default", func(s *v3.BGPConfigurationSpec) { f := false; s.NodeToNodeMeshEnabled = &f })
	rrLabel = map[string]string{"route-reflector": "true"}
	// Four nodes; n9 and n10 test the lexical (string) comparison.
	n1  = bgpNode("n1", "10.0.0.1/24", nil, 0, "")
	n2  = bgpNode("n2", "10.0.0.2/24", map[string]string{"rack": "r1"}, 0, "")
	n9  = bgpNode("n9", "10.0.0.9/24", map[string]string{"rack": "r2"}, 0, "")
	n10 = bgpNode("n10", "10.0.0.10/24", nil, 0, "")
)

// peerLines renders peers one a line: name, type, AS local>remote, and
// the flags set.
func peerLines(d BGPDesired) string {
	var lines []string
	for _, p := range d.Peers {
		l := fmt.Sprintf("%s %s AS%d>%d", p.Name, strings.ReplaceAll(p.Type, " ", "-"), p.LocalASN, p.ASN)
		if p.Passive {
			l += " passive"
		}
		if p.RRClient {
			l += " rr-client:" + p.RRClusterID
		}
		if p.Password != nil {
			l += " password:" + p.Password.Name + "/" + p.Password.Key
		}
		if p.RestartTime != 0 {
			l += " restart:" + p.RestartTime.String()
		}
		if !p.SourceAddress.IsValid() {
			l += " no-source"
		}
		if p.TTLSecurity != 0 {
			l += fmt.Sprintf(" ttl-security:%d", p.TTLSecurity)
		}
		if p.NextHopKeep {
			l += " next-hop-keep"
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

func lines(ls ...string) string { return strings.Join(ls, "\n") }

func TestBGPPeers(t *testing.T) {
	asn := func(a uint32) *v3.ASNumber { x := v3.ASNumber(a); return &x }
	all4 := []*v3.Node{n1, n2, n9, n10}
	rr1 := bgpNode("rr1", "10.0.0.5/24", rrLabel, 0, "1.0.0.1")
	rr2 := bgpNode("rr2", "10.0.0.6/24", rrLabel, 0, "1.0.0.1")
	rr3 := bgpNode("rr3", "10.0.0.7/24", rrLabel, 0, "1.0.0.2")
	toRRs := bgpPeer("to-rrs", v3.BGPPeerSpec{NodeSelector: "all()", PeerSelector: "route-reflector == 'true'"})
	for _, tc := range []struct {
		name  string
		self  string
		nodes []*v3.Node
		bin   BGPInput
		want  string
	}{
		{name: "mesh by default; the side whose peer's IP is lexically greater waits",
			self: "n9", nodes: all4,
			want: lines("Mesh_10_0_0_1 node-to-node-mesh AS64512>64512",
				"Mesh_10_0_0_2 node-to-node-mesh AS64512>64512",
				"Mesh_10_0_0_10 node-to-node-mesh AS64512>64512")},
		{name: "lexical rule from the other side", self: "n10", nodes: all4,
			want: lines("Mesh_10_0_0_1 node-to-node-mesh AS64512>64512",
				"Mesh_10_0_0_2 node-to-node-mesh AS64512>64512 passive",
				"Mesh_10_0_0_9 node-to-node-mesh AS64512>64512 passive")},
		{name: "mesh off: no sessions", self: "n1", nodes: all4, bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}}},
		{name: "global AS, a node's own AS (eBGP), mesh password and restart time, a node's listen port",
			self: "n1", nodes: []*v3.Node{n1, n2, bgpNode("n3", "10.0.0.3/24", nil, 65003, "")},
			bin: BGPInput{Configs: []*v3.BGPConfiguration{
				bgpCfg("default", func(s *v3.BGPConfigurationSpec) {
					s.ASNumber = asn(64600)
					s.NodeMeshPassword = &v3.BGPPassword{SecretKeyRef: &v3.SecretKeySelector{Name: "bgp", Key: "mesh"}}
					s.NodeMeshMaxRestartTime = v3.NewDuration(30 * time.Second)
				}),
				bgpCfg("node.n2", func(s *v3.BGPConfigurationSpec) { s.ListenPort = 1179 }),
			}},
			want: lines("Mesh_10_0_0_2_port_1179 node-to-node-mesh AS64600>64600 passive password:bgp/mesh restart:30s",
				"Mesh_10_0_0_3 node-to-node-mesh AS64600>65003 passive password:bgp/mesh restart:30s")},
		{name: "global peer with a port; one at this node's own address is skipped",
			self: "n1", nodes: []*v3.Node{n1},
			bin: BGPInput{Peers: []*v3.BGPPeer{
				bgpPeer("tor", v3.BGPPeerSpec{PeerIP: "10.0.0.254:1179", ASNumber: 65000}),
				bgpPeer("self", v3.BGPPeerSpec{PeerIP: "10.0.0.1", ASNumber: 65000}),
			}},
			want: "Global_10_0_0_254_port_1179 global AS64512>65000"},
		{name: "node-specific peer dropped for a global one at the same address; settings applied",
			self: "n2", nodes: []*v3.Node{n2}, bin: BGPInput{Peers: []*v3.BGPPeer{
				bgpPeer("a-node", v3.BGPPeerSpec{Node: "n2", PeerIP: "10.0.0.254", ASNumber: 65001}),
				bgpPeer("b-global", v3.BGPPeerSpec{PeerIP: "10.0.0.254", ASNumber: 65000,
					LocalASNumber: asn(64999), MaxRestartTime: v3.NewDuration(time.Minute),
					SourceAddress: v3.SourceAddressNone, KeepOriginalNextHop: true}),
				bgpPeer("c-rack", v3.BGPPeerSpec{NodeSelector: "rack == 'r1'", PeerIP: "10.0.0.253", ASNumber: 65001,
					TTLSecurity: func() *int { i := 1; return &i }()}),
				bgpPeer("d-other-rack", v3.BGPPeerSpec{NodeSelector: "rack == 'r2'", PeerIP: "10.0.0.252", ASNumber: 65002}),
			}},
			want: lines("Node_10_0_0_253 node-specific AS64512>65001 ttl-security:1",
				"Global_10_0_0_254 global AS64999>65000 restart:1m0s no-source next-hop-keep")},
		{name: "route reflectors (scenario 4), on a client: only the reflectors",
			self: "n2", nodes: []*v3.Node{n1, n2, rr1, rr2},
			bin:  BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{toRRs}},
			want: lines("Node_10_0_0_5 node-specific AS64512>64512 passive", "Node_10_0_0_6 node-specific AS64512>64512 passive")},
		{name: "on a reflector: every node back (reverse peering) as clients, not the reflector of its own cluster",
			self: "rr1", nodes: []*v3.Node{n1, n2, rr1, rr2, rr3},
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{toRRs}},
			want: lines("Node_10_0_0_1 node-specific AS64512>64512 rr-client:1.0.0.1",
				"Node_10_0_0_2 node-specific AS64512>64512 rr-client:1.0.0.1",
				"Node_10_0_0_6 node-specific AS64512>64512 passive",
				"Node_10_0_0_7 node-specific AS64512>64512 passive rr-client:1.0.0.1")},
		{name: "reversePeering Manual: the reflector peers only where it is on the local side",
			self: "rr1", nodes: []*v3.Node{n1, rr1},
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{
				bgpPeer("to-rrs", v3.BGPPeerSpec{NodeSelector: "!has(route-reflector)", PeerSelector: "route-reflector == 'true'",
					ReversePeering: v3.ReversePeeringManual})}}},
		{name: "mesh on with a reflector: it skips the mesh, and the others skip it",
			self: "n1", nodes: []*v3.Node{n1, n2, rr1},
			want: "Mesh_10_0_0_2 node-to-node-mesh AS64512>64512 passive"},
		{name: "a reflector with mesh on has no mesh sessions", self: "rr1", nodes: []*v3.Node{n1, n2, rr1}},
		{name: "an invalid selector selects nothing", self: "n1", nodes: []*v3.Node{n1, n2},
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{
				bgpPeer("bad", v3.BGPPeerSpec{NodeSelector: "all()", PeerSelector: "rack =="})}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := BGP(Input{Node: tc.self, Nodes: tc.nodes}, tc.bin)
			if !d.Enabled {
				t.Fatalf("BGP disabled: %+v", d)
			}
			if got := peerLines(d); got != tc.want {
				t.Errorf("peers:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestBGPGlobal(t *testing.T) {
	d := BGP(Input{Node: "n1", Nodes: []*v3.Node{n1}}, BGPInput{})
	if !d.Enabled || d.ASN != 64512 || d.RouterID != netip.MustParseAddr("10.0.0.1") || d.ListenPort != 179 || d.ListenAddresses != nil {
		t.Errorf("defaults: %+v", d)
	}
	d = BGP(Input{Node: "n1", Nodes: []*v3.Node{n1}}, BGPInput{Configs: []*v3.BGPConfiguration{
		bgpCfg("default", func(s *v3.BGPConfigurationSpec) { s.ListenPort = 1179; s.BindMode = "NodeIP" }),
		bgpCfg("node.n1", func(s *v3.BGPConfigurationSpec) { s.ListenPort = 2179 })}})
	if d.ListenPort != 2179 || len(d.ListenAddresses) != 1 || d.ListenAddresses[0] != d.RouterID {
		t.Errorf("node.n1 listenPort and bindMode NodeIP: %+v", d)
	}
	if d := BGP(Input{Node: "n1", Nodes: []*v3.Node{n1}, Backend: "vxlan"}, BGPInput{}); d.Enabled {
		t.Errorf("backend vxlan: BGP enabled")
	}
	if d := BGP(Input{Node: "x", Nodes: []*v3.Node{{ObjectMeta: v3.ObjectMeta{Name: "x"}}}}, BGPInput{}); d.Enabled {
		t.Errorf("node without an address: BGP enabled")
	}
}

func TestBGPRoutes(t *testing.T) {
	pool := func(name, cidr string, noExport bool) *v3.IPPool {
		p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: name}}
		p.Spec.CIDR, p.Spec.DisableBGPExport = cidr, noExport
		return p
	}
	wep := func(node, ip string) *v3.WorkloadEndpoint {
		w := &v3.WorkloadEndpoint{}
		w.Spec.Node, w.Spec.IPNetworks = node, []string{ip + "/32"}
		return w
	}
	in := Input{Node: "n1", Nodes: []*v3.Node{n1, n2},
		Pools: []*v3.IPPool{pool("p", "10.244.0.0/16", false), pool("quiet", "10.250.0.0/16", true)},
		Blocks: []Block{
			{CIDR: netip.MustParsePrefix("10.244.1.0/26"), Host: "n1"},
			{CIDR: netip.MustParsePrefix("10.244.1.64/26"), Host: "n1"},
			{CIDR: netip.MustParsePrefix("10.244.2.0/26"), Host: "n2"},
			{CIDR: netip.MustParsePrefix("10.250.1.0/26"), Host: "n1"},
			{CIDR: netip.MustParsePrefix("10.244.9.0/26"), Host: ""},
		},
		Endpoints: []*v3.WorkloadEndpoint{
			wep("n1", "10.244.1.5"),  // in its own block: covered by the aggregate
			wep("n1", "10.244.2.7"),  // borrowed from n2's block
			wep("n1", "10.244.9.1"),  // from a block affine to no node
			wep("n2", "10.244.1.70"), // n2's business
			wep("n1", "10.250.2.1"),  // a pool that is not exported
		},
	}
	bin := BGPInput{Configs: []*v3.BGPConfiguration{bgpCfg("default", func(s *v3.BGPConfigurationSpec) {
		s.ServiceClusterIPs = []v3.ServiceClusterIPBlock{{CIDR: "10.96.0.0/12"}}
		s.ServiceExternalIPs = []v3.ServiceExternalIPBlock{{CIDR: "192.0.2.0/24"}, {CIDR: "fd00:1::/112"}}
		s.ServiceLoadBalancerIPs = []v3.ServiceLoadBalancerIPBlock{{CIDR: "198.51.100.7/32"}}
		s.PrefixAdvertisements = append(s.PrefixAdvertisements, v3.PrefixAdvertisement{CIDR: "192.0.2.0/24", Communities: []string{"65000:7"}})
		s.Communities = []v3.Community{{Name: "pods", Value: "65000:100"}}
		s.PrefixAdvertisements = append(s.PrefixAdvertisements, v3.PrefixAdvertisement{CIDR: "10.244.0.0/16", Communities: []string{"pods", "65000:1:2"}})
	})}}
	var got []string
	for _, r := range BGP(in, bin).Routes {
		got = append(got, fmt.Sprintf("%s %v %v", r.Prefix, r.Communities, r.LargeCommunities))
	}
	want := lines(
		"10.96.0.0/12 [] []",
		"10.244.1.0/26 [65000:100] [65000:1:2]",
		"10.244.1.64/26 [65000:100] [65000:1:2]",
		"10.244.2.7/32 [65000:100] [65000:1:2]",
		"10.244.9.1/32 [65000:100] [65000:1:2]",
		"192.0.2.0/24 [65000:7] []",
		"198.51.100.7/32 [] []")
	if g := strings.Join(got, "\n"); g != want {
		t.Errorf("routes:\n%s\nwant:\n%s", g, want)
	}
}
