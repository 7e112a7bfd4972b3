package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// localPeerLab: two nodes in the default mesh, no encapsulation; the pod
// "speaker" on node1 is labelled to be a BGP peer of its node.
const localPeerLab = `pool: {ipipMode: Never, vxlanMode: Never}
nodes:
  - {name: node1}
  - {name: node2}
pods:
  - {name: speaker, node: node1, labels: {bgp: speaker}}
  - {name: p2, node: node2}
`

// childBlock is what the pod's BGP daemon announces (a child cluster's
// block, as in Calico's local BGP peer test).
const childBlock = "10.123.0.0/26"

// BGPPeer localWorkloadSelector: a pod on node1 runs bird2 in AS 65401 and
// peers with its node's address. node1 opens the session to the pod
// (node status shows it Established, PEER TYPE local workload), installs
// the block the pod announces via the pod out of its interface (and
// forwards to it), and the pod learns node1's block. A BGPFilter export
// rule at the normal priority (1024) keeps node1's block from the pod; at
// another priority it does not. Taking the pod's label off ends the
// session and the route; the mesh is never touched.
func TestNodeBGPLocalWorkloadPeer(t *testing.T) {
	nodeLabNeeds(t, "bird", "birdc")
	t.Parallel()
	l := upNodeLab(t, "nbgplw", localPeerLab)
	c := l.cluster()
	c.waitRemoteBlocks()
	n1 := c.node("node1")
	pod := c.pods["default/speaker"]
	if pod.netns == "" {
		t.Fatalf("no pod default/speaker: %+v", c.pods)
	}
	l.tortiectlIn("apply", "-f", l.writeFile(t, "peer.yaml", `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: pod-speakers
spec:
  localWorkloadSelector: bgp == 'speaker'
  asNumber: 65401
`))
	ctl := startPodBird(t, pod, n1.ip)
	l.mustIn(pod.netns, "ip", "addr", "add", "10.123.0.1/32", "dev", "lo")

	waitFor(t, "node1: the local workload session Established beside the mesh", func() error {
		st := l.nodeStatus("node1")
		if sessions(st, "local workload") != 1 || sessions(st, "node-to-node mesh") != 1 || !strings.Contains(st, "| "+pod.ip+" ") {
			return fmt.Errorf("want %s as an Established local workload peer and the mesh session:\n%s", pod.ip, st)
		}
		return nil
	})
	t.Logf("node1:\n%s", l.nodeStatus("node1"))
	route := fmt.Sprintf("%s via %s dev %s proto 80", childBlock, pod.ip, pod.hostIf)
	waitFor(t, "node1: the pod's block in the kernel via the pod", func() error {
		for _, r := range l.routes("node1") {
			if strings.HasPrefix(r.String(), route) {
				return nil
			}
		}
		return fmt.Errorf("no route %q in %v", route, l.routes("node1"))
	})
	if err := pingFromPod(l.nodeNS("node1"), "10.123.0.1"); err != nil {
		t.Errorf("node1 does not forward to the pod's block: %v", err)
	}
	podHas := func(block string) func() bool {
		return func() bool {
			out, err := l.in(pod.netns, "birdc", "-s", ctl, "show", "route", "for", block)
			return err == nil && strings.Contains(out, block)
		}
	}
	want(t, "the pod learns node1's block", podHas(n1.blocks[0]))
	out, _ := l.in(pod.netns, "birdc", "-s", ctl, "show", "route")
	t.Logf("the pod's BIRD:\n%s\nnode1's route: %s", out, route)

	// BGPFilter priority: node1's own routes are at the normal priority.
	l.tortiectlIn("apply", "-f", l.writeFile(t, "filters.yaml", `apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: normal-out
spec:
  exportV4:
  - {action: Reject, priority: 1024}
---
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: elevated-out
spec:
  exportV4:
  - {action: Reject, priority: 512}
`))
	l.tortiectlIn("patch", "bgppeer", "pod-speakers", "-p", `{"spec":{"filters":["normal-out"]}}`)
	want(t, "export Reject at priority 1024: node1's block gone from the pod", func() bool { return !podHas(n1.blocks[0])() })
	l.tortiectlIn("patch", "bgppeer", "pod-speakers", "-p", `{"spec":{"filters":["elevated-out"]}}`)
	want(t, "export Reject at priority 512 matches none of node1's routes: its block back at the pod", podHas(n1.blocks[0]))
	if st := l.nodeStatus("node1"); sessions(st, "local workload") != 1 {
		t.Errorf("the filter changes took the session down:\n%s", st)
	}

	// The pod's label off: its session and route go, the mesh stays.
	ns, name := "default", l.wepName(t, "default", "speaker")
	l.tortiectlIn("label", "workloadendpoint", name, "-n", ns, "bgp", "--remove")
	waitFor(t, "label removed: no local workload session on node1", func() error {
		if st := l.nodeStatus("node1"); strings.Contains(st, "local workload") || sessions(st, "node-to-node mesh") != 1 {
			return fmt.Errorf("want the mesh session alone:\n%s", st)
		}
		return nil
	})
	want(t, "label removed: the pod's block gone from node1's kernel", func() bool { return !l.routeOnNode(n1, childBlock) })
}

// startPodBird runs bird2 in the pod's namespace, in AS 65401, announcing
// childBlock to its node at nodeIP; it returns the control socket. It is
// killed when the test ends.
func startPodBird(t *testing.T, pod labPod, nodeIP string) string {
	t.Helper()
	dir := t.TempDir()
	conf, ctl := filepath.Join(dir, "bird.conf"), filepath.Join(dir, "bird.ctl")
	cfg := fmt.Sprintf(`router id %s;
protocol device { scan time 2; }
protocol kernel { ipv4 { import all; export none; }; learn; scan time 2; }
protocol static { ipv4; route %s blackhole; }
protocol bgp node {
  local as 65401; neighbor %s as 64512; multihop;
  connect retry time 2; error wait time 1, 5;
  ipv4 { import all; export where source = RTS_STATIC; };
}
`, pod.ip, childBlock, nodeIP)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", pod.netns, "bird", "-f", "-c", conf, "-s", ctl)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return ctl
}

// wepName is the name of the WorkloadEndpoint of pod ns/pod.
func (l *nodeLab) wepName(t *testing.T, ns, pod string) string {
	t.Helper()
	out := l.tortiectlIn("get", "workloadendpoints", "-n", ns, "-o", "json")
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Pod      string `json:"pod"`
				Workload string `json:"workload"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("get workloadendpoints: %v\n%s", err, out)
	}
	for _, w := range list.Items {
		if w.Spec.Pod == pod || w.Spec.Workload == pod {
			return w.Metadata.Name
		}
	}
	t.Fatalf("no WorkloadEndpoint for pod %s/%s in\n%s", ns, pod, out)
	return ""
}
