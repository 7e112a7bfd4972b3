package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/cni/cnitest"
)

// The policy set of BenchmarkScalePolicy: scalePolicies
// GlobalNetworkPolicies (TORTIE_SCALE_POLICIES, 10 by default) of
// scalePolicyRules ingress rules each, all selecting the bench node's one
// endpoint; rule r of every policy allows TCP from `app == 'app<r>'`, a
// tenth of the cluster's endpoints.
const (
	scalePolicyRules = 10
	scaleLocalAddr   = "172.31.200.1" // the bench node's endpoint, outside the pool
)

var scalePolicies = 10

// scalePolicyRow is one cluster size's figures.
type scalePolicyRow struct {
	endpoints, nodes int
	ready            time.Duration
	enforced         time.Duration // policies written to their sets in the kernel
	sets             int           // selector sets in the table
	mem              procMem       // the agent's, once the policies are enforced and it is idle
	before, after    changeFigures // remote endpoint changed (processed), without and with policy
	policy, member   changeFigures // a rule's port in nft; an endpoint's address into a set
	added            changeFigures // a new endpoint's address into a set
}

// BenchmarkScalePolicy is BenchmarkScale's cluster with policy selecting
// across it: the bench node gets one endpoint (a veth), the agent starts,
// and the benchmark times a remote endpoint's label change (processed, as
// in BenchmarkScale) as the baseline; it then writes 10
// GlobalNetworkPolicies x 10 rules whose source selectors each match a
// tenth of all endpoints (the simulated endpoints' app label), waits for
// the selector sets in the agent's `table ip tortie`, and times the same
// label change again, one policy's rule port changed until the new port
// is in nftables, a remote endpoint's label moved to another selector's
// value and a new remote endpoint, each until the agent's write to the
// kernel (all seen through `nft monitor` in the agent's namespace; the
// address is then checked to be in its set). Sizes and
// changes as BenchmarkScale (TORTIE_SCALE_SIZES, TORTIE_SCALE_CHANGES,
// TORTIE_BIN).
func BenchmarkScalePolicy(b *testing.B) {
	if msg := requireRootFor("the scale policy benchmark"); msg != "" {
		b.Skip(msg)
	}
	sizes, changes := scaleSizes(b)
	if p, err := strconv.Atoi(envOr("TORTIE_SCALE_POLICIES", "10")); err != nil || p < 1 || p > 2000 {
		b.Fatalf("TORTIE_SCALE_POLICIES = %q: want 1 to 2000", os.Getenv("TORTIE_SCALE_POLICIES"))
	} else {
		scalePolicies = p
	}
	bin := cnitest.AgentBinary(b, b.TempDir())
	fmt.Printf("\nScale with policy: %s against a simulated cluster (nodes x %d endpoints), %d GNPs x %d rules selecting across it, %d changes of each kind (load average %s)\n",
		bin, scaleEndpointsPerNode, scalePolicies, scalePolicyRules, changes, loadAvg())
	var rows []scalePolicyRow
	for _, n := range sizes {
		rows = append(rows, scalePolicyRun(b, bin, n, changes))
		printScalePolicy(rows[len(rows)-1:])
	}
	fmt.Printf("\nall sizes (load average now %s)\n", loadAvg())
	printScalePolicy(rows)
}

func scalePolicyRun(b *testing.B, bin string, n, changes int) scalePolicyRow {
	b.Helper()
	c, spec, res := writeScaleCluster(b, n)
	row := scalePolicyRow{endpoints: res.Endpoints, nodes: res.Nodes}
	bns := newBenchNS(b, "scpol")
	ns := &cnitest.NetNS{Name: bns.name}
	cnitest.Forward(b, ns, "127.0.0.1:2379", strings.TrimPrefix(etcdEndpoints[0], "http://"))
	a := startScaleAgent(b, bin, ns)
	row.ready = a.waitReady(b)
	waitIdle(a.cmd.Process.Pid, time.Second, 60*time.Second)
	ch := &scaleChanges{b: b, c: c, spec: spec, agent: a}
	pc := &policyChanges{scaleChanges: ch}
	row.before = ch.measure(changes, ch.endpoint)

	if err := bns.addWorkloadLink(benchIfName(0)); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if _, err := c.Create(b.Context(), localPolicyEndpoint()); err != nil {
		b.Fatal(err)
	}
	for p := range scalePolicies {
		if _, err := c.Create(b.Context(), scalePolicy(p, 1000+p*scalePolicyRules)); err != nil {
			b.Fatal(err)
		}
	}
	row.enforced, row.sets = waitSelectorSets(b, ns, a, t0)
	waitIdle(a.cmd.Process.Pid, time.Second, 60*time.Second)
	row.mem, _ = readProcMem(a.cmd.Process.Pid)
	mon := startNftMonitor(b, ns)
	pc.mon = mon
	profiled := a.profile(b, n) // TORTIE_SCALE_PPROF, TORTIE_SCALE_PERF
	row.after = ch.measure(changes, ch.endpoint)
	row.policy = ch.measure(changes, pc.port)
	row.member = ch.measure(changes, pc.label)
	row.added = ch.measure(changes, pc.add)
	profiled()
	a.stop(b)
	return row
}

