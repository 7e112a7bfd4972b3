package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// Scenario §6: with natOutgoing, a pod reaching a host outside every pool
// leaves with its node's address; pod-to-pod traffic (direct or through
// VXLAN) keeps the pod's own address.
func TestNodeNATOutgoing(t *testing.T) {
	nodeLabNeeds(t, "tcpdump", "nft")
	t.Parallel()
	l := upNodeLab(t, "nnat", "outside: {}\n"+threeNodes("{vxlanMode: CrossSubnet, natOutgoing: true}"))
	c := l.cluster()
	for _, n := range c.nodes {
		waitFor(t, n.name+": routes", func() error { return c.routeErrs(n, "CrossSubnet") })
	}
	outsideNS := topo.NamespaceName(l.name, topo.KindOutside, "")
	outsideHost := l.status().Outside.Address

	// TCP to the outside host: the peer address it sees is the node's.
	for _, key := range []string{"default/p1", "default/p2", "default/p3"} {
		p := c.pods[key]
		if got, want := peerSeen(t, outsideNS, outsideHost, p.netns), c.node(p.node).ip; got != want {
			t.Errorf("pod %s (%s) reached %s from %s, want its node's address %s", key, p.ip, outsideHost, got, want)
		}
	}
	// ICMP too, as captured in the outside namespace.
	p3 := c.pods["default/p3"]
	pkts := capture(t, outsideNS, "any", "icmp[icmptype] == icmp-echo and dst "+outsideHost, 1, func() {
		if err := pingFromPod(p3.netns, outsideHost); err != nil {
			t.Error(err)
		}
	})
	if want := c.node("node3").ip + " > " + outsideHost; !strings.Contains(pkts[0], want) {
		t.Errorf("echo from pod p3 arrived outside as %q, want source %s", pkts[0], c.node("node3").ip)
	}

	// Pod to pod: never masqueraded, same subnet (direct) or not (VXLAN).
	p1 := c.pods["default/p1"]
	for _, key := range []string{"default/p2", "default/p3"} {
		p := c.pods[key]
		if got := peerSeen(t, p1.netns, p1.ip, p.netns); got != p.ip {
			t.Errorf("pod %s (%s) reached pod p1 from %s: pod-to-pod traffic was translated", key, p.ip, got)
		}
	}

	// One set of pool CIDRs and one masquerade rule, not a rule per pool.
	for _, n := range c.nodes {
		table := l.mustIn(l.nodeNS(n.name), "nft", "list", "table", "ip", "tortie")
		if strings.Count(table, "masquerade") != 1 || !strings.Contains(table, "10.244.0.0/16") {
			t.Errorf("node %s: natOutgoing table:\n%s", n.name, table)
		}
	}
}

// peerSeen listens on addr:0 inside listenNS, connects to it from inside
// fromNS, and returns the source address the listener saw.
func peerSeen(t *testing.T, listenNS, addr, fromNS string) string {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(listenNS, func() error {
		var err error
		ln, err = net.Listen("tcp4", net.JoinHostPort(addr, "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			seen <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
	}()
	if err := ns.Do(fromNS, func() error {
		c, err := net.DialTimeout("tcp4", ln.Addr().String(), 10*time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}); err != nil {
		t.Fatalf("connect from %s to %s: %v", fromNS, ln.Addr(), err)
	}
	select {
	case s := <-seen:
		return s
	case <-time.After(settle):
		t.Fatalf("the listener in %s saw no connection", listenNS)
	}
	return ""
}
