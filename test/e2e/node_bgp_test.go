package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tortienet/tortie/internal/lab"
	"github.com/tortienet/tortie/internal/lab/topo"
)

// Issue 12, scenarios §2 and §4: every node a BGP router. With ipipMode
// and vxlanMode Never the routes to other nodes' blocks are the ones the
// agents learn from each other over BGP; `tortiectl node status` in a
// node shows the sessions.

// examplePath is a topology or resource file of examples/lab: the e2e
// tests bring up the examples users are pointed to.
func examplePath(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "..", "examples", "lab", name))
	return p
}

func example(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(examplePath(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// nodeStatus runs `tortiectl node status` inside a node, as a user would
// through `lab exec`.
func (l *nodeLab) nodeStatus(node string) string {
	l.t.Helper()
	return l.mustRun("exec", node, "--", bin("tortiectl"), "node", "status")
}

// sessions counts node status rows of a peer type that are up.
func sessions(status, peerType string) int {
	n := 0
	for _, line := range strings.Split(status, "\n") {
		if strings.Contains(line, "| "+peerType+" ") && strings.Contains(line, "| up ") && strings.Contains(line, "Established") {
			n++
		}
	}
	return n
}

// waitRemoteBlocks waits until every node routes every other node's block
// via that node on the underlay.
func (c *labCluster) waitRemoteBlocks() {
	for _, n := range c.nodes {
		waitFor(c.l.t, n.name+": routes to the other nodes' blocks", func() error {
			have := map[string]bool{}
			for _, r := range c.l.routes(n.name) {
				have[r.String()] = true
			}
			for _, m := range c.nodes {
				for _, b := range m.blocks {
					want := fmt.Sprintf("%s via %s dev %s proto 80", b, m.ip, n.iface)
					if m != n && !have[want] {
						return fmt.Errorf("no route %q", want)
					}
				}
			}
			return nil
		})
	}
}

func TestNodeBGPMesh(t *testing.T) {
	nodeLabNeeds(t)
	t.Parallel()
	l := upNodeLab(t, "nbgpm", example(t, "bgp-mesh.yaml"))
	c := l.cluster()
	c.waitRemoteBlocks()
	for _, n := range c.nodes {
		waitFor(t, n.name+": node status", func() error {
			st := l.nodeStatus(n.name)
			if !strings.HasPrefix(st, "Calico process is running.\n\nIPv4 BGP status\n") || sessions(st, "node-to-node mesh") != 2 {
				return fmt.Errorf("want 2 mesh sessions up:\n%s", st)
			}
			return nil
		})
	}
	up := 0
	for _, ss := range l.status().Sessions {
		if ss.Type == "node-to-node mesh" && ss.State == "Established" && strings.HasPrefix(ss.Peer, "node") {
			up++
		}
	}
	if up != 6 {
		t.Errorf("lab status shows %d mesh sessions Established, want 6: %+v", up, l.status().Sessions)
	}
	l.pingAll("mesh of 3")
}

// Scenario §4 (seed 002): from the mesh to two route reflectors on a
// running cluster, and back. Sessions per node drop to the reflectors;
// traffic keeps working.
func TestNodeBGPRouteReflectors(t *testing.T) {
	nodeLabNeeds(t)
	t.Parallel()
	l := upNodeLab(t, "nbgprr", example(t, "bgp-route-reflectors.yaml"))
	c := l.cluster()
	c.waitRemoteBlocks()
	l.pingAll("mesh of 4")

	for _, rr := range []string{"node1", "node2"} {
		l.tortiectlIn("label", "nodes", rr, "route-reflector=true")
		l.tortiectlIn("patch", "node", rr, "-p", `{"spec":{"bgp":{"routeReflectorClusterID":"224.0.0.1"}}}`)
	}
	l.tortiectlIn("apply", "-f", examplePath("route-reflectors.yaml"))
	want := map[string]int{"node1": 3, "node2": 3, "node3": 2, "node4": 2}
	for node, n := range want {
		waitFor(t, node+": sessions with the reflectors only", func() error {
			st := l.nodeStatus(node)
			if sessions(st, "node specific") != n || sessions(st, "node-to-node mesh") != 0 {
				return fmt.Errorf("want %d node specific sessions up and no mesh:\n%s", n, st)
			}
			return nil
		})
	}
	c.waitRemoteBlocks()
	l.pingAll("with route reflectors")

	l.tortiectlIn("delete", "bgppeer", "peer-with-route-reflectors")
	l.tortiectlIn("patch", "bgpconfiguration", "default", "-p", `{"spec":{"nodeToNodeMeshEnabled":true}}`)
	for _, node := range []string{"node3", "node4"} {
		waitFor(t, node+": back to the mesh", func() error {
			st := l.nodeStatus(node)
			if sessions(st, "node-to-node mesh") != 1 || sessions(st, "node specific") != 0 {
				// the reflectors stay out of the mesh while they keep their cluster ID
				return fmt.Errorf("want the mesh without the reflectors:\n%s", st)
			}
			return nil
		})
	}
}

// The racks example: two racks in their own ASes behind bird2 and frr
// top-of-rack routers, the mesh off, no encapsulation. The routers learn
// each node's block with the node as next hop; the nodes route the other
// rack's blocks via their ToR; pods reach each other across racks.
func TestNodeBGPRacks(t *testing.T) {
	nodeLabNeeds(t, "bird", "vtysh")
	t.Parallel()
	l := upNodeLab(t, "nbgptor", example(t, "bgp-racks.yaml"))
	c := l.cluster()
	st := l.status()
	tor := map[string]string{} // rack subnet -> its ToR's address there
	for _, r := range st.Routers {
		for _, ifc := range r.Interfaces {
			for _, a := range ifc.Addrs {
				if strings.HasPrefix(a, "172.31.1.") || strings.HasPrefix(a, "172.31.2.") {
					tor[prefixOf(t, a).Masked().String()] = addrOnly(a)
				}
			}
		}
	}
	for _, n := range c.nodes {
		gw := tor[n.subnet.String()]
		waitFor(t, n.name+": blocks of the same rack direct, of the other rack via the ToR", func() error {
			have := map[string]bool{}
			for _, r := range c.l.routes(n.name) {
				have[r.String()] = true
			}
			for _, m := range c.nodes {
				via := gw
				if m.subnet == n.subnet {
					via = m.ip
				}
				for _, b := range m.blocks {
					if want := fmt.Sprintf("%s via %s dev %s proto 80", b, via, n.iface); m != n && !have[want] {
						return fmt.Errorf("no route %q", want)
					}
				}
			}
			return nil
		})
	}
	for _, r := range []string{"tor1", "tor2"} {
		netns := topo.NamespaceName(l.name, topo.KindRouter, r)
		waitFor(t, r+": each node of its rack's block with the node as next hop", func() error {
			for _, n := range c.nodes {
				local := false
				for _, ifc := range hostOfRouter(st, r).Interfaces {
					for _, a := range ifc.Addrs {
						local = local || prefixOf(t, a).Masked() == n.subnet
					}
				}
				for _, b := range n.blocks {
					out, err := l.in(netns, "ip", "-4", "route", "show", b)
					if err != nil {
						return err
					}
					if local && !strings.Contains(out, " via "+n.ip+" ") {
						return fmt.Errorf("%s: route to %s is %q, want via %s", r, b, out, n.ip)
					}
				}
			}
			return nil
		})
	}
	l.pingAll("across the racks")
}

func hostOfRouter(st *lab.Status, name string) lab.HostStatus {
	for _, r := range st.Routers {
		if r.Name == name {
			return r
		}
	}
	return lab.HostStatus{}
}

// Graceful restart both ways: an agent is killed (SIGKILL) and started
// again, under pings between pods on the two other nodes and across it.
// The other nodes keep its block while it is gone (its sessions had
// graceful restart); the restarted agent keeps its kernel routes and
// writes nothing once it has re-learned them; no echo is lost.
func TestNodeBGPGracefulRestart(t *testing.T) {
	nodeLabNeeds(t)
	t.Parallel()
	l := upNodeLab(t, "nbgpgr", example(t, "bgp-mesh.yaml"))
	c := l.cluster()
	c.waitRemoteBlocks()
	p1, p2, p3 := c.pods["default/p1"], c.pods["default/p2"], c.pods["default/p3"]
	pings := []*pingStream{
		startPings(t, p1.netns, p3.ip, "p1 -> p3 (beside the restart)"),
		startPings(t, p1.netns, p2.ip, "p1 -> p2 (to the restarted node)"),
		startPings(t, p2.netns, p3.ip, "p2 -> p3 (from the restarted node)"),
	}
	victim := c.node("node2")
	before := map[string]string{}
	for _, n := range c.nodes {
		before[n.name] = l.dataplane(n.name)
	}
	agent := l.process("tortie-node/node2")
	l.stop(agent, syscall.SIGKILL)
	for _, n := range []string{"node1", "node3"} {
		waitFor(t, n+": the session to node2 is down", func() error {
			if st := l.nodeStatus(n); strings.Contains(st, "| "+victim.ip+" ") && sessions(st, "node-to-node mesh") == 2 {
				return fmt.Errorf("still up:\n%s", st)
			}
			return nil
		})
		if got := l.dataplane(n); got != before[n] {
			t.Errorf("%s: with node2's agent dead its routes changed (graceful restart should keep them):\n%s", n, diffLines(before[n], got))
		}
	}
	l.start(agent)
	l.waitReady("node2")
	for _, n := range c.nodes {
		waitFor(t, n.name+": mesh up again", func() error {
			if st := l.nodeStatus(n.name); sessions(st, "node-to-node mesh") != 2 {
				return fmt.Errorf("not all up:\n%s", st)
			}
			return nil
		})
		if got := l.dataplane(n.name); got != before[n.name] {
			t.Errorf("%s: the restart changed the routes:\n%s", n.name, diffLines(before[n.name], got))
		}
	}
	if v, err := l.metric("node2", "tortie_dataplane_changes_total"); err != nil || v != "0" {
		t.Errorf("node2: after the restart the agent made %s kernel writes (%v), want 0", v, err)
	}
	for _, p := range pings {
		p.stop(t)
	}
}

// addr6In is the global IPv6 address on dev inside netns (with its
// prefix length), as iproute2 shows it.
func (l *nodeLab) addr6In(netns, dev string) (netip.Prefix, error) {
	var links []kLink
	out, err := l.in(netns, "ip", "-j", "-6", "addr", "show", "dev", dev, "scope", "global")
	if err != nil {
		return netip.Prefix{}, err
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return netip.Prefix{}, fmt.Errorf("ip -j -6 addr in %s: %v: %s", netns, err, out)
	}
	for _, lk := range links {
		for _, a := range lk.AddrInfo {
			if p, err := netip.ParsePrefix(fmt.Sprintf("%s/%d", a.Local, a.PrefixLen)); err == nil {
				return p, nil
			}
		}
	}
	return netip.Prefix{}, fmt.Errorf("no global IPv6 address on %s in %s", dev, netns)
}

// routes6 is a node's IPv6 main table.
func (l *nodeLab) routes6(node string) []kRoute {
	l.t.Helper()
	var rs []kRoute
	l.jsonIn(l.nodeNS(node), &rs, "ip", "-j", "-6", "route", "show", "table", "main")
	return rs
}

// Issue 12, IPv6: a dual-stack mesh of three nodes with no encapsulation.
// Every node has an IPv6 session to every other (node status's IPv6
// table), routes the others' IPv6 blocks via their IPv6 addresses on the
// underlay, and the pods reach each other over IPv6 across nodes, as they
// do over IPv4. Then the mesh gives way to a route reflector, which the
// IPv6 routes cross as the IPv4 ones do.
func TestNodeBGPMeshIPv6(t *testing.T) {
	nodeLabNeeds(t)
	t.Parallel()
	top := example(t, "bgp-mesh-dual-stack.yaml")
	for _, p := range []string{"p1", "p2", "p3"} {
		top = strings.Replace(top, "{name: "+p+",", "{name: "+p+", labels: {app: "+p+"},", 1)
	}
	l := upNodeLab(t, "nbgp6", top)
	c := l.cluster()
	l.openIPv6()
	c.waitRemoteBlocks()
	node6 := map[string]netip.Addr{} // node -> its IPv6 address
	block6 := map[string]netip.Prefix{}
	pod6 := map[string]netip.Addr{} // pod netns -> its IPv6 address
	for _, n := range c.nodes {
		a, err := l.addr6In(l.nodeNS(n.name), n.iface)
		if err != nil {
			t.Fatal(err)
		}
		node6[n.name] = a.Addr()
		for _, p := range n.pods {
			var pa netip.Prefix
			waitFor(t, p.key+": an IPv6 address", func() (err error) { pa, err = l.addr6In(p.netns, "eth0"); return err })
			pod6[p.netns] = pa.Addr()
			block6[n.name] = netip.PrefixFrom(pa.Addr(), 122).Masked()
		}
	}
	routes := func(when string) {
		t.Helper()
		for _, n := range c.nodes {
			waitFor(t, when+": "+n.name+": routes to the other nodes' IPv6 blocks", func() error {
				have := map[string]bool{}
				for _, r := range l.routes6(n.name) {
					have[r.String()] = true
				}
				for _, m := range c.nodes {
					want := fmt.Sprintf("%s via %s dev %s proto 80", block6[m.name], node6[m.name], n.iface)
					if m != n && !have[want] {
						return fmt.Errorf("no route %q in %v", want, have)
					}
				}
				return nil
			})
		}
	}
	ping6 := func(when string) {
		t.Helper()
		for _, p := range c.pods {
			for _, q := range c.pods {
				if p.key == q.key {
					continue
				}
				// waitFor: the agents may still be taking the open profile in.
				waitFor(t, fmt.Sprintf("%s: ping6 %s (%s) from %s", when, q.key, pod6[q.netns], p.key), func() error {
					return pingFromPod(p.netns, pod6[q.netns].String())
				})
			}
		}
	}
	// sessions6 waits until node's IPv6 table shows sessions of typ up to
	// exactly the nodes peers.
	sessions6 := func(node, typ string, peers ...string) {
		t.Helper()
		waitFor(t, node+": IPv6 node status", func() error {
			st := l.nodeStatus(node)
			_, v6, _ := strings.Cut(st, "IPv6 BGP status\n")
			if sessions(v6, typ) != len(peers) || strings.Count(v6, "| up ") != len(peers) {
				return fmt.Errorf("want %d IPv6 %s sessions up, and no other:\n%s", len(peers), typ, st)
			}
			for _, m := range peers {
				if !strings.Contains(v6, "| "+node6[m].String()+" ") {
					return fmt.Errorf("no IPv6 session to %s (%s):\n%s", m, node6[m], st)
				}
			}
			return nil
		})
	}
	routes("mesh")
	sessions6("node1", "node-to-node mesh", "node2", "node3")
	sessions6("node2", "node-to-node mesh", "node1", "node3")
	sessions6("node3", "node-to-node mesh", "node1", "node2")
	ping6("mesh")
	l.pingAll("dual-stack mesh of 3, IPv4")

	// node1 becomes the route reflector, the mesh goes: node2 and node3
	// now learn each other's IPv6 blocks only through node1's reflection
	// (not being peers, the datastore does not stand in for them).
	l.tortiectlIn("label", "nodes", "node1", "route-reflector=true")
	l.tortiectlIn("patch", "node", "node1", "-p", `{"spec":{"bgp":{"routeReflectorClusterID":"224.0.0.1"}}}`)
	l.tortiectlIn("apply", "-f", examplePath("route-reflectors.yaml"))
	sessions6("node1", "node specific", "node2", "node3")
	sessions6("node2", "node specific", "node1")
	sessions6("node3", "node specific", "node1")
	routes("route reflector")
	ping6("route reflector")
	l.isolateIPv6(c, pod6)
}

// openIPv6 makes the lab's pods open to IPv6: policy is compiled for
// IPv4 only, and IPv6 passes only to and from endpoints that no policy
// selects and whose profiles allow everything. The network's profile the
// CNI plugin makes admits only the network's members; this one, as
// Kubernetes' namespace profiles, admits everything.
func (l *nodeLab) openIPv6() {
	l.t.Helper()
	l.tortiectlIn("apply", "-f", l.yamlFile("open-profile.yaml", `apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: k8s-pod-network}
spec:
  ingress: [{action: Allow}]
  egress: [{action: Allow}]
  labelsToApply: {k8s-pod-network: ""}
`))
}

// yamlFile writes doc to a file of the test's and returns its path.
func (l *nodeLab) yamlFile(name, doc string) string {
	l.t.Helper()
	f := filepath.Join(l.t.TempDir(), name)
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return f
}

// isolateIPv6: a policy selecting p2 (ICMP in from p1 only) closes p2 to
// IPv6 altogether (fail closed: IPv6 policy is not compiled), while the
// open pods p1 and p3 still reach each other over IPv6, and IPv4 follows
// the policy. Deleting the policy opens p2 again.
func (l *nodeLab) isolateIPv6(c *labCluster, pod6 map[string]netip.Addr) {
	t := l.t
	t.Helper()
	pods := map[string]labPod{}
	for _, p := range c.pods {
		pods[p.key[strings.LastIndex(p.key, "/")+1:]] = p
	}
	policy := l.yamlFile("isolate-p2.yaml", `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: isolate-p2}
spec:
  selector: app == 'p2'
  types: [Ingress]
  ingress: [{action: Allow, protocol: ICMP, source: {selector: app == 'p1'}}]
`)
	l.tortiectlIn("apply", "-f", policy)
	expect := func(when, from, to string, v6, want bool) {
		t.Helper()
		dst := pods[to].ip
		if v6 {
			dst = pod6[pods[to].netns].String()
		}
		waitFor(t, fmt.Sprintf("%s: %s -> %s (%s)", when, from, to, dst), func() error {
			err := pingFromPod(pods[from].netns, dst)
			if want {
				return err
			}
			if err == nil {
				return errReached
			}
			return nil
		})
	}
	for _, e := range []struct {
		from, to string
		v6, want bool
	}{
		{"p1", "p2", false, true},  // the policy allows ICMP from p1
		{"p3", "p2", false, false}, // and from no one else
		{"p1", "p2", true, false},  // IPv6: p2 is not open
		{"p2", "p1", true, false},  // in either direction
		{"p1", "p3", true, true},   // open pods are not concerned
		{"p3", "p1", true, true},
	} {
		expect("isolated", e.from, e.to, e.v6, e.want)
	}
	l.tortiectlIn("delete", "-f", policy)
	expect("policy deleted", "p1", "p2", true, true)
	expect("policy deleted", "p2", "p3", true, true)
}

// An IPv6 BGPPeer: two dual-stack nodes, each in an AS of its own, the
// mesh off, each peering with a bird2 router in a third AS over IPv4 and
// over IPv6 (the lab gives each node a BGPPeer per family, the IPv6 one
// with an IPv6 peerIP). Each node learns the other's IPv6 block from the
// router, with the router as the next hop, and the pods reach each other
// over IPv6 through it. (With both nodes in one AS, each would refuse the
// other's routes: its own AS in the path.)
func TestNodeBGPPeerIPv6(t *testing.T) {
	nodeLabNeeds(t, "bird")
	t.Parallel()
	l := upNodeLab(t, "nbgp6tor", `subnets:
  - {name: s1, cidr: 172.31.1.0/24, cidr6: "fd00:ff:1::/64"}
pool: {ipipMode: Never, vxlanMode: Never, cidr6: "fd00:10::/48"}
nodes: [{name: node1, env: {AS: "65011"}}, {name: node2, env: {AS: "65012"}}]
routers: [{name: tor, kind: bird2, as: 65001}]
pods: [{name: p1, node: node1}, {name: p2, node: node2}]
apply: |
  apiVersion: projectcalico.org/v3
  kind: BGPConfiguration
  metadata: {name: default}
  spec: {nodeToNodeMeshEnabled: false}
`)
	c := l.cluster()
	tor, err := l.addr6In(topo.NamespaceName(l.name, topo.KindRouter, "tor"), "eth0")
	if err != nil {
		t.Fatal(err)
	}
	l.openIPv6() // the network's profile admits members only: IPv6 would be closed
	pod6 := map[string]netip.Addr{}
	for _, p := range c.pods {
		var pa netip.Prefix
		waitFor(t, p.key+": an IPv6 address", func() (err error) { pa, err = l.addr6In(p.netns, "eth0"); return err })
		pod6[p.key] = pa.Addr()
	}
	for _, n := range c.nodes {
		waitFor(t, n.name+": the IPv6 session to the router", func() error {
			st := l.nodeStatus(n.name)
			_, v6, _ := strings.Cut(st, "IPv6 BGP status\n")
			if sessions(v6, "node specific") != 1 || !strings.Contains(v6, "| "+tor.Addr().String()+" ") {
				return fmt.Errorf("want the node specific IPv6 session to %s up:\n%s", tor.Addr(), st)
			}
			return nil
		})
		for _, p := range c.pods {
			if p.node == n.name {
				continue
			}
			want := fmt.Sprintf("%s via %s dev %s proto 80", netip.PrefixFrom(pod6[p.key], 122).Masked(), tor.Addr(), n.iface)
			waitFor(t, n.name+": the other node's IPv6 block via the router", func() error {
				for _, r := range l.routes6(n.name) {
					if r.String() == want {
						return nil
					}
				}
				return fmt.Errorf("no route %q in %v", want, l.routes6(n.name))
			})
		}
	}
	for _, p := range c.pods {
		for _, q := range c.pods {
			if p.key != q.key {
				waitFor(t, fmt.Sprintf("ping6 %s (%s) from %s", q.key, pod6[q.key], p.key), func() error {
					return pingFromPod(p.netns, pod6[q.key].String())
				})
			}
		}
	}
}