// localPolicyEndpoint is the bench node's endpoint, on the veth
// benchIfName(0), labelled app=bench for the policies' selector.
func localPolicyEndpoint() *v3.WorkloadEndpoint {
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: benchNode + "-k8s-polpod-eth0", Namespace: "default",
		Labels: map[string]string{"projectcalico.org/namespace": "default", "projectcalico.org/orchestrator": "k8s", "app": "bench"}}}
	w.Spec = v3.WorkloadEndpointSpec{Orchestrator: "k8s", Node: benchNode, ContainerID: fmt.Sprintf("%064x", 1), Pod: "polpod",
		Endpoint: "eth0", IPNetworks: []string{scaleLocalAddr + "/32"}, Profiles: []string{"kns.default"},
		InterfaceName: benchIfName(0), MAC: benchMAC(0).String()}
	return w
}

// scalePolicy is policy p: its rules allow TCP to ports port0, port0+1...
// from app0, app1... of the whole cluster.
func scalePolicy(p, port0 int) *v3.GlobalNetworkPolicy {
	tcp := v3.ProtocolFromString("TCP")
	g := &v3.GlobalNetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: fmt.Sprintf("scale-pol-%02d", p)}}
	order := float64(p + 1)
	g.Spec.Order, g.Spec.Selector, g.Spec.Types = &order, "app == 'bench'", []v3.PolicyType{v3.PolicyTypeIngress}
	for r := range scalePolicyRules {
		g.Spec.Ingress = append(g.Spec.Ingress, v3.Rule{Action: v3.Allow, Protocol: &tcp,
			Source:      v3.EntityRule{Selector: fmt.Sprintf("app == 'app%d'", r)},
			Destination: v3.EntityRule{Ports: []v3.Port{v3.SinglePort(uint16(port0 + r))}}})
	}
	return g
}

