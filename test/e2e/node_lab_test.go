package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/lab"
	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// Helpers for the node agent's end-to-end tests (issue 6): a lab whose
// nodes run tortie-node and whose pods are made by tortie's CNI plugin,
// with the kernel state read back through iproute2 and nft, independently
// of tortie's own netlink code.

// settle bounds every wait for the cluster to reach a state. It is a
// deadline for a shared, loaded machine, not a performance expectation.
const settle = 45 * time.Second

// nodeLabNeeds skips unless a lab with real node agents can run: root,
// iproute2, ping, and tortie-node with the tortie CNI plugin in the bin
// dir, plus the given tools.
func nodeLabNeeds(t *testing.T, tools ...string) {
	t.Helper()
	labNeeds(t)
	for _, b := range []string{"tortie-node", "tortie", "tortie-ipam"} {
		if _, err := os.Stat(bin(b)); err != nil {
			t.Skipf("skipping: %s is not in %s; the node agent tests need all binaries: make build, then TORTIE_BIN=$PWD/bin go test ./test/e2e", b, binDir)
		}
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed (bash .ci/setup installs it)", tool)
		}
	}
}

// nodeLab is a testLab brought up from a topology document.
type nodeLab struct {
	*testLab
}

// upNodeLab brings up the lab doc describes (the CNI flavor is forced to
// tortie: the agent programs what tortie's plugin records), waits until
// every agent reports ready, and takes it down when the test ends.
func upNodeLab(t *testing.T, prefix, doc string) *nodeLab {
	t.Helper()
	l := &nodeLab{newTestLab(t, prefix)}
	file := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(file, []byte("cni: tortie\n"+doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := l.run("up", "--file", file); code != 0 {
		t.Fatalf("lab up: exit %d\n%s\n%s\n%s", code, out, errOut, l.agentLogs())
	}
	for _, n := range l.state().Topology.Nodes {
		l.waitReady(n.Name)
	}
	return l
}

// status is `lab status -o json`.
func (l *nodeLab) status() *lab.Status {
	l.t.Helper()
	var st lab.Status
	if err := json.Unmarshal([]byte(l.mustRun("status", "-o", "json")), &st); err != nil {
		l.t.Fatal(err)
	}
	if st.DatastoreErr != "" {
		l.t.Fatalf("lab status: datastore: %s", st.DatastoreErr)
	}
	return &st
}

func (l *nodeLab) nodeNS(node string) string {
	return topo.NamespaceName(l.name, topo.KindNode, node)
}

func (l *nodeLab) agentLog(node string) string {
	data, _ := os.ReadFile(filepath.Join(l.stateDir, l.name, "nodes", node, "log", "tortie-node.log"))
	return string(data)
}

// agentLogs is every agent's log, for failure messages.
func (l *nodeLab) agentLogs() string {
	st, err := lab.LoadState(l.stateDir, l.name)
	if err != nil || st.Topology == nil {
		return ""
	}
	var b strings.Builder
	for _, n := range st.Topology.Nodes {
		fmt.Fprintf(&b, "--- tortie-node log of %s:\n%s\n", n.Name, l.agentLog(n.Name))
	}
	return b.String()
}

// in runs argv inside a lab namespace (not through `lab exec`, whose PATH
// puts the upstream CNI "bridge" plugin before iproute2's bridge).
func (l *nodeLab) in(netns string, argv ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", netns}, argv...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %w: %s", strings.Join(argv, " "), netns, err, out)
	}
	return string(out), nil
}

func (l *nodeLab) mustIn(netns string, argv ...string) string {
	l.t.Helper()
	out, err := l.in(netns, argv...)
	if err != nil {
		l.t.Fatal(err)
	}
	return out
}

