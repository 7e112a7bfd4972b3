package lab

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/lab/topo"
)

// testLab is a Lab on a resolved topology and a state file in a temporary
// directory, touching no namespace.
func testLab(t *testing.T, top *topo.Topology, cni string) *Lab {
	t.Helper()
	if err := topo.Resolve(top); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), top.Name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st := &State{Name: top.Name, Dir: dir, Topology: top, CNI: cni, BinDir: "/opt/tortie/bin",
		CNIPath: []string{"/opt/tortie/bin", "/root/go/bin"}, Datastore: "http://172.31.1.1:2379"}
	cfg := Config{Root: filepath.Dir(dir)}.withDefaults()
	return &Lab{cfg: cfg, log: cfg.Logger, top: top, rec: &recorder{path: filepath.Join(dir, stateFile), st: st}}
}

func TestConflists(t *testing.T) {
	top := topo.Generate(topo.GenerateOptions{Name: "c", Nodes: 2, PodsPerNode: 1, Underlay: topo.UnderlayL2})
	top.Pool.VXLANMode = "Always"
	for _, tc := range []struct{ cni, want string }{
		{topo.CNITortie, `"etcd_endpoints":"http://172.31.1.1:2379"`},
		{topo.CNIPtp, `"subnet":"10.244.1.0/24"`},
		{topo.CNIBridge, `"isGateway":true`},
	} {
		l := testLab(t, top, tc.cni)
		d := l.dirsOf("node2")
		data, err := l.conflist(top.Nodes[1], 1, d)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			CNIVersion string           `json:"cniVersion"`
			Name       string           `json:"name"`
			Plugins    []map[string]any `json:"plugins"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			t.Fatal(err)
		}
		compact, _ := json.Marshal(list.Plugins[0])
		if !strings.Contains(string(compact), tc.want) {
			t.Errorf("%s conflist %s lacks %s", tc.cni, compact, tc.want)
		}
		// The upstream plugins get the MTU less the encapsulation; tortie
		// gets 0 and reads the node's MTU file.
		wantMTU := float64(1450)
		if tc.cni == topo.CNITortie {
			wantMTU = 0
			if got := list.Plugins[0]["state_dir"]; got != d.lib {
				t.Errorf("state_dir %v, want %s", got, d.lib)
			}
		}
		if list.Plugins[0]["mtu"] != wantMTU {
			t.Errorf("%s: mtu %v, want %v", tc.cni, list.Plugins[0]["mtu"], wantMTU)
		}
		if tc.cni == topo.CNITortie {
			for _, k := range []string{"nodename", "nodename_file", "ipam"} {
				if list.Plugins[0][k] == nil {
					t.Errorf("tortie conflist lacks %s", k)
				}
			}
			if got := list.Plugins[0]["nodename_file"]; got != filepath.Join(d.lib, "nodename") {
				t.Errorf("nodename_file %v", got)
			}
		}
	}
}

func TestNodeSubnet(t *testing.T) {
	got, err := nodeSubnet(pfx("10.244.0.0/16"), 3)
	if err != nil || got != pfx("10.244.3.0/24") {
		t.Errorf("nodeSubnet = %v, %v", got, err)
	}
	if _, err := nodeSubnet(pfx("10.244.0.0/23"), 2); err == nil {
		t.Error("a /23 pool gave a third /24")
	}
}

func TestAgentEnv(t *testing.T) {
	top, err := topo.Parse([]byte(`
name: env
autodetect: first-found
env: {AS: "64512", FELIX_LOGSEVERITYSCREEN: info}
nodes:
  - {name: a, autodetect: "interface=ens33", env: {AS: "64513"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	l := testLab(t, top, topo.CNITortie)
	env := l.agentEnv(top.Nodes[0], l.dirsOf("a"))
	for _, want := range []string{"NODENAME=a", "ETCD_ENDPOINTS=http://172.31.1.1:2379", "IP_AUTODETECTION_METHOD=interface=ens33",
		"CALICO_IPV4POOL_CIDR=10.244.0.0/16", "CALICO_IPV4POOL_NAT_OUTGOING=true", "FELIX_LOGSEVERITYSCREEN=info"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s: %v", want, env)
		}
	}
	// The node's own AS comes after the topology's, so it wins.
	if i, j := slices.Index(env, "AS=64512"), slices.Index(env, "AS=64513"); i < 0 || j < i {
		t.Errorf("AS order in %v", env)
	}
}

func TestStateRoundTrip(t *testing.T) {
	top := topo.Generate(topo.GenerateOptions{Name: "rt", Nodes: 1, PodsPerNode: 1, Underlay: topo.UnderlayRouted, Outside: true})
	l := testLab(t, top, topo.CNIPtp)
	if err := l.recordLinks(LinkRecord{Netns: "tl-rt.ul", Name: "br-s1", Kind: "bridge"}); err != nil {
		t.Fatal(err)
	}
	back, err := LoadState(filepath.Dir(l.Dir()), "rt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(filepath.Dir(l.Dir()), "../rt"); err == nil {
		t.Error("a lab name with a path in it loaded")
	}
	if back.Links[0].Name != "br-s1" || back.Topology.Nodes[0].Interfaces[0].BridgePort != "node1-eth0" || back.Topology.Outside.Host.String() != "198.51.100.1" {
		t.Errorf("state after a round trip: %+v", back)
	}
}

func TestFind(t *testing.T) {
	top, err := topo.Parse([]byte(`
nodes: [{name: n1}, {name: n2}]
pods: [{name: web, node: n1}, {name: web, namespace: prod, node: n2}, {name: db, node: n2}]
`))
	if err != nil {
		t.Fatal(err)
	}
	l := testLab(t, top, topo.CNIPtp)
	for name, want := range map[string]string{"n1": "tl-lab.node.n1", "db": "tl-lab.pod.default.db", "prod/web": "tl-lab.pod.prod.web", "underlay": "tl-lab.ul"} {
		m, err := l.Find(name)
		if err != nil || m.Netns != want {
			t.Errorf("Find(%q) = %+v, %v; want %s", name, m, err, want)
		}
	}
	if _, err := l.Find("web"); err == nil || !strings.Contains(err.Error(), "use namespace/name") {
		t.Errorf("Find(web) = %v", err)
	}
	if _, err := l.Find("nope"); err == nil {
		t.Error("Find(nope) succeeded")
	}
}