// waitSelectorSets polls `nft -t list table ip tortie` (sets without
// their elements) in ns until it holds one set per rule selector, and
// returns the time since t0 and the sets' count.
func waitSelectorSets(b *testing.B, ns *cnitest.NetNS, a *scaleAgent, t0 time.Time) (time.Duration, int) {
	b.Helper()
	for time.Since(t0) < 2*time.Minute {
		cmd := exec.Command("nft", "-t", "list", "table", "ip", "tortie")
		var out strings.Builder
		cmd.Stdout = &out
		if err := ns.Run(cmd); err == nil {
			if n := strings.Count(out.String(), "set sel-"); n >= scalePolicyRules {
				return time.Since(t0), n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(a.log)
	b.Fatalf("the policies' selector sets not in table ip tortie within 2 minutes; the agent's log:\n%s", tail(log, 4000))
	return 0, 0
}

// nftMonitor follows `nft monitor` in a namespace and tells waiters when
// a line with all their tokens arrives.
type nftMonitor struct {
	mu      sync.Mutex
	waiters []monWaiter
}

type monWaiter struct {
	tokens []string
	ch     chan time.Time
}

func startNftMonitor(b *testing.B, ns *cnitest.NetNS) *nftMonitor {
	b.Helper()
	m := &nftMonitor{}
	cmd := exec.Command("nft", "monitor")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := ns.Start(dieWithUs(cmd)); err != nil {
		b.Fatalf("nft monitor: %v", err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			m.line(sc.Text(), time.Now())
		}
	}()
	time.Sleep(200 * time.Millisecond) // let it subscribe
	return m
}

// expect returns a channel that receives the time of the first line
// holding every token (whole words, split at spaces, commas and braces).
func (m *nftMonitor) expect(tokens ...string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	m.mu.Lock()
	m.waiters = append(m.waiters, monWaiter{tokens: tokens, ch: ch})
	m.mu.Unlock()
	return ch
}

func (m *nftMonitor) line(l string, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.waiters) == 0 {
		return
	}
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(l, func(r rune) bool { return strings.ContainsRune(" ,{}\t", r) }) {
		words[w] = true
	}
	kept := m.waiters[:0]
	for _, w := range m.waiters {
		all := true
		for _, tok := range w.tokens {
			all = all && words[tok]
		}
		if all {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	m.waiters = kept
}

// policyChanges are the changes timed in the kernel through nft monitor.
type policyChanges struct {
	*scaleChanges
	mon *nftMonitor
}

// port changes rule 0 of policy i%10 to port 30000+7i and waits for the
// port in an added rule or element.
func (s *policyChanges) port(i int) (time.Duration, int) {
	ctx := context.Background()
	kind, _ := v3.LookupKind("GlobalNetworkPolicy")
	r, err := s.c.Get(ctx, kind, "", fmt.Sprintf("scale-pol-%02d", i%scalePolicies))
	if err != nil {
		s.b.Fatal(err)
	}
	g := r.(*v3.GlobalNetworkPolicy)
	port := 30000 + 7*i
	g.Spec.Ingress[0].Destination.Ports = []v3.Port{v3.SinglePort(uint16(port))}
	seen := s.mon.expect("add", strconv.Itoa(port))
	t0 := time.Now()
	if _, err := s.c.Update(ctx, g); err != nil {
		s.b.Fatal(err)
	}
	return s.wait(seen, t0, fmt.Sprintf("port %d of policy %s", port, g.Name)), 0
}

// label moves endpoint 0 of node i (app0) to app5 (or back, on a second
// pass) and waits for the agent's next write to the kernel (the next
// nftables generation: the agent is idle before each change), then checks,
// outside the time, that the address is in the set of its new selector.
// nft monitor is not asked for the element itself: it prints element
// changes written over netlink in some batches and not in others.
func (s *policyChanges) label(i int) (time.Duration, int) {
	ctx := context.Background()
	node := i % s.spec.Nodes
	addr := s.spec.EndpointAddr(node, 0)
	kind, _ := v3.LookupKind("WorkloadEndpoint")
	r, err := s.c.Get(ctx, kind, s.spec.Namespace(), s.spec.Endpoint(node, 0, addr).Name)
	if err != nil {
		s.b.Fatal(err)
	}
	w := r.(*v3.WorkloadEndpoint)
	w.Labels["app"] = map[bool]string{true: "app0", false: "app5"}[w.Labels["app"] == "app5"]
	seen := s.mon.expect("new", "generation")
	t0 := time.Now()
	if _, err := s.c.Update(ctx, w); err != nil {
		s.b.Fatal(err)
	}
	d := s.wait(seen, t0, fmt.Sprintf("a write after %s's move to app == '%s'", addr, w.Labels["app"]))
	s.checkMember(addr, w.Labels["app"])
	return d, 0
}

// checkMember fails unless the set of the rule selector app == '<app>'
// holds addr in the agent's table.
func (s *policyChanges) checkMember(addr netip.Addr, app string) {
	id := selectorSetID(s.b, app)
	cmd := exec.Command("nft", "list", "set", "ip", "tortie", id)
	var out strings.Builder
	cmd.Stdout = &out
	if err := s.agent.ns.Run(cmd); err != nil {
		s.b.Fatalf("nft list set %s: %v", id, err)
	}
	for _, w := range strings.FieldsFunc(out.String(), func(r rune) bool { return strings.ContainsRune(" ,{}\t\n", r) }) {
		if w == addr.String() {
			return
		}
	}
	s.b.Fatalf("%s is not in the set %s of app == '%s' after the agent's write:\n%s", addr, id, app, out.String())
}

// selectorSetID is the name of the set of the source selector
// app == '<app>' in the bench's policies, as the policy model names it.
func selectorSetID(b *testing.B, app string) string {
	prog := policy.Compile(policy.Build(policy.Input{GlobalNetworkPolicies: []*v3.GlobalNetworkPolicy{scalePolicy(0, 1000)},
		WorkloadEndpoints: []*v3.WorkloadEndpoint{localPolicyEndpoint()}}), benchNode)
	for id, set := range prog.Sets {
		if strings.Contains(set.Selector, `"`+app+`"`) {
			return id
		}
	}
	b.Fatalf("no set for app == '%s' in %v", app, prog.Sets)
	return ""
}

// add creates a new endpoint on node i, labelled app5, and waits for the
// agent's next write to the kernel; then checks its address is in app5's
// set.
func (s *policyChanges) add(i int) (time.Duration, int) {
	node, pod := i%s.spec.Nodes, s.spec.EndpointsPerNode+i/s.spec.Nodes
	addr := s.spec.EndpointAddr(node, pod)
	w := s.spec.Endpoint(node, pod, addr)
	w.Labels["app"] = "app5"
	seen := s.mon.expect("new", "generation")
	t0 := time.Now()
	if _, err := s.c.Create(context.Background(), w); err != nil {
		s.b.Fatal(err)
	}
	d := s.wait(seen, t0, fmt.Sprintf("a write after endpoint %s (app5) was created", addr))
	s.checkMember(addr, "app5")
	return d, 0
}

func printScalePolicy(rows []scalePolicyRow) {
	fmt.Printf("%-18s %8s %9s %5s %-20s | %-34s | %-34s | %-34s | %-34s | %-34s\n", "endpoints (nodes)", "ready", "enforced", "sets", "RSS (private) MB",
		"endpoint changed, no policy", "endpoint changed, with policy", "policy port changed (in nft)", "label into selector set (in nft)",
		"endpoint +1 into selector set (in nft)")
	fc := func(c changeFigures) string {
		if c.lat == nil {
			return "-"
		}
		return fmt.Sprintf("%s / %s, CPU %s", round3(c.lat.pct(0.5)), round3(c.lat.pct(0.95)), round3(c.cpu))
	}
	for _, r := range rows {
		fmt.Printf("%-18s %8s %9s %5d %-20s | %-34s | %-34s | %-34s | %-34s | %-34s\n", fmt.Sprintf("%d (%d)", r.endpoints, r.nodes),
			round3(r.ready), round3(r.enforced), r.sets, fmt.Sprintf("%d (%d)", r.mem.rss>>20, r.mem.private>>20), fc(r.before), fc(r.after), fc(r.policy), fc(r.member), fc(r.added))
	}
}
