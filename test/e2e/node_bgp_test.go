package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 12, scenarios §2 and §4: every node a BGP router. With ipipMode
// and vxlanMode Never the routes to other nodes' blocks are the ones the
// agents learn from each other over BGP; `tortiectl node status` in a
// node shows the sessions.

func bgpNodes(n int) string {
	var b strings.Builder
	b.WriteString("pool: {ipipMode: Never, vxlanMode: Never}\nnodes:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {name: node%d}\n", i)
	}
	b.WriteString("pods:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {name: p%d, node: node%d}\n", i, i)
	}
	return b.String()
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
	l := upNodeLab(t, "nbgpm", bgpNodes(3))
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
	l.pingAll("mesh of 3")
}

// Scenario §4 (seed 002): from the mesh to two route reflectors on a
// running cluster, and back. Sessions per node drop to the reflectors;
// traffic keeps working.
func TestNodeBGPRouteReflectors(t *testing.T) {
	nodeLabNeeds(t)
	t.Parallel()
	l := upNodeLab(t, "nbgprr", bgpNodes(4))
	c := l.cluster()
	c.waitRemoteBlocks()
	l.pingAll("mesh of 4")

	for _, rr := range []string{"node1", "node2"} {
		l.tortiectlIn("label", "nodes", rr, "route-reflector=true")
		l.tortiectlIn("patch", "node", rr, "-p", `{"spec":{"bgp":{"routeReflectorClusterID":"224.0.0.1"}}}`)
	}
	file := filepath.Join(t.TempDir(), "rr.yaml")
	doc := `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: peer-with-route-reflectors
spec:
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  nodeToNodeMeshEnabled: false
  asNumber: 64512
`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	l.tortiectlIn("apply", "-f", file)
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
