package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
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
			t.Errorf("%s (pid %d): readiness while the datastore is down: %+v %v; want live, not ready, \"datastore unreachable\"", n.name, agent.rec.Pid, r, err)
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
	for _, n := range c.nodes {
		// The new pod is not in the lab's records: check its route by hand.
		if n.name == "node3" {
			n.pods = nil
		}
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

// addPod makes a pod the lab does not know, the way the lab makes its pods
// (libcni with the node's conflist, plugins run inside the node's
// namespace), in a namespace named like the lab's pods so that `lab down`
// removes it. It returns the pod's address.
func (l *nodeLab) addPod(t *testing.T, node, name string) string {
	t.Helper()
	st := l.state()
	pod := topo.Pod{Namespace: "default", Name: name, Node: node}
	netns := topo.PodNamespaceName(l.name, pod)
	if err := ns.Create(netns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Delete(netns) })
	list, err := libcni.ConfListFromFile(filepath.Join(st.Dir, "nodes", node, "net.d", "10-tortie.conflist"))
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("e2e-%s-%s", l.name, name)
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: ns.Path(netns), IfName: "eth0", Args: [][2]string{
		{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", pod.Namespace}, {"K8S_POD_NAME", name}, {"K8S_POD_INFRA_CONTAINER_ID", id},
	}}
	cni := libcni.NewCNIConfigWithCacheDir(st.CNIPath, t.TempDir(), nodeExec{netns: l.nodeNS(node)})
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	res, err := cni.AddNetworkList(ctx, list, rt)
	if err != nil {
		t.Fatalf("CNI ADD of %s on %s: %v", name, node, err)
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil || len(r.IPs) == 0 {
		t.Fatalf("CNI ADD of %s: result %v: %v", name, res, err)
	}
	return r.IPs[0].Address.IP.String()
}

// nodeExec runs CNI plugins inside a node's namespace, as the lab does.
type nodeExec struct{ netns string }

var _ invoke.Exec = nodeExec{}

func (e nodeExec) ExecPlugin(ctx context.Context, pluginPath string, stdin []byte, environ []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", e.netns, pluginPath)
	cmd.Env = environ
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var perr types.Error
		if json.Unmarshal(stdout.Bytes(), &perr) == nil && perr.Code != 0 {
			return nil, &perr
		}
		return nil, fmt.Errorf("%s in %s: %w: %s%s", pluginPath, e.netns, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

func (nodeExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

func (nodeExec) Decode(data []byte) (version.PluginInfo, error) {
	var d version.PluginDecoder
	return d.Decode(data)
}
