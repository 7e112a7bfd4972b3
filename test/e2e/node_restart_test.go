package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Issue 6 (operations) and scenario §7: restarting tortie-node — stopped
// cleanly or killed — changes nothing that is already right: while it is
// down and after it is back, the node's routes, VXLAN device, neighbours,
// FDB and nftables table are exactly as before, the kernel sees no write
// at all, and pod traffic across the node never breaks.
func TestNodeAgentRestart(t *testing.T) {
	nodeLabNeeds(t, "nft")
	t.Parallel()
	l := upNodeLab(t, "nrst", threeNodes("{vxlanMode: CrossSubnet, natOutgoing: true}"))
	c := l.cluster()
	for _, n := range c.nodes {
		waitFor(t, n.name+": routes", func() error { return c.routeErrs(n, "CrossSubnet") })
	}
	p1, p2, p3 := c.pods["default/p1"], c.pods["default/p2"], c.pods["default/p3"]
	pings := []*pingStream{
		startPings(t, p1.netns, p3.ip, "p1 -> p3 (VXLAN)"),
		startPings(t, p2.netns, p1.ip, "p2 -> p1 (direct)"),
		startPings(t, p3.netns, p2.ip, "p3 -> p2 (VXLAN)"),
	}

	for _, step := range []struct {
		node string
		sig  syscall.Signal
	}{{"node1", syscall.SIGTERM}, {"node3", syscall.SIGKILL}} {
		netns := l.nodeNS(step.node)
		before := l.dataplane(step.node)
		tunnel := l.nodeResources()[step.node].Spec.IPv4VXLANTunnelAddr
		mon := startMonitors(t, l, netns)

		agent := l.process("tortie-node/" + step.node)
		l.stop(agent, step.sig)
		if got := l.dataplane(step.node); got != before {
			t.Errorf("%s: with the agent stopped by signal %d the dataplane changed:\n%s", step.node, step.sig, diffLines(before, got))
		}
		l.start(agent)
		l.waitReady(step.node)
		if v, err := l.metric(step.node, "tortie_dataplane_changes_total"); err != nil || v != "0" {
			t.Errorf("%s: after the restart the agent made %s kernel writes (%v), want 0", step.node, v, err)
		}
		if got := l.dataplane(step.node); got != before {
			t.Errorf("%s: the restart changed the dataplane:\n%s", step.node, diffLines(before, got))
		}
		if events := mon.stop(t); len(events) > 0 {
			t.Errorf("%s: the kernel saw writes across the restart:\n  %s", step.node, strings.Join(events, "\n  "))
		}
		if got := l.nodeResources()[step.node].Spec.IPv4VXLANTunnelAddr; got != tunnel {
			t.Errorf("%s: tunnel address %s became %s", step.node, tunnel, got)
		}
	}
	for _, p := range pings {
		p.stop(t)
	}
	for _, n := range l.status().Nodes {
		if n.Agent != "running" {
			t.Errorf("lab status: agent of %s is %s", n.Name, n.Agent)
		}
	}
	l.pingAll("after both restarts")
}

// dataplane is what the agent programs on a node, as iproute2 and nft
// print it, plus the MTU file.
func (l *nodeLab) dataplane(node string) string {
	l.t.Helper()
	netns := l.nodeNS(node)
	var b strings.Builder
	for _, argv := range [][]string{
		{"ip", "-4", "route", "show", "table", "all"},
		{"ip", "-4", "-d", "addr", "show", "dev", "vxlan.calico"},
		{"ip", "neigh", "show", "nud", "permanent"},
		{bridgeTool(l.t), "fdb", "show", "dev", "vxlan.calico"},
		{"nft", "-a", "list", "table", "ip", "tortie"},
		{"sysctl", "net.ipv4.ip_forward"},
	} {
		out, err := l.in(netns, argv...)
		if err != nil {
			out = "(fails)\n" // the VXLAN device and the NAT table exist only when needed
		}
		fmt.Fprintf(&b, "# %s\n%s", strings.Join(argv, " "), out)
	}
	mtu, _ := os.ReadFile(filepath.Join(l.stateDir, l.name, "nodes", node, "lib", "mtu"))
	fmt.Fprintf(&b, "# mtu file\n%s\n", mtu)
	return b.String()
}

