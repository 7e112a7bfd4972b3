package calc

import (
	"slices"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

// BGPFilter rule priority (Calico: the rule applies only to routes of that
// priority, the kernel metric in FelixConfiguration's ...RoutePriority
// units). A learned route's priority is 2147483647 minus its LOCAL_PREF:
// the speaker matches the LOCAL_PREF. This node's own routes are all at
// the normal priority (ipv4NormalRoutePriority, 1024 by default): a rule
// at that priority matches them, a rule at another never does.
func TestBGPFilterPriority(t *testing.T) {
	prio := func(r v3.BGPFilterRule, p int) v3.BGPFilterRule { r.Priority = &p; return r }
	normal := func(p int) *v3.BGPConfiguration {
		return bgpCfg("default", func(s *v3.BGPConfigurationSpec) { s.IPv4NormalRoutePriority = &p })
	}
	for _, tc := range []struct {
		name                   string
		cfg                    *v3.BGPConfiguration
		imports, exports       []v3.BGPFilterRule
		wantImport, wantExport string
	}{
		{name: "import: the learned route's priority",
			imports:    []v3.BGPFilterRule{prio(v3.BGPFilterRule{Action: "Reject"}, 512), {Action: "Accept", CIDR: "10.9.0.0/16", MatchOperator: "In"}},
			wantImport: lines("reject priority:512", "accept 10.9.0.0/16{16,32}")},
		{name: "export at the normal priority: this node's routes, and learned routes at it",
			exports:    []v3.BGPFilterRule{prio(v3.BGPFilterRule{Action: "Reject", CIDR: "10.244.0.0/16", MatchOperator: "In"}, 1024)},
			wantExport: lines("reject local 10.244.0.0/16{16,32}", "reject remote 10.244.0.0/16{16,32} priority:1024")},
		{name: "export at another priority: learned routes only",
			exports:    []v3.BGPFilterRule{prio(v3.BGPFilterRule{Action: "Reject"}, 512), prio(v3.BGPFilterRule{Action: "Accept", Source: "RemotePeers"}, 100)},
			wantExport: lines("reject remote priority:512", "accept remote priority:100")},
		{name: "ipv4NormalRoutePriority moves what this node's routes match", cfg: normal(512),
			exports:    []v3.BGPFilterRule{prio(v3.BGPFilterRule{Action: "Reject"}, 512), prio(v3.BGPFilterRule{Action: "Reject"}, 1024)},
			wantExport: lines("reject local", "reject remote priority:512", "reject remote priority:1024")},
		{name: "with an interface: the workloads behind it only at the normal priority",
			exports: []v3.BGPFilterRule{
				prio(v3.BGPFilterRule{Action: "Reject", Interface: "cali*"}, 1024),
				prio(v3.BGPFilterRule{Action: "Reject", Interface: "cali*"}, 7),
				prio(v3.BGPFilterRule{Action: "Accept", Interface: "eth0"}, 7)},
			wantExport: lines("reject local 10.244.2.7/32{32,32}", "accept remote priority:7")},
		{name: "no priority: any route, as before",
			exports:    []v3.BGPFilterRule{{Action: "Reject"}},
			wantExport: "reject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := BGPInput{Filters: []*v3.BGPFilter{filter("f", v3.BGPFilterSpec{ImportV4: tc.imports, ExportV4: tc.exports})},
				Peers: []*v3.BGPPeer{bgpPeer("tor", v3.BGPPeerSpec{PeerIP: "10.0.0.254", ASNumber: 65000, Filters: []string{"f"}})}}
			if tc.cfg != nil {
				bin.Configs = []*v3.BGPConfiguration{tc.cfg}
			}
			d := BGP(filterInput(), bin)
			i := slices.IndexFunc(d.Peers, func(p BGPPeer) bool { return p.Name == "Global_10_0_0_254" })
			if i < 0 {
				t.Fatalf("no session to the ToR: %+v", d.Peers)
			}
			if got := ruleLines(d.Peers[i].Import); got != tc.wantImport {
				t.Errorf("import:\n%s\nwant:\n%s", got, tc.wantImport)
			}
			if got := ruleLines(d.Peers[i].Export); got != tc.wantExport {
				t.Errorf("export:\n%s\nwant:\n%s", got, tc.wantExport)
			}
		})
	}
}

// This node's routes carry LOCAL_PREF 2147483647 minus the normal
// priority, as Calico's BIRD sends them, so an iBGP peer reads their
// priority back.
func TestBGPRoutesLocalPref(t *testing.T) {
	for _, tc := range []struct {
		cfg  []*v3.BGPConfiguration
		want uint32
	}{
		{nil, 2147482623},
		{[]*v3.BGPConfiguration{bgpCfg("default", func(s *v3.BGPConfigurationSpec) { p := 512; s.IPv4NormalRoutePriority = &p })}, 2147483135},
	} {
		d := BGP(filterInput(), BGPInput{Configs: tc.cfg})
		if len(d.Routes) == 0 {
			t.Fatal("no routes")
		}
		for _, r := range d.Routes {
			if r.LocalPref != tc.want {
				t.Errorf("%s: LOCAL_PREF %d, want %d", r.Prefix, r.LocalPref, tc.want)
			}
		}
	}
}
