package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/lab/topo"
)

// BGPFilters between two nodes of the mesh example: a BGPPeer from node1
// to node2 (it takes the place of their mesh session, and node2 peers back
// with the same filter) whose filter rejects node2's block on import and
// node1's block on export. node1's kernel then has no route to node2's
// block, node2's none to node1's; node3 keeps both, and both keep node3's
// (the datastore does not stand in for a filtered session). Deleting the
// filter brings the routes back, with the sessions left up.
func TestNodeBGPFiltersMesh(t *testing.T) {
	nodeLabNeeds(t)
	t.Parallel()
	l := upNodeLab(t, "nbgpfm", example(t, "bgp-mesh.yaml"))
	c := l.cluster()
	c.waitRemoteBlocks()
	n1, n2, n3 := c.node("node1"), c.node("node2"), c.node("node3")
	has := func(n *labNode, block string) bool { return l.routeOnNode(n, block) }
	doc := fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: apart
spec:
  importV4:
  - {action: Reject, matchOperator: Equal, cidr: %s}
  exportV4:
  - {action: Reject, matchOperator: In, cidr: %s}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: node1-node2
spec:
  node: node1
  peerIP: %s
  asNumber: 64512
  filters: [apart]
`, n2.blocks[0], n1.blocks[0], n2.ip)
	l.tortiectlIn("apply", "-f", l.writeFile(t, "filters.yaml", doc))
	for _, node := range []string{"node1", "node2"} {
		waitFor(t, node+": the filtered session and one mesh session up", func() error {
			if st := l.nodeStatus(node); sessions(st, "node specific") != 1 || sessions(st, "node-to-node mesh") != 1 {
				return fmt.Errorf("want one node specific and one mesh session up:\n%s", st)
			}
			return nil
		})
	}
	want(t, "import Reject: node2's block gone from node1; export Reject: node1's block gone from node2", func() bool {
		return !has(n1, n2.blocks[0]) && !has(n2, n1.blocks[0])
	})
	for _, x := range []struct {
		n     *labNode
		block string
	}{{n1, n3.blocks[0]}, {n2, n3.blocks[0]}, {n3, n1.blocks[0]}, {n3, n2.blocks[0]}} {
		if !has(x.n, x.block) {
			t.Errorf("%s lost its route to %s: the filter took more than it matches", x.n.name, x.block)
		}
	}
	l.tortiectlIn("delete", "bgpfilter", "apart")
	want(t, "filter deleted: the routes back", func() bool { return has(n1, n2.blocks[0]) && has(n2, n1.blocks[0]) })
}

func (l *nodeLab) routeOnNode(node *labNode, block string) bool {
	for _, r := range l.routes(node.name) {
		if strings.HasPrefix(r.String(), block+" via ") {
			return true
		}
	}
	return false
}

func (l *nodeLab) writeFile(t *testing.T, name, doc string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// want waits until cond holds.
func want(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitFor(t, what, func() error {
		if !cond() {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}

// BGPFilters on the racks example, on the sessions of rack 1's nodes to
// their bird2 ToR: an import Reject on node1's session keeps one of
// node3's blocks out of node1's kernel (node4's still comes through the
// same ToR); an export Reject on node2's session keeps node2's block from
// the ToR (node1's still reaches it). Taking the filters off brings both
// back, with the sessions left up.
func TestNodeBGPFilters(t *testing.T) {
	nodeLabNeeds(t, "bird", "vtysh")
	t.Parallel()
	l := upNodeLab(t, "nbgpflt", example(t, "bgp-racks.yaml"))
	c := l.cluster()
	n1, n2, n3, n4 := c.node("node1"), c.node("node2"), c.node("node3"), c.node("node4")
	if len(n2.blocks) == 0 || len(n3.blocks) == 0 || len(n4.blocks) == 0 {
		t.Fatalf("want a block on node2, node3 and node4: %v %v %v", n2.blocks, n3.blocks, n4.blocks)
	}
	tor1 := topo.NamespaceName(l.name, topo.KindRouter, "tor1")
	routeOnNode := l.routeOnNode
	routeOnTor := func(block string) bool {
		out, err := l.in(tor1, "ip", "-4", "route", "show", block)
		return err == nil && strings.Contains(out, " via ")
	}
	want(t, "node3's and node4's blocks on node1, node1's and node2's on tor1", func() bool {
		return routeOnNode(n1, n3.blocks[0]) && routeOnNode(n1, n4.blocks[0]) &&
			routeOnTor(n1.blocks[0]) && routeOnTor(n2.blocks[0])
	})

	doc := fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: no-node3-block
spec:
  importV4:
  - {action: Reject, matchOperator: Equal, cidr: %s}
---
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: keep-node2-block
spec:
  exportV4:
  - {action: Reject, matchOperator: In, cidr: %s}
`, n3.blocks[0], n2.blocks[0])
	l.tortiectlIn("apply", "-f", l.writeFile(t, "filters.yaml", doc))
	l.tortiectlIn("patch", "bgppeer", "lab-tor1-node1", "-p", `{"spec":{"filters":["no-node3-block"]}}`)
	l.tortiectlIn("patch", "bgppeer", "lab-tor1-node2", "-p", `{"spec":{"filters":["keep-node2-block"]}}`)
	want(t, "import Reject: node3's block gone from node1's kernel", func() bool { return !routeOnNode(n1, n3.blocks[0]) })
	want(t, "export Reject: node2's block gone from tor1", func() bool { return !routeOnTor(n2.blocks[0]) })
	if !routeOnNode(n1, n4.blocks[0]) || !routeOnTor(n1.blocks[0]) {
		t.Errorf("the filters took more than they match: node4's block on node1 %v, node1's on tor1 %v",
			routeOnNode(n1, n4.blocks[0]), routeOnTor(n1.blocks[0]))
	}
	for _, node := range []string{"node1", "node2"} {
		if st := l.nodeStatus(node); sessions(st, "node specific") != 1 {
			t.Errorf("%s: want its session to tor1 up:\n%s", node, st)
		}
	}

	l.tortiectlIn("patch", "bgppeer", "lab-tor1-node1", "-p", `{"spec":{"filters":[]}}`)
	l.tortiectlIn("patch", "bgppeer", "lab-tor1-node2", "-p", `{"spec":{"filters":[]}}`)
	want(t, "filters off: both routes back", func() bool { return routeOnNode(n1, n3.blocks[0]) && routeOnTor(n2.blocks[0]) })
}