// jsonIn decodes the JSON a command in netns prints (ip -j, bridge -j).
func (l *nodeLab) jsonIn(netns string, v any, argv ...string) {
	l.t.Helper()
	out := l.mustIn(netns, argv...)
	if strings.TrimSpace(out) == "" {
		out = "[]"
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		l.t.Fatalf("%v in %s: %v: %s", argv, netns, err, out)
	}
}

// kRoute is a route as `ip -j route` prints it.
type kRoute struct {
	Type     string   `json:"type"`
	Dst      string   `json:"dst"`
	Gateway  string   `json:"gateway"`
	Dev      string   `json:"dev"`
	Protocol string   `json:"protocol"`
	Scope    string   `json:"scope"`
	Flags    []string `json:"flags"`
}

func (r kRoute) String() string {
	s := r.Dst
	if r.Type != "" && r.Type != "unicast" {
		s = r.Type + " " + s
	}
	if r.Gateway != "" {
		s += " via " + r.Gateway
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	if r.Protocol != "" {
		s += " proto " + r.Protocol
	}
	if r.Scope != "" {
		s += " scope " + r.Scope
	}
	if len(r.Flags) > 0 {
		s += " " + strings.Join(r.Flags, " ")
	}
	return s
}

func (l *nodeLab) routes(node string) []kRoute {
	l.t.Helper()
	var rs []kRoute
	l.jsonIn(l.nodeNS(node), &rs, "ip", "-j", "-4", "route", "show", "table", "main")
	return rs
}

// kLink is a link as `ip -j -d addr show` prints it.
type kLink struct {
	Name     string   `json:"ifname"`
	Index    int      `json:"ifindex"`
	Flags    []string `json:"flags"`
	MTU      int      `json:"mtu"`
	Address  string   `json:"address"`
	LinkInfo struct {
		Kind string `json:"info_kind"`
		Data struct {
			ID       int    `json:"id"`
			Local    string `json:"local"`
			Link     string `json:"link"`
			Port     int    `json:"port"`
			Learning bool   `json:"learning"`
		} `json:"info_data"`
	} `json:"linkinfo"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// links returns the links of netns by name.
func (l *nodeLab) links(netns string) map[string]kLink {
	l.t.Helper()
	var ls []kLink
	l.jsonIn(netns, &ls, "ip", "-j", "-d", "addr", "show")
	m := map[string]kLink{}
	for _, k := range ls {
		m[k.Name] = k
	}
	return m
}

func (k kLink) ipv4() []string {
	var out []string
	for _, a := range k.AddrInfo {
		if a.Family == "inet" {
			out = append(out, fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
		}
	}
	return out
}

// podOf returns the pod's status.
func podOf(st *lab.Status, key string) lab.PodStatus {
	for _, p := range st.Pods {
		if p.Key == key {
			return p
		}
	}
	return lab.PodStatus{}
}

func hostOf(st *lab.Status, node string) lab.HostStatus {
	for _, n := range st.Nodes {
		if n.Name == node {
			return n
		}
	}
	return lab.HostStatus{}
}

// addrOnly strips a prefix length.
func addrOnly(s string) string {
	a, _, _ := strings.Cut(s, "/")
	return a
}

// pingAll runs `lab ping --expect all` and fails the test if a pair of
// pods does not connect.
func (l *nodeLab) pingAll(when string) {
	l.t.Helper()
	out, errOut, code := l.run("ping", "--expect", "all")
	if code != 0 {
		l.t.Errorf("%s: lab ping: exit %d\n%s%s", when, code, out, errOut)
		return
	}
	l.t.Logf("%s:\n%s", when, out)
}

// pingFromPod reports whether dst answers an echo from inside netns.
func pingFromPod(netns, dst string) error {
	out, err := exec.Command("ip", "netns", "exec", netns, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s from %s: %v: %s", dst, netns, err, out)
	}
	return nil
}

// waitFor retries check until it succeeds or the settle deadline passes,
// then fails the test with the last error.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// agentReport is the body of /readiness and /liveness.
type agentReport struct {
	Live     bool     `json:"live"`
	Ready    bool     `json:"ready"`
	Problems []string `json:"problems"`
	Error    string   `json:"error"`
}

// agentHTTP fetches http://127.0.0.1:port/path from inside the node's
// namespace, where the agent's health and metrics servers listen.
func (l *nodeLab) agentHTTP(node string, port int, path string) (int, string, error) {
	netns := l.nodeNS(node)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := ns.Do(netns, func() error {
				var err error
				c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// readiness returns the agent's /readiness report.
func (l *nodeLab) readiness(node string) (agentReport, error) {
	code, body, err := l.agentHTTP(node, 9099, "/readiness")
	if err != nil {
		return agentReport{}, err
	}
	var r agentReport
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return r, fmt.Errorf("readiness of %s: %d %q: %w", node, code, body, err)
	}
	if r.Ready != (code == http.StatusOK) {
		return r, fmt.Errorf("readiness of %s: HTTP %d with body %s", node, code, body)
	}
	return r, nil
}

// waitReady waits until the node's agent answers /readiness with ready.
func (l *nodeLab) waitReady(node string) {
	l.t.Helper()
	deadline := time.Now().Add(settle)
	for {
		r, err := l.readiness(node)
		if err == nil && r.Ready {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("tortie-node on %s is not ready: %+v %v\n%s", node, r, err, l.agentLog(node))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metric returns the value of an unlabelled metric of the node's agent.
func (l *nodeLab) metric(node, name string) (string, error) {
	_, body, err := l.agentHTTP(node, 9091, "/metrics")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("metric %s not exported by %s", name, node)
}

// tortiectlIn runs tortiectl inside the underlay namespace, against the
// lab's datastore.
func (l *nodeLab) tortiectlIn(args ...string) string {
	l.t.Helper()
	return l.mustRun("exec", append([]string{"underlay", "--", bin("tortiectl")}, args...)...)
}

// wideNodes parses `tortiectl get nodes -o wide`: name -> IPV4 column.
func (l *nodeLab) wideNodes() map[string]string {
	l.t.Helper()
	out := l.tortiectlIn("get", "nodes", "-o", "wide")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || !slices.Equal(strings.Fields(lines[0])[:3], []string{"NAME", "ASN", "IPV4"}) {
		l.t.Fatalf("get nodes -o wide: unexpected header:\n%s", out)
	}
	m := map[string]string{}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) >= 3 {
			m[f[0]] = f[2]
		}
	}
	return m
}

// nodeResource is the part of a Node resource the tests read.
type nodeResource struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		BGP *struct {
			IPv4Address        string `json:"ipv4Address"`
			IPv4IPIPTunnelAddr string `json:"ipv4IPIPTunnelAddr"`
		} `json:"bgp"`
		IPv4VXLANTunnelAddr string `json:"ipv4VXLANTunnelAddr"`
	} `json:"spec"`
}

// nodeResources reads every Node with `tortiectl get nodes -o json`.
func (l *nodeLab) nodeResources() map[string]nodeResource {
	l.t.Helper()
	out := l.tortiectlIn("get", "nodes", "-o", "json")
	var list struct {
		Items []nodeResource `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		l.t.Fatalf("get nodes -o json: %v\n%s", err, out)
	}
	m := map[string]nodeResource{}
	for _, n := range list.Items {
		m[n.Metadata.Name] = n
	}
	return m
}

// prefixOf parses a CIDR or fails.
func prefixOf(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return p
}

// bridgeTool is iproute2's bridge (the upstream CNI "bridge" plugin may
// come first in PATH).
func bridgeTool(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/bridge", "/sbin/bridge", "/usr/bin/bridge"} {
		if out, err := exec.Command(p, "-V").CombinedOutput(); err == nil && strings.Contains(string(out), "bridge utility") {
			return p
		}
	}
	t.Skip("skipping: iproute2's bridge tool is not installed")
	return ""
}
