package calc

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

// lwep is a WorkloadEndpoint on node with labels and addresses.
func lwep(ns, name, node, iface string, labels map[string]string, nets ...string) *v3.WorkloadEndpoint {
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	w.Spec.Node, w.Spec.InterfaceName, w.Spec.IPNetworks = node, iface, nets
	return w
}

var (
	red  = map[string]string{"color": "red"}
	blue = map[string]string{"color": "blue"}
)

// TestBGPLocalWorkloadPeers: BGPPeer localWorkloadSelector (§2.4). The
// node peers with its own workloads the selector picks, at their
// addresses, in the BGPPeer's AS, never passively; other nodes' workloads
// and BGPPeers scoped to other nodes give it nothing.
func TestBGPLocalWorkloadPeers(t *testing.T) {
	asn := func(a uint32) *v3.ASNumber { x := v3.ASNumber(a); return &x }
	eps := []*v3.WorkloadEndpoint{
		lwep("ns", "red-a", "n1", "cali1", red, "10.65.0.2/32"),
		lwep("ns", "blue-a", "n1", "cali2", blue, "10.65.0.3/32"),
		lwep("ns", "red-b", "n2", "cali1", red, "10.65.1.2/32"),
		lwep("ns", "red-two", "n1", "cali3", red, "10.65.0.4/32", "10.65.0.5/32", "fd00::5/128"),
	}
	redPeer := bgpPeer("red", v3.BGPPeerSpec{LocalWorkloadSelector: "color == 'red'", ASNumber: 65401})
	for _, tc := range []struct {
		name    string
		self    string
		eps     []*v3.WorkloadEndpoint
		bin     BGPInput
		want    string
		problem string
	}{
		{name: "global: every local workload selected, one session per IPv4 address; remote ones and IPv6 left out",
			self: "n1", eps: eps, bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{redPeer}},
			want: lines("Local_Workload_10_65_0_2 local-workload AS64512>65401",
				"Local_Workload_10_65_0_4 local-workload AS64512>65401",
				"Local_Workload_10_65_0_5 local-workload AS64512>65401")},
		{name: "on the other node, its own workload", self: "n2", eps: eps,
			bin:  BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{redPeer}},
			want: "Local_Workload_10_65_1_2 local-workload AS64512>65401"},
		{name: "node-specific: only on that node", self: "n1", eps: eps,
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{
				bgpPeer("blue-on-n2", v3.BGPPeerSpec{Node: "n2", LocalWorkloadSelector: "color == 'blue'", ASNumber: 65401}),
				bgpPeer("blue-in-rack", v3.BGPPeerSpec{NodeSelector: "rack == 'r1'", LocalWorkloadSelector: "color == 'blue'", ASNumber: 65402}),
			}}},
		{name: "nodeSelector picks this node", self: "n1", eps: []*v3.WorkloadEndpoint{lwep("ns", "b", "n1", "cali2", blue, "10.65.0.3/32")},
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{
				bgpPeer("blue-unracked", v3.BGPPeerSpec{NodeSelector: "!has(rack)", LocalWorkloadSelector: "color == 'blue'", ASNumber: 65402}),
			}},
			want: "Local_Workload_10_65_0_3 local-workload AS64512>65402"},
		{name: "beside the mesh; the BGPPeer's settings apply; same AS is iBGP",
			self: "n1", eps: eps[:2], bin: BGPInput{Peers: []*v3.BGPPeer{
				bgpPeer("blue", v3.BGPPeerSpec{LocalWorkloadSelector: "color == 'blue'", ASNumber: 64512,
					LocalASNumber: asn(64600), KeepOriginalNextHop: true,
					Password: &v3.BGPPassword{SecretKeyRef: &v3.SecretKeySelector{Name: "s", Key: "k"}}}),
			}},
			want: lines("Mesh_10_0_0_2 node-to-node-mesh AS64512>64512 passive",
				"Local_Workload_10_65_0_3 local-workload AS64600>64512 password:s/k next-hop-keep")},
		{name: "on a route reflector an iBGP workload is a client", self: "rr", eps: []*v3.WorkloadEndpoint{lwep("ns", "b", "rr", "cali2", blue, "10.65.0.3/32")},
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{
				bgpPeer("blue", v3.BGPPeerSpec{LocalWorkloadSelector: "color == 'blue'", ASNumber: 64512})}},
			want: "Local_Workload_10_65_0_3 local-workload AS64512>64512 rr-client:1.0.0.1"},
		{name: "a peerIP at the workload's address wins (remote peers first)", self: "n1", eps: eps[:1],
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{redPeer,
				bgpPeer("z-tor", v3.BGPPeerSpec{PeerIP: "10.65.0.2", ASNumber: 65000})}},
			want: "Global_10_65_0_2 global AS64512>65000"},
		{name: "localWorkloadPeeringIPV4 is reported as not applied", self: "n1", eps: eps[:1],
			bin: BGPInput{Configs: []*v3.BGPConfiguration{bgpCfg("default", func(s *v3.BGPConfigurationSpec) {
				f := false
				s.NodeToNodeMeshEnabled, s.LocalWorkloadPeeringIPV4 = &f, "169.254.0.179"
			})}, Peers: []*v3.BGPPeer{redPeer}},
			want:    "Local_Workload_10_65_0_2 local-workload AS64512>65401",
			problem: `spec.localWorkloadPeeringIPV4 "169.254.0.179" is not applied`},
		{name: "no AS (refused at apply, stored anyway) is a problem and no session", self: "n1", eps: eps,
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{
				bgpPeer("no-as", v3.BGPPeerSpec{LocalWorkloadSelector: "color == 'red'"})}},
			problem: "BGPPeer no-as: spec.asNumber is required"},
		{name: "an invalid selector is a problem and selects nothing", self: "n1", eps: eps,
			bin: BGPInput{Configs: []*v3.BGPConfiguration{meshOff}, Peers: []*v3.BGPPeer{
				bgpPeer("bad", v3.BGPPeerSpec{LocalWorkloadSelector: "color ==", ASNumber: 65401})}},
			problem: `BGPPeer bad: spec.localWorkloadSelector "color =="`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := []*v3.Node{n1, n2, bgpNode("rr", "10.0.0.5/24", nil, 0, "1.0.0.1")}
			d := BGP(Input{Node: tc.self, Nodes: nodes, Endpoints: tc.eps}, tc.bin)
			if got := peerLines(d); got != tc.want {
				t.Errorf("peers:\n%s\nwant:\n%s", got, tc.want)
			}
			if got := strings.Join(d.Problems, "\n"); !strings.Contains(got, tc.problem) || (tc.problem == "" && got != "") {
				t.Errorf("problems:\n%s\nwant one containing %q", got, tc.problem)
			}
			for _, p := range d.Peers {
				if p.Type == PeerTypeLocalWorkload && (p.Passive || p.Workload == "" || p.SourceAddress != netip.MustParseAddr(strings.Split(nodeOf(nodes, tc.self), "/")[0])) {
					t.Errorf("%s: want active, from the node address, naming its workload: %+v", p.Name, p)
				}
			}
		})
	}
}

