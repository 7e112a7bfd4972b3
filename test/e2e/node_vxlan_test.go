package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// threeNodes is the lab: node1 and node2 on subnet s1, node3 on s2
// behind the underlay router, one pod on each node.
func threeNodes(pool string) string {
	return `subnets:
  - {name: s1, cidr: 172.31.1.0/24}
  - {name: s2, cidr: 172.31.2.0/24}
pool: ` + pool + `
nodes:
  - {name: node1, interfaces: [{name: eth0, subnet: s1}]}
  - {name: node2, interfaces: [{name: eth0, subnet: s1}]}
  - {name: node3, interfaces: [{name: eth0, subnet: s2}]}
pods:
  - {name: p1, node: node1}
  - {name: p2, node: node2}
  - {name: p3, node: node3}
`
}

// Scenarios §1–2 with VXLAN CrossSubnet: node1 and node2 route each
// other's blocks directly over eth0, node3 is reached through vxlan.calico.
func TestNodeVXLANCrossSubnet(t *testing.T) {
	nodeLabNeeds(t, "tcpdump")
	t.Parallel()
	testVXLAN(t, "nvxcs", "CrossSubnet")
}

// The same lab with VXLAN Always: every remote block goes through
// vxlan.calico, also between node1 and node2 on the same subnet.
func TestNodeVXLANAlways(t *testing.T) {
	nodeLabNeeds(t, "tcpdump")
	t.Parallel()
	testVXLAN(t, "nvxal", "Always")
}

func testVXLAN(t *testing.T, prefix, mode string) {
	l := upNodeLab(t, prefix, threeNodes("{vxlanMode: "+mode+"}"))
	c := l.cluster()
	c.checkNodeResources(t, "vxlan")
	for _, n := range c.nodes {
		waitFor(t, n.name+": routes of scenarios §1–2", func() error { return c.routeErrs(n, mode) })
		c.checkVXLANDevice(t, n, mode)
		c.checkMTU(t, n, 1450)
	}
	l.pingAll("VXLAN " + mode)

	// The wire: pod addresses directly on the underlay between node1 and
	// node2 under CrossSubnet, VXLAN (UDP 4789) otherwise.
	p1, p2, p3 := c.pods["default/p1"], c.pods["default/p2"], c.pods["default/p3"]
	n1, n2, n3 := c.node("node1"), c.node("node2"), c.node("node3")
	ping := func(dst string) func() {
		return func() {
			if err := pingFromPod(p1.netns, dst); err != nil {
				t.Error(err)
			}
		}
	}
	if mode == "CrossSubnet" {
		capture(t, l.nodeNS("node1"), "eth0", fmt.Sprintf("icmp and src %s and dst %s", p1.ip, p2.ip), 1, ping(p2.ip))
	} else {
		capture(t, l.nodeNS("node1"), "eth0", fmt.Sprintf("udp dst port 4789 and src %s and dst %s", n1.ip, n2.ip), 1, ping(p2.ip))
	}
	capture(t, l.nodeNS("node1"), "eth0", fmt.Sprintf("udp dst port 4789 and src %s and dst %s", n1.ip, n3.ip), 1, ping(p3.ip))
}

