package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/ns"
)

// clientEgressYAML: dev's client may only open TCP 8080 and 7070 to
// app=web in any namespace, and TCP 5432 to the addresses of the global
// network set db-set (db's address, filled in).
const clientEgressYAML = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: db-set, labels: {role: db-set}}
spec: {nets: [%s/32]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: client-out, namespace: dev}
spec:
  selector: app == 'client'
  types: [Egress]
  egress:
  - {action: Allow, protocol: TCP, destination: {selector: app == 'web', namespaceSelector: all(), ports: [8080, 7070]}}
  - {action: Allow, protocol: TCP, destination: {selector: role == 'db-set', namespaceSelector: global(), ports: [5432]}}
`

const unrelatedYAML = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-in, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [5432, 5433]}}]
`

const denyClientYAML = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-in, namespace: prod}
spec:
  order: 1
  selector: app == 'web'
  ingress:
  - {action: Deny, source: {selector: app == 'client', namespaceSelector: all()}}
  - {action: Allow}
`

const stagedDenyAllYAML = `apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: deny-all}
spec: {selector: all(), types: [Ingress, Egress]}
`

// Scenario §5 over TCP: egress policy, ports and a global network set; an
// established connection through an unrelated policy change and through
// a denying one (Calico lets established connections live: policy
// applies when a connection is set up, conntrack carries the rest; new
// connections are refused); tortie-node restarted under traffic with
// policy in force writes nothing and cuts nothing; a staged deny-all
// changes no packet.
func TestNodePolicyConnections(t *testing.T) {
	nodeLabNeeds(t, "nft")
	t.Parallel()
	l := upNodeLab(t, "npcx", policyTopology)
	c := l.cluster()
	web, db, client := c.pods["prod/web"], c.pods["prod/db"], c.pods["dev/client"]
	for _, s := range []struct{ netns, addr string }{
		{web.netns, web.ip + ":8080"}, {web.netns, web.ip + ":9090"}, {web.netns, web.ip + ":7070"},
		{db.netns, db.ip + ":5432"}, {db.netns, db.ip + ":5433"},
	} {
		echoIn(t, s.netns, s.addr)
	}
	held := dialIn(t, client.netns, web.ip+":7070")
	defer held.Close()
	apply := func(doc string) { l.applyPolicy(t, doc) }

	apply(fmt.Sprintf(clientEgressYAML, db.ip))
	truth := []struct {
		from labPod
		dst  string
		want bool
	}{
		{client, web.ip + ":8080", true},
		{client, web.ip + ":9090", false}, // port not allowed
		{client, db.ip + ":5432", true},   // through the global network set
		{client, db.ip + ":5433", false},
		{db, web.ip + ":9090", true}, // db has no policy
	}
	for _, tc := range truth {
		waitFor(t, fmt.Sprintf("%s -> %s allowed=%v", tc.from.key, tc.dst, tc.want), func() error {
			return expectConnect(tc.from.netns, tc.dst, tc.want)
		})
	}
	waitFor(t, "client's ICMP egress is denied", func() error {
		if pingFromPod(client.netns, web.ip) == nil {
			return errReached
		}
		return nil
	})
	if err := roundTripConn(held); err != nil {
		t.Errorf("the connection client -> web:7070, allowed by the new egress policy, broke: %v", err)
	}

	apply(unrelatedYAML)
	waitFor(t, "db-in in force", func() error { return expectConnect(web.netns, db.ip+":5433", true) })
	if err := roundTripConn(held); err != nil {
		t.Errorf("the established connection did not survive an unrelated policy change: %v", err)
	}

	// Restart tortie-node on node1 under traffic, policy in force.
	pings := startPings(t, web.netns, client.ip, "web -> client")
	before := l.dataplane("node1")
	mon := startMonitors(t, l, l.nodeNS("node1"))
	agent := l.process("tortie-node/node1")
	l.stop(agent, syscall.SIGTERM)
	l.start(agent)
	l.waitReady("node1")
	if v, err := l.metric("node1", "tortie_dataplane_changes_total"); err != nil || v != "0" {
		t.Errorf("after the restart the agent made %s kernel writes (%v), want 0", v, err)
	}
	if got := l.dataplane("node1"); got != before {
		t.Errorf("the restart changed the dataplane:\n%s", diffLines(before, got))
	}
	if events := mon.stop(t); len(events) > 0 {
		t.Errorf("the kernel saw writes across the restart:\n  %s", strings.Join(events, "\n  "))
	}
	pings.stop(t)
	if err := roundTripConn(held); err != nil {
		t.Errorf("the established connection did not survive the agent's restart: %v", err)
	}

	// A staged deny-all: reported by explain, enforced nowhere.
	apply(stagedDenyAllYAML)
	out := l.tortiectlIn("policy", "explain", "dev/client", "prod/web", "8080/tcp")
	if !strings.Contains(out, "with the staged policies committed: denied") {
		t.Errorf("explain does not preview the staged deny-all:\n%s", out)
	}
	time.Sleep(time.Second) // what the agent would have done, it has done by now
	for _, tc := range truth {
		if err := expectConnect(tc.from.netns, tc.dst, tc.want); err != nil {
			t.Errorf("with a staged deny-all %s -> %s: %v", tc.from.key, tc.dst, err)
		}
	}

	apply(denyClientYAML)
	waitFor(t, "web-in refuses new connections from client", func() error { return expectConnect(client.netns, web.ip+":8080", false) })
	if err := roundTripConn(held); err != nil {
		t.Errorf("the established connection was cut by the denying policy (Calico keeps it): %v", err)
	}
}

// applyPolicy applies a YAML document with tortiectl on node1.
func (l *nodeLab) applyPolicy(t *testing.T, doc string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"ETCD_ENDPOINTS=" + l.state().Datastore}
	if out, errOut, code := l.inCode(l.nodeNS("node1"), env, bin("tortiectl"), "apply", "-f", file); code != 0 {
		t.Fatalf("apply: exit %d: %s%s", code, out, errOut)
	}
}

// echoIn serves a TCP echo on addr inside netns until the test ends.
func echoIn(t *testing.T, netns, addr string) {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(netns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
}

func dialIn(t *testing.T, netns, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	if err := ns.Do(netns, func() (err error) { c, err = net.DialTimeout("tcp", addr, 2*time.Second); return err }); err != nil {
		t.Fatalf("connect %s from %s: %v", addr, netns, err)
	}
	return c
}

// expectConnect is nil when a new connection from netns to addr succeeds
// exactly when want says so.
func expectConnect(netns, addr string, want bool) error {
	err := ns.Do(netns, func() error {
		c, err := net.DialTimeout("tcp", addr, 700*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	})
	switch {
	case want && err != nil:
		return err
	case !want && err == nil:
		return errReached
	}
	return nil
}

// roundTripConn sends a line on c and reads it back.
func roundTripConn(c net.Conn) error {
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	_, err := io.ReadFull(c, buf)
	return err
}
