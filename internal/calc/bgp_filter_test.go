package calc

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

func i32(v int32) *int32 { return &v }

// ruleLines renders filter rules one a line: action, source, the prefix
// ranges ("!" for an inverted match), the priority a learned route must
// have (from the rule's LOCAL_PREF).
func ruleLines(rs []BGPFilterRule) string {
	var out []string
	for _, r := range rs {
		l := "reject"
		if r.Accept {
			l = "accept"
		}
		if r.Source != "" {
			l += " " + r.Source
		}
		if r.Invert {
			l += " !"
		}
		for _, p := range r.Prefixes {
			l += fmt.Sprintf(" %s{%d,%d}", p.Prefix, p.Min, p.Max)
		}
		if r.LocalPref != 0 {
			l += fmt.Sprintf(" priority:%d", maxLocalPref-int(r.LocalPref))
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func filter(name string, s v3.BGPFilterSpec) *v3.BGPFilter {
	return &v3.BGPFilter{ObjectMeta: v3.ObjectMeta{Name: name}, Spec: s}
}

// Each BGPFilter rule field, resolved for one session to a ToR: the
// operators and prefix lengths as prefix ranges; source RemotePeers;
// interface against the underlay device (import) and the workloads'
// interfaces (export); peerType against the session; filters in order.
func TestBGPFilterRules(t *testing.T) {
	rule := func(action, cidr, op string) v3.BGPFilterRule {
		return v3.BGPFilterRule{Action: action, CIDR: cidr, MatchOperator: op}
	}
	withLen := func(r v3.BGPFilterRule, min, max *int32) v3.BGPFilterRule {
		r.PrefixLength = &v3.BGPFilterPrefixLength{Min: min, Max: max}
		return r
	}
	with := func(r v3.BGPFilterRule, f func(*v3.BGPFilterRule)) v3.BGPFilterRule { f(&r); return r }
	for _, tc := range []struct {
		name       string
		filters    []*v3.BGPFilter
		names      []string
		wantImport string
		wantExport string
	}{
		{name: "the four operators; In and NotIn take prefixLength, by default the CIDR's length to 32",
			filters: []*v3.BGPFilter{filter("f", v3.BGPFilterSpec{ImportV4: []v3.BGPFilterRule{
				rule("Accept", "10.1.0.0/16", "Equal"),
				rule("Reject", "10.2.0.0/16", "NotEqual"),
				rule("Accept", "10.3.0.0/16", "In"),
				withLen(rule("Reject", "10.4.0.0/16", "NotIn"), i32(24), i32(28)),
				withLen(rule("Accept", "10.5.0.0/16", "In"), nil, i32(20)),
			}})}, names: []string{"f"},
			wantImport: lines("accept 10.1.0.0/16{16,16}", "reject ! 10.2.0.0/16{16,16}",
				"accept 10.3.0.0/16{16,32}", "reject ! 10.4.0.0/16{24,28}", "accept 10.5.0.0/16{16,20}")},
		{name: "filters in the peer's order, rules in theirs; V6 lists not on an IPv4 session; a missing filter skipped",
			filters: []*v3.BGPFilter{
				filter("a", v3.BGPFilterSpec{ExportV4: []v3.BGPFilterRule{rule("Reject", "10.244.1.0/26", "Equal")},
					ExportV6: []v3.BGPFilterRule{rule("Reject", "fd00::/64", "In")}}),
				filter("b", v3.BGPFilterSpec{ExportV4: []v3.BGPFilterRule{{Action: "Accept"}},
					ImportV4: []v3.BGPFilterRule{{Action: "Reject"}}}),
			}, names: []string{"b", "gone", "a"},
			wantImport: "reject",
			wantExport: lines("accept", "reject 10.244.1.0/26{26,26}")},
		{name: "source RemotePeers: routes learned from peers only (on import, every route is)",
			filters: []*v3.BGPFilter{filter("f", v3.BGPFilterSpec{
				ImportV4: []v3.BGPFilterRule{with(rule("Reject", "10.9.0.0/16", "In"), func(r *v3.BGPFilterRule) { r.Source = "RemotePeers" })},
				ExportV4: []v3.BGPFilterRule{{Action: "Accept", Source: "RemotePeers"}}})}, names: []string{"f"},
			wantImport: "reject 10.9.0.0/16{16,32}",
			wantExport: "accept remote"},
		{name: "interface: import against the underlay device; export: the workloads behind it, and learned routes when the underlay matches",
			filters: []*v3.BGPFilter{filter("f", v3.BGPFilterSpec{
				ImportV4: []v3.BGPFilterRule{{Action: "Reject", Interface: "eth*"}, {Action: "Reject", Interface: "cali*"}},
				ExportV4: []v3.BGPFilterRule{
					with(rule("Reject", "10.244.0.0/16", "In"), func(r *v3.BGPFilterRule) { r.Interface = "cali1*" }),
					{Action: "Accept", Interface: "eth0"},
				}})}, names: []string{"f"},
			wantImport: "reject",
			wantExport: lines("reject local 10.244.2.7/32{32,32}", "accept remote")},
		{name: "peerType: the session to the ToR is eBGP",
			filters: []*v3.BGPFilter{filter("f", v3.BGPFilterSpec{ImportV4: []v3.BGPFilterRule{
				{Action: "Reject", PeerType: "iBGP"}, {Action: "Accept", PeerType: "eBGP"}}})}, names: []string{"f"},
			wantImport: "accept"},
		{name: "a prefixLength with no CIDR bounds any route's length; an empty range: In never, NotIn always",
			filters: []*v3.BGPFilter{filter("f", v3.BGPFilterSpec{ImportV4: []v3.BGPFilterRule{
				{Action: "Reject", PrefixLength: &v3.BGPFilterPrefixLength{Min: i32(25)}},
				withLen(rule("Reject", "10.0.0.0/8", "In"), i32(30), i32(20)),
				withLen(rule("Accept", "10.0.0.0/8", "NotIn"), i32(30), i32(20)),
			}})}, names: []string{"f"},
			wantImport: lines("reject 0.0.0.0/0{25,32}", "accept")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := filterInput()
			bin := BGPInput{Filters: tc.filters, Peers: []*v3.BGPPeer{
				bgpPeer("tor", v3.BGPPeerSpec{PeerIP: "10.0.0.254", ASNumber: 65000, Filters: tc.names})}}
			d := BGP(in, bin)
			i := slices.IndexFunc(d.Peers, func(p BGPPeer) bool { return p.Name == "Global_10_0_0_254" })
			if i < 0 {
				t.Fatalf("no session to the ToR: %+v", d.Peers)
			}
			p := d.Peers[i]
			if got := ruleLines(p.Import); got != tc.wantImport {
				t.Errorf("import:\n%s\nwant:\n%s", got, tc.wantImport)
			}
			if got := ruleLines(p.Export); got != tc.wantExport {
				t.Errorf("export:\n%s\nwant:\n%s", got, tc.wantExport)
			}
			missing := slices.Contains(tc.names, "gone")
			if has := slices.ContainsFunc(d.Problems, func(s string) bool { return strings.Contains(s, `"gone" does not exist`) }); has != missing {
				t.Errorf("problems %q: want a missing filter named: %v", d.Problems, missing)
			}
		})
	}
}

// filterInput: n1 (underlay eth0) with a block, a borrowed /32 behind
// cali12, and mesh peers n2 and n9.
func filterInput() Input {
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "p"}}
	pool.Spec.CIDR = "10.244.0.0/16"
	w := &v3.WorkloadEndpoint{}
	w.Spec.Node, w.Spec.IPNetworks, w.Spec.InterfaceName = "n1", []string{"10.244.2.7/32"}, "cali12"
	return Input{Node: "n1", Nodes: []*v3.Node{n1, n2, n9}, ParentDevice: "eth0", Pools: []*v3.IPPool{pool},
		Blocks: []Block{{CIDR: netip.MustParsePrefix("10.244.1.0/26"), Host: "n1"},
			{CIDR: netip.MustParsePrefix("10.244.2.0/26"), Host: "n2"}},
		Endpoints: []*v3.WorkloadEndpoint{w}}
}