// checkVXLANDevice: vxlan.calico with VNI 4096, UDP 4789, the node's
// address as local VTEP, underlay MTU - 50, the tunnel address; and a
// permanent ARP and FDB entry for every peer reached through it.
func (c *labCluster) checkVXLANDevice(t *testing.T, n *labNode, mode string) {
	t.Helper()
	links := c.l.links(c.l.nodeNS(n.name))
	v, ok := links["vxlan.calico"]
	if !ok {
		t.Errorf("node %s: no vxlan.calico device", n.name)
		return
	}
	d := v.LinkInfo.Data
	if v.LinkInfo.Kind != "vxlan" || d.ID != 4096 || d.Port != 4789 || d.Local != n.ip || d.Learning {
		t.Errorf("node %s: vxlan.calico is %s id %d port %d local %s learning %t; want vxlan id 4096 port 4789 local %s nolearning",
			n.name, v.LinkInfo.Kind, d.ID, d.Port, d.Local, d.Learning, n.ip)
	}
	if want := links[n.iface].MTU - 50; v.MTU != want {
		t.Errorf("node %s: vxlan.calico MTU %d, want %d (%s MTU %d - 50)", n.name, v.MTU, want, n.iface, links[n.iface].MTU)
	}
	if !slices.Contains(v.Flags, "UP") {
		t.Errorf("node %s: vxlan.calico is down: %v", n.name, v.Flags)
	}
	if got := v.ipv4(); !slices.Equal(got, []string{n.tunnel + "/32"}) {
		t.Errorf("node %s: vxlan.calico addresses %v, want the tunnel address %s/32", n.name, got, n.tunnel)
	}
	var neighs []kNeigh
	c.l.jsonIn(c.l.nodeNS(n.name), &neighs, "ip", "-j", "neigh", "show", "dev", "vxlan.calico")
	var fdb []kFDB
	c.l.jsonIn(c.l.nodeNS(n.name), &fdb, bridgeTool(t), "-j", "fdb", "show", "dev", "vxlan.calico")
	for _, m := range c.nodes {
		if m == n || !tunnelled(mode, n, m) {
			continue
		}
		mac := c.l.links(c.l.nodeNS(m.name))["vxlan.calico"].Address
		if !slices.ContainsFunc(neighs, func(e kNeigh) bool {
			return e.Dst == m.tunnel && e.LLAddr == mac && slices.Contains(e.State, "PERMANENT")
		}) {
			t.Errorf("node %s: no permanent neighbour %s lladdr %s (%s's VTEP) on vxlan.calico: %+v", n.name, m.tunnel, mac, m.name, neighs)
		}
		if !slices.ContainsFunc(fdb, func(e kFDB) bool {
			return e.MAC == mac && e.Dst == m.ip && e.State == "permanent"
		}) {
			t.Errorf("node %s: no permanent FDB entry %s dst %s (%s's VTEP) on vxlan.calico: %+v", n.name, mac, m.ip, m.name, fdb)
		}
	}
}

// kNeigh and kFDB are entries as `ip -j neigh` and `bridge -j fdb` print them.
type kNeigh struct {
	Dst    string   `json:"dst"`
	LLAddr string   `json:"lladdr"`
	State  []string `json:"state"`
}

type kFDB struct {
	MAC   string `json:"mac"`
	Dst   string `json:"dst"`
	State string `json:"state"`
}

// checkMTU: the MTU file the agent writes for the CNI plugin, and the
// eth0 of each pod on n (with the inside-pod routes of scenario §1).
func (c *labCluster) checkMTU(t *testing.T, n *labNode, want int) {
	t.Helper()
	file := filepath.Join(c.l.stateDir, c.l.name, "nodes", n.name, "lib", "mtu")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Errorf("node %s: %v", n.name, err)
	} else if got, _ := strconv.Atoi(strings.TrimSpace(string(data))); got != want {
		t.Errorf("node %s: MTU file says %q, want %d", n.name, data, want)
	}
	for _, p := range n.pods {
		if mtu := c.l.links(p.netns)["eth0"].MTU; mtu != want {
			t.Errorf("pod %s: eth0 MTU %d, want %d", p.key, mtu, want)
		}
		var rs []kRoute
		c.l.jsonIn(p.netns, &rs, "ip", "-j", "-4", "route")
		var got []string
		for _, r := range rs {
			got = append(got, r.String())
		}
		wantRoutes := []string{"default via 169.254.1.1 dev eth0", "169.254.1.1 dev eth0 scope link"}
		if !slices.Equal(got, wantRoutes) {
			t.Errorf("pod %s: routes %q, want %q", p.key, got, wantRoutes)
		}
	}
}