func nodeOf(nodes []*v3.Node, name string) string {
	return nodeNamed(nodes, name).Spec.BGP.IPv4Address
}

// A workload added, removed or relabelled adds or removes its session
// only: every other session is exactly as it was.
func TestBGPLocalWorkloadPeerChurn(t *testing.T) {
	bin := BGPInput{Peers: []*v3.BGPPeer{
		bgpPeer("red", v3.BGPPeerSpec{LocalWorkloadSelector: "color == 'red'", ASNumber: 65401, Filters: []string{"f"}}),
		bgpPeer("tor", v3.BGPPeerSpec{PeerIP: "10.0.0.254", ASNumber: 65000}),
	}, Filters: []*v3.BGPFilter{{ObjectMeta: v3.ObjectMeta{Name: "f"},
		Spec: v3.BGPFilterSpec{ExportV4: []v3.BGPFilterRule{{Action: "Reject"}}}}}}
	a := lwep("ns", "a", "n1", "cali1", red, "10.65.0.2/32")
	b := lwep("ns", "b", "n1", "cali2", red, "10.65.0.3/32")
	in := Input{Node: "n1", Nodes: []*v3.Node{n1, n2}, Endpoints: []*v3.WorkloadEndpoint{a}}
	before := BGP(in, bin)
	relabelled := *a
	relabelled.Labels = blue
	for _, tc := range []struct {
		name   string
		eps    []*v3.WorkloadEndpoint
		change string // the only session added (+) or removed (-)
	}{
		{"pod added", []*v3.WorkloadEndpoint{a, b}, "+Local_Workload_10_65_0_3"},
		{"pod removed", nil, "-Local_Workload_10_65_0_2"},
		{"pod relabelled out", []*v3.WorkloadEndpoint{&relabelled}, "-Local_Workload_10_65_0_2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in2 := in
			in2.Endpoints = tc.eps
			after := BGP(in2, bin)
			if got := peerChange(before.Peers, after.Peers); got != tc.change {
				t.Errorf("change %q, want %q\nbefore:\n%s\nafter:\n%s", got, tc.change, peerLines(before), peerLines(after))
			}
		})
	}
	if p := before.Peers[len(before.Peers)-1]; p.Type != PeerTypeLocalWorkload || len(p.Export) != 1 || p.Export[0].Accept {
		t.Errorf("the workload session carries its BGPPeer's filter: %+v", p)
	}
}

