package e2e

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/lab/topo"
)

// Issue 6 (operations): while the datastore is unreachable every agent
// keeps the dataplane as it is — no kernel write, through several periodic
// resyncs — and pods keep talking; once it is back the agents resync: a
// pod made then on a node that had none claims a new block, and the other
// nodes route it.
func TestNodeDatastoreOutage(t *testing.T) {
	nodeLabNeeds(t, "nft")
	t.Parallel()
	// One subnet, no encapsulation: node3 has no pod, hence no block, until
	// the new pod comes. The route refresh (Felix's routeRefreshInterval)
	// runs every second, so the outage spans several resyncs.
	l := upNodeLab(t, "nds", `env: {FELIX_ROUTEREFRESHINTERVAL: "1"}
pool: {vxlanMode: Never, ipipMode: Never}
nodes:
  - {name: node1}
  - {name: node2}
  - {name: node3}
pods:
  - {name: p1, node: node1}
  - {name: p2, node: node2}
`)
	c := l.cluster()
	for _, n := range c.nodes {
		waitFor(t, n.name+": routes", func() error { return c.routeErrs(n, "Never") })
	}
	p1, p2 := c.pods["default/p1"], c.pods["default/p2"]
	pings := []*pingStream{
		startPings(t, p1.netns, p2.ip, "p1 -> p2"),
		startPings(t, p2.netns, p1.ip, "p2 -> p1"),
	}
	before := map[string]string{}
	mons := map[string]*monitors{}
	for _, n := range c.nodes {
		before[n.name] = l.dataplane(n.name)
		mons[n.name] = startMonitors(t, l, l.nodeNS(n.name))
	}

	ds := l.process("datastore")
	l.stop(ds, syscall.SIGKILL)
	if _, _, code := l.run("exec", "underlay", "--", bin("tortiectl"), "--timeout", "2s", "get", "nodes"); code == 0 {
		t.Fatal("the datastore still answers after it was killed")
	}
	// An observation window, not a threshold: long enough for several of
	// the agents' one-second resyncs to run against the lost datastore.
	time.Sleep(4 * time.Second)
	for _, n := range c.nodes {
		agent := l.process("tortie-node/" + n.name) // fails if the agent exited
		if got := l.dataplane(n.name); got != before[n.name] {
			t.Errorf("%s: the dataplane changed while the datastore was down:\n%s", n.name, diffLines(before[n.name], got))
		}
		if events := mons[n.name].stop(t); len(events) > 0 {
			t.Errorf("%s: kernel writes while the datastore was down:\n  %s", n.name, strings.Join(events, "\n  "))
		}
		// Alive, keeping the dataplane, and saying it cannot see the datastore.
		if r, err := l.readiness(n.name); err != nil || !r.Live || r.Ready || !strings.Contains(r.Error, "datastore unreachable") {
			t.Errorf("%s (pid %d): readiness while the datastore is down: %+v %v; want live, not ready, \"datastore unreachable\"", n.name, agent.Pid, r, err)
		}
	}
	// (Not `lab ping`: its status read waits for the datastore.)
	for _, pair := range [][2]labPod{{p1, p2}, {p2, p1}} {
		if err := pingFromPod(pair[0].netns, pair[1].ip); err != nil {
			t.Errorf("datastore down: %v", err)
		}
	}

	l.start(ds)
	waitFor(t, "the datastore answers again", func() error {
		if out, errOut, code := l.run("exec", "underlay", "--", bin("tortiectl"), "get", "nodes"); code != 0 {
			return fmt.Errorf("exit %d: %s%s", code, out, errOut)
		}
		return nil
	})
	for _, n := range c.nodes {
		l.waitReady(n.name)
	}
	newIP := l.addPod(t, "node3", "pnew")
	newNS := topo.PodNamespaceName(l.name, topo.Pod{Namespace: "default", Name: "pnew"})

	c = l.cluster()
	if len(c.node("node3").blocks) == 0 {
		t.Fatalf("node3 claimed no block for the new pod %s", newIP)
	}
	if _, ok := c.pods["default/pnew"]; !ok {
		t.Fatalf("lab status does not list the new pod: %v", c.pods)
	}
	for _, n := range c.nodes {
		waitFor(t, n.name+": routes after the datastore came back", func() error { return c.routeErrs(n, "Never") })
	}
	if !slices.ContainsFunc(l.routes("node3"), func(r kRoute) bool {
		return r.Dst == newIP && strings.HasPrefix(r.Dev, "cali") && r.Scope == "link"
	}) {
		t.Errorf("node3 has no route to the new pod %s: %v", newIP, l.routes("node3"))
	}
	for _, p := range []labPod{p1, p2} {
		if err := pingFromPod(p.netns, newIP); err != nil {
			t.Errorf("to the new pod: %v", err)
		}
		if err := pingFromPod(newNS, p.ip); err != nil {
			t.Errorf("from the new pod: %v", err)
		}
	}
	for _, p := range pings {
		p.stop(t)
	}
}

// addPod adds a pod to the lab (`lab add-pod`) and returns its address.
func (l *nodeLab) addPod(t *testing.T, node, name string) string {
	t.Helper()
	t.Log(l.mustRun("add-pod", "--node", node, name))
	for _, p := range l.state().Pods {
		if p.Key == "default/"+name && len(p.IPs) > 0 {
			return addrOnly(p.IPs[0])
		}
	}
	t.Fatalf("lab add-pod %s: the state file has no address for it", name)
	return ""
}