// diffLines shows the lines only in a and only in b.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ina, inb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !inb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ina[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// monitors watch a namespace for kernel writes: `ip monitor` (routes,
// links, addresses, permanent neighbours) and `nft monitor`.
type monitors struct {
	ip, nft *exec.Cmd
	ipOut   lockedBuffer
	nftOut  lockedBuffer
	netns   string
}

// markerRoute is added and removed once the monitors run: when they have
// printed it, they are listening, and everything after it is a write.
const (
	markerRoute   = "192.0.2.254/32"
	markerDeleted = "Deleted blackhole 192.0.2.254 " // as ip monitor prints it
)

func startMonitors(t *testing.T, l *nodeLab, netns string) *monitors {
	t.Helper()
	m := &monitors{netns: netns}
	m.ip = exec.Command("ip", "netns", "exec", netns, "ip", "-o", "monitor", "route", "link", "address", "neigh")
	m.ip.Stdout, m.ip.Stderr = &m.ipOut, &m.ipOut
	m.nft = exec.Command("ip", "netns", "exec", netns, "nft", "monitor")
	m.nft.Stdout, m.nft.Stderr = &m.nftOut, &m.nftOut
	for _, c := range []*exec.Cmd{m.ip, m.nft} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	waitFor(t, "the monitors listen", func() error {
		// Foreign objects tortie leaves alone: a route of protocol 99 and
		// a table of another name.
		l.in(netns, "ip", "route", "replace", "blackhole", markerRoute, "proto", "99")
		l.in(netns, "ip", "route", "del", markerRoute, "proto", "99")
		l.in(netns, "nft", "add", "table", "ip", "e2e-marker")
		l.in(netns, "nft", "delete", "table", "ip", "e2e-marker")
		if !strings.Contains(m.ipOut.String(), markerDeleted) || !strings.Contains(m.nftOut.String(), "delete table ip e2e-marker") {
			return fmt.Errorf("ip monitor:\n%s\nnft monitor:\n%s", m.ipOut.String(), m.nftOut.String())
		}
		return nil
	})
	return m
}

// kernelEvent tells the events the kernel makes by itself from writes:
// neighbour states learnt by ARP on the underlay and the pods' links,
// IPv6 link-local addresses completing DAD, and local-table routes that
// follow address changes (which show as address events of their own).
func kernelEvent(line string) bool {
	neigh := strings.Contains(line, "lladdr") || strings.HasSuffix(strings.TrimSpace(line), "FAILED") ||
		strings.HasSuffix(strings.TrimSpace(line), "INCOMPLETE")
	switch {
	case neigh:
		return !strings.Contains(line, "PERMANENT") && !strings.Contains(line, "vxlan.calico")
	case strings.Contains(line, "inet6 fe80:"):
		return true
	case strings.Contains(line, "table local") && strings.Contains(line, "proto kernel"):
		return true
	}
	return false
}

// stop ends the monitors and returns the writes they saw after the
// marker. Neighbour entries the kernel manages (ARP on the underlay and
// the pods' links) are not writes of the agent; permanent ones are.
func (m *monitors) stop(t *testing.T) []string {
	t.Helper()
	var events []string
	after := func(out, marker string) []string {
		_, rest, _ := strings.Cut(out, marker)
		_, rest, _ = strings.Cut(rest, "\n")
		return strings.Split(strings.TrimSpace(rest), "\n")
	}
	m.ip.Process.Kill()
	m.nft.Process.Kill()
	m.ip.Wait()
	m.nft.Wait()
	ipOut := m.ipOut.String()
	// The last marker line: the marker may have been written more than once.
	i := strings.LastIndex(ipOut, markerDeleted)
	for _, line := range after(ipOut[i:], markerDeleted) {
		if line != "" && !kernelEvent(line) {
			events = append(events, "ip: "+line)
		}
	}
	nftOut := m.nftOut.String()
	j := strings.LastIndex(nftOut, "delete table ip e2e-marker")
	for _, line := range after(nftOut[j:], "e2e-marker") {
		if line != "" && !strings.HasPrefix(line, "# new generation") {
			events = append(events, "nft: "+line)
		}
	}
	return events
}