// peerChange is the one session added or removed between two peer lists,
// "" when they are equal, "many" when more changed.
func peerChange(was, now []BGPPeer) string {
	old := map[netip.Addr]BGPPeer{}
	for _, p := range was {
		old[p.Address] = p
	}
	var diff []string
	for _, p := range now {
		o, ok := old[p.Address]
		switch {
		case !ok:
			diff = append(diff, "+"+p.Name)
		case !reflect.DeepEqual(o, p):
			diff = append(diff, "~"+p.Name)
		}
		delete(old, p.Address)
	}
	for _, p := range old {
		diff = append(diff, "-"+p.Name)
	}
	if len(diff) > 1 {
		return "many: " + strings.Join(diff, " ")
	}
	return strings.Join(diff, "")
}

// A route learned from a workload on this node goes out of the
// workload's interface, via its address; a block the workload announces
// inside a pool BGP owns too. Its own /32 stays the workload route.
func TestInstallLearnedFromLocalWorkload(t *testing.T) {
	in := input("a", testPool(v3.EncapNever, v3.EncapNever, false))
	in.Endpoints = []*v3.WorkloadEndpoint{lwep("ns", "bird", "a", "calia1", red, "10.244.0.5/32")}
	learned := []LearnedRoute{
		{netip.MustParsePrefix("10.123.0.0/26"), netip.MustParseAddr("10.244.0.5")},
		{netip.MustParsePrefix("10.244.0.5/32"), netip.MustParseAddr("10.244.0.5")},
	}
	d := InstallLearned(in, BGPInput{}, Compute(in), learned, nil)
	var got []string
	for _, r := range d.Routes {
		if r.Dev == "calia1" || r.Dst.String() == "10.123.0.0/26" {
			got = append(got, r.String())
		}
	}
	want := "10.123.0.0/26 via 10.244.0.5 dev calia1 onlink"
	if g := strings.Join(got, "\n"); !strings.Contains(g, want) || strings.Contains(g, "10.244.0.5/32 via") {
		t.Errorf("routes:\n%s\nwant %q and the workload's own route left alone\nproblems: %v", g, want, d.Problems)
	}
}

// A BGPFilter import rule's interface is matched, on a workload's
// session, against the workload's interface (its routes arrive there),
// not the underlay.
func TestBGPLocalWorkloadImportInterface(t *testing.T) {
	bin := BGPInput{Configs: []*v3.BGPConfiguration{meshOff},
		Peers: []*v3.BGPPeer{bgpPeer("red", v3.BGPPeerSpec{LocalWorkloadSelector: "color == 'red'", ASNumber: 65401, Filters: []string{"f"}})},
		Filters: []*v3.BGPFilter{filter("f", v3.BGPFilterSpec{ImportV4: []v3.BGPFilterRule{
			{Action: "Reject", Interface: "eth*"}, {Action: "Accept", Interface: "cali1"}}})}}
	in := Input{Node: "n1", Nodes: []*v3.Node{n1}, ParentDevice: "eth0",
		Endpoints: []*v3.WorkloadEndpoint{lwep("ns", "a", "n1", "cali1", red, "10.65.0.2/32")}}
	d := BGP(in, bin)
	if len(d.Peers) != 1 {
		t.Fatalf("peers: %+v", d.Peers)
	}
	if got := ruleLines(d.Peers[0].Import); got != "accept" {
		t.Errorf("import rules %q, want the cali1 rule alone", got)
	}
}
