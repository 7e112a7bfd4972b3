package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Scenario §3: node a has ens32 on S1 and ens33 on S2, node b has eth1 on
// S1 and eth0 on S2. Each IP_AUTODETECTION_METHOD picks the subnet the
// story says; `tortiectl get nodes -o wide` shows the chosen addresses,
// each node routes the other's block via the other's chosen address on
// the interface of that subnet, and pod traffic flows over it.
func TestNodeMultiHomedAutodetect(t *testing.T) {
	nodeLabNeeds(t, "tcpdump")
	t.Parallel()
	cases := []struct {
		lab, method, subnet string
	}{
		{"nmh-if2", "interface=ens33,eth0", "s2"},
		{"nmh-if1", "interface=ens32,eth1", "s1"},
		{"nmh-skip", "skip-interface=eth1,ens32", "s2"},
		{"nmh-reach", "can-reach=172.31.2.1", "s2"}, // the gateway of S2
		{"nmh-cidr", "cidr=172.31.1.0/24", "s1"},
		// No method: first-found walks the interfaces from the highest
		// index down; the lab makes the second interface of each node last.
		{"nmh-first", "", "s2"},
	}
	for _, tc := range cases {
		name := tc.method
		if name == "" {
			name = "first-found"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			autodetect := ""
			if tc.method != "" {
				autodetect = fmt.Sprintf("autodetect: %q\n", tc.method)
			}
			l := upNodeLab(t, tc.lab, autodetect+`subnets:
  - {name: s1, cidr: 172.31.1.0/24}
  - {name: s2, cidr: 172.31.2.0/24}
pool: {vxlanMode: Never, ipipMode: Never}
nodes:
  - {name: a, interfaces: [{name: ens32, subnet: s1}, {name: ens33, subnet: s2}]}
  - {name: b, interfaces: [{name: eth1, subnet: s1}, {name: eth0, subnet: s2}]}
pods:
  - {name: pa, node: a}
  - {name: pb, node: b}
`)
			checkMultiHomed(t, l, tc.method, tc.subnet)
		})
	}
}

func checkMultiHomed(t *testing.T, l *nodeLab, method, subnet string) {
	st := l.status()
	// The address and interface each node should have chosen, from the
	// topology and the kernel.
	wantIf, wantAddr := map[string]string{}, map[string]string{}
	for _, n := range st.Nodes {
		for _, ifc := range n.Interfaces {
			if ifc.Subnet == subnet && len(ifc.Addrs) > 0 {
				wantIf[n.Name], wantAddr[n.Name] = ifc.Name, ifc.Addrs[0]
			}
		}
	}
	if method == "" {
		// Check the premise: the interface on the expected subnet is the
		// one with the highest index.
		for _, n := range st.Nodes {
			links := l.links(l.nodeNS(n.Name))
			for _, ifc := range n.Interfaces {
				if links[ifc.Name].Index > links[wantIf[n.Name]].Index {
					t.Fatalf("node %s: %s has a higher index than %s; the first-found case assumes otherwise", n.Name, ifc.Name, wantIf[n.Name])
				}
			}
		}
	}

	wide := l.wideNodes()
	for node, want := range wantAddr {
		if wide[node] != want {
			t.Errorf("get nodes -o wide: %s has %q, want %s (the %s address)", node, wide[node], want, subnet)
		}
		logMethod := method
		if logMethod == "" {
			logMethod = "first-found"
		}
		log := l.agentLog(node)
		if !slices.ContainsFunc(strings.Split(log, "\n"), func(line string) bool {
			return strings.Contains(line, "autodetected address") && strings.Contains(line, logMethod) &&
				strings.Contains(line, want) && strings.Contains(line, wantIf[node]) && strings.Contains(line, "reason=")
		}) {
			t.Errorf("node %s: the agent's log does not say it picked %s on %s by %s, and why:\n%s", node, want, wantIf[node], logMethod, log)
		}
	}
	if t.Failed() {
		return
	}

	c := l.cluster()
	for _, n := range c.nodes {
		// Both nodes share both subnets, so every remote block is routed
		// directly via the peer's chosen address on the chosen interface.
		waitFor(t, n.name+": routes via the chosen addresses", func() error { return c.routeErrs(n, "Never") })
		if n.iface != wantIf[n.name] {
			t.Errorf("node %s: node address on %s, want %s", n.name, n.iface, wantIf[n.name])
		}
	}
	l.pingAll("IP_AUTODETECTION_METHOD=" + method)

	// The way a packet takes, hop by hop: out of a on the chosen
	// interface, across the chosen subnet's bridge, into b.
	pa, pb := c.pods["default/pa"], c.pods["default/pb"]
	out := l.mustRun("path", pa.key, pb.key)
	for _, want := range []string{
		fmt.Sprintf("via %s dev %s", addrOnly(wantAddr["b"]), wantIf["a"]),
		"switched by bridge br-" + subnet,
		"delivered: " + pb.ip,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lab path %s %s lacks %q:\n%s", pa.key, pb.key, want, out)
		}
	}
	// And on the wire: the echo leaves a on the chosen interface.
	capture(t, l.nodeNS("a"), wantIf["a"], fmt.Sprintf("icmp and src %s and dst %s", pa.ip, pb.ip), 1, func() {
		if err := pingFromPod(pa.netns, pb.ip); err != nil {
			t.Error(err)
		}
	})
}