// The datastore stands in for a Calico node's announcements (the fast
// path) only where no filter applies on either side of the session.
func TestBGPFastPathAndFilters(t *testing.T) {
	rejectAll := filter("none", v3.BGPFilterSpec{ExportV4: []v3.BGPFilterRule{{Action: "Reject"}},
		ImportV4: []v3.BGPFilterRule{{Action: "Reject"}}})
	exportOnly := filter("quiet", v3.BGPFilterSpec{ExportV4: []v3.BGPFilterRule{{Action: "Reject"}}})
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	for _, tc := range []struct {
		name  string
		peers []*v3.BGPPeer
		want  []netip.Addr
	}{
		{name: "mesh, no filters: every peer", want: []netip.Addr{ip("10.0.0.2"), ip("10.0.0.9")}},
		{name: "n1 imports n2's routes through a filter",
			peers: []*v3.BGPPeer{bgpPeer("a", v3.BGPPeerSpec{Node: "n1", PeerSelector: "rack == 'r1'",
				Filters: []string{"none"}, ReversePeering: v3.ReversePeeringManual})},
			want: []netip.Addr{ip("10.0.0.9")}},
		{name: "n9 exports to n1 through a filter (n9's side of the session)",
			peers: []*v3.BGPPeer{bgpPeer("b", v3.BGPPeerSpec{Node: "n9", PeerIP: "10.0.0.1", Filters: []string{"quiet"}})},
			want:  []netip.Addr{ip("10.0.0.2")}},
		{name: "a filter on a ToR session leaves the mesh's fast path alone",
			peers: []*v3.BGPPeer{bgpPeer("tor", v3.BGPPeerSpec{PeerIP: "10.0.0.254", ASNumber: 65000, Filters: []string{"none"}})},
			want:  []netip.Addr{ip("10.0.0.2"), ip("10.0.0.9")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := BGP(filterInput(), BGPInput{Peers: tc.peers, Filters: []*v3.BGPFilter{rejectAll, exportOnly}})
			if !slices.Equal(d.FastPath, tc.want) {
				t.Errorf("fast path %v, want %v (peers %s)", d.FastPath, tc.want, peerLines(d))
			}
		})
	}
}
