package e2e

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Issue 6 item 3: on a kernel without the ipip module, a pool with
// ipipMode Always does not crash the agent: it says so in its log (an
// error) and in /readiness, programs no tunl0 route, and keeps doing the
// rest of its work (blocks, pod routes, natOutgoing). IP-in-IP itself is
// tested in a virtual machine.
func TestNodeIPIPWithoutKernelSupport(t *testing.T) {
	nodeLabNeeds(t)
	if kernelHasIPIP() {
		t.Skip("skipping: this kernel has IP-in-IP; the problem report needs one without (IPIP traffic is tested in the VM)")
	}
	t.Parallel()
	l := upNodeLab(t, "nipip", `pool: {ipipMode: Always, vxlanMode: Never, natOutgoing: true}
nodes:
  - {name: node1}
  - {name: node2}
pods:
  - {name: p1, node: node1}
  - {name: p2, node: node2}
`)
	c := l.cluster()
	for _, n := range c.nodes {
		r, err := l.readiness(n.name)
		if err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
		if !slices.ContainsFunc(r.Problems, mentionsIPIP) {
			t.Errorf("%s: /readiness does not report the missing IP-in-IP support: %+v", n.name, r)
		}
		if !slices.ContainsFunc(strings.Split(l.agentLog(n.name), "\n"), func(line string) bool {
			return strings.Contains(line, "level=ERROR") && mentionsIPIP(line)
		}) {
			t.Errorf("%s: no error about IP-in-IP in the agent's log:\n%s", n.name, l.agentLog(n.name))
		}
		if _, ok := l.links(l.nodeNS(n.name))["tunl0"]; ok {
			t.Errorf("%s: tunl0 exists on a kernel without ipip", n.name)
		}
		var blackholes []string
		for _, r := range l.routes(n.name) {
			if r.Dev == "tunl0" {
				t.Errorf("%s: route through tunl0: %s", n.name, r)
			}
			if r.Type == "blackhole" && r.Protocol == "80" {
				blackholes = append(blackholes, r.Dst)
			}
		}
		blocks := slices.Clone(n.blocks)
		slices.Sort(blackholes)
		slices.Sort(blocks)
		if !slices.Equal(blackholes, blocks) {
			t.Errorf("%s: blackhole routes %v, want its blocks %v", n.name, blackholes, n.blocks)
		}
		for _, p := range n.pods {
			if !slices.ContainsFunc(l.routes(n.name), func(r kRoute) bool { return r.Dst == p.ip && r.Dev == p.hostIf }) {
				t.Errorf("%s: no route to its pod %s", n.name, p.key)
			}
		}
		if _, err := l.in(l.nodeNS(n.name), "nft", "list", "table", "ip", "tortie"); err != nil {
			t.Errorf("%s: no natOutgoing table: %v", n.name, err)
		}
	}
	// Still running after all that: not crashed, not restarting.
	for _, n := range l.status().Nodes {
		if n.Agent != "running" {
			t.Errorf("agent of %s is %s:\n%s", n.Name, n.Agent, l.agentLog(n.Name))
		}
	}
}

func mentionsIPIP(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "ip-in-ip") || strings.Contains(s, "ipip")
}

// kernelHasIPIP reports whether the ipip module is loaded, built in, or
// could be loaded (modprobe --dry-run changes nothing).
func kernelHasIPIP() bool {
	if _, err := os.Stat("/sys/module/ipip"); err == nil {
		return true
	}
	return exec.Command("modprobe", "-n", "-q", "ipip").Run() == nil
}
