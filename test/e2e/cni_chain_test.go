package e2e

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/cni/cnitest"
)

// TestCniPortmapChain chains tortie, portmap and bandwidth as in a
// Kubernetes conflist: a host port on the node reaches a listener in the
// pod from a client outside the node, the bandwidth plugin shapes the
// pod's veth, and DEL takes all of it away again.
func TestCniPortmapChain(t *testing.T) {
	e := newCNIEnv(t)
	cnitest.RequireTools(t, "portmap", "bandwidth")
	nw := e.network("tcni-chain", "1.0.0",
		e.tortieConf(),
		map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
		map[string]any{"type": "bandwidth", "capabilities": map[string]bool{"bandwidth": true}},
	)

	// A client namespace on a link to the node, which routes for it.
	client := e.pod("client")
	e.node.MustIP(t, "link", "add", "tcni-up", "type", "veth", "peer", "name", "tcni-cl", "netns", client.Name)
	e.node.MustIP(t, "addr", "add", "10.98.0.1/24", "dev", "tcni-up")
	e.node.MustIP(t, "link", "set", "tcni-up", "up")
	client.MustIP(t, "addr", "add", "10.98.0.2/24", "dev", "tcni-cl")
	client.MustIP(t, "link", "set", "tcni-cl", "up")
	if err := e.node.SetSysctl("net/ipv4/conf/all/forwarding", "1"); err != nil {
		t.Fatal(err)
	}

	pod := e.pod("web")
	capArgs := `CAP_ARGS={"portMappings":[{"hostPort":18080,"containerPort":8080,"protocol":"tcp"}],` +
		`"bandwidth":{"ingressRate":100000000,"ingressBurst":1000000,"egressRate":100000000,"egressBurst":1000000}}`
	res := e.add(nw, pod, capArgs)
	if len(res.IPs) != 1 {
		t.Fatalf("result %+v", res)
	}
	host := workload(nw, pod).HostIfName()

	// The pod listens on 8080.
	var ln net.Listener
	if err := pod.Do(func() (err error) { ln, err = net.Listen("tcp", ":8080"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from the pod to %s\n", c.RemoteAddr())
			c.Close()
		}
	}()

	eventually(t, "connect to the host port from the client", func() error {
		return client.Do(func() error {
			c, err := net.DialTimeout("tcp", "10.98.0.1:18080", time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return err
			}
			if !strings.HasPrefix(line, "hello from the pod to 10.98.0.2:") {
				return fmt.Errorf("unexpected answer %q", line)
			}
			return nil
		})
	})

	nat, err := e.node.Exec("iptables-save", "-t", "nat")
	if err != nil || !strings.Contains(nat, "--dport 18080") {
		t.Errorf("no portmap rule for 18080 in the node's nat table (%v):\n%s", err, nat)
	}
	if q := e.node.MustIP(t, "link", "show", "type", "ifb"); !strings.Contains(q, "bwp") {
		t.Errorf("no bandwidth ifb device on the node:\n%s", q)
	}
	if q, err := e.node.Exec("tc", "qdisc", "show", "dev", host); err != nil || !strings.Contains(q, "tbf") {
		t.Errorf("no tbf qdisc on %s (%v):\n%s", host, err, q)
	}
	if c := e.rt.Cnitool("check", nw, pod.Path(), capArgs); c.Err != nil {
		t.Errorf("CHECK of the chain: %v", c.Err)
	}

	if c := e.rt.Cnitool("del", nw, pod.Path(), capArgs); c.Err != nil {
		t.Fatal(c.Err)
	}
	if nat, _ := e.node.Exec("iptables-save", "-t", "nat"); strings.Contains(nat, "--dport 18080") {
		t.Errorf("portmap rule left after DEL:\n%s", nat)
	}
	if q := e.node.MustIP(t, "link", "show", "type", "ifb"); strings.Contains(q, "bwp") {
		t.Errorf("ifb device left after DEL:\n%s", q)
	}
	e.nothingLeft(nw, pod, nil, 0, 0)
}
