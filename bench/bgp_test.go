package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/ipam"
	"github.com/tortienet/tortie/internal/lab"
	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// BenchmarkBGPConvergence: a new block on one node -> a route to it in
// every other node's kernel, and its withdrawal, at N nodes in a full
// mesh; the mesh's bring-up; the memory of each speaker. tortie (the real
// tortie-node agents in a lab, the block claimed in the datastore as IPAM
// claims it) side by side with BIRD configured as calico-node configures
// it, in the same run. N is 3 and 10, or $TORTIE_BENCH_BGP_N (e.g. 3,10,30).
func BenchmarkBGPConvergence(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("skipped: needs root for network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("bird"); err != nil {
		b.Skip("skipped: bird is not installed (Debian package bird2; .ci/setup installs it)")
	}
	bin := nodeBinDir(b)
	sizes := []int{3, 10}
	if v := os.Getenv("TORTIE_BENCH_BGP_N"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 2 {
				b.Fatalf("TORTIE_BENCH_BGP_N=%q: want sizes of 2 or more, comma-separated", v)
			}
			sizes = append(sizes, n)
		}
	}
	fmt.Printf("\nBGP convergence, full mesh (load average %s); add/del: p50 / max of %d, ms\n", loadAvg(), bgpTrials)
	fmt.Printf("%-4s %-7s %10s %18s %18s %18s %16s\n", "N", "speaker", "bring-up s", "new block add", "add from origin", "withdraw", "RSS / anon MiB")
	for _, n := range sizes {
		for _, run := range []func() bgpResult{func() bgpResult { return birdRun(b, n) }, func() bgpResult { return tortieRun(b, bin, n) }} {
			r := run() // each row printed as soon as it is measured
			a50, amax := stats(r.add)
			d50, dmax := stats(r.del)
			o50, omax := stats(r.rel)
			fmt.Printf("%-4d %-7s %10.2f %9.2f / %6.2f %9.2f / %6.2f %9.2f / %6.2f %7.1f / %6.1f\n",
				n, r.name, r.bringUp.Seconds(), a50, amax, o50, omax, d50, dmax, r.rss, r.anon)
			if r.syncs > 0 {
				f50, fmax := stats(r.watch)
				p50, pmax := stats(r.puts)
				fmt.Printf("     (tortie: %.0f syncs per agent during the %d trials, %.2f ms each on average, view to kernel;\n"+
					"      every session Established %.2f s after the start;\n"+
					"      CPU per agent: %.2f s from start to the end of the bring-up, %.2f ms per change beyond %.1f ms/s idle (%.0f context switches); the datastore %.2f ms per change beyond %.1f ms/s idle;\n"+
					"      agents stopped, %d plain etcd watchers saw each change after %.2f / %.2f ms, the put returned after %.2f / %.2f ms, p50 / max)\n",
					r.syncs, bgpTrials, r.syncMs, r.sessions.Seconds(), r.startCPU, 1000*r.changeCPU, 1000*r.idleCPU, r.switches, 1000*r.storeCPU, 1000*r.storeIdle, n-1, f50, fmax, p50, pmax)
				fmt.Printf("      the floor's writes: WAL fsync %.3f ms (%.1f per write), backend commit %.2f ms (batched), the datastore %.2f ms CPU per write beyond idle)\n",
					1000*r.put.walFsync, r.put.walWrites, 1000*r.put.commit, 1000*r.put.cpu)
			}
		}
	}
}

// bgpTrials is how many times a block is added and withdrawn per row:
// 5, or $TORTIE_BENCH_BGP_TRIALS (more, to profile an agent's changes).
var bgpTrials = func() int {
	if n, err := strconv.Atoi(os.Getenv("TORTIE_BENCH_BGP_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 5
}()

type bgpResult struct {
	name      string
	bringUp   time.Duration
	add, del  []time.Duration
	rel       []time.Duration // add, from the origin node's own kernel change
	rss, anon float64         // median per speaker, MiB
	// tortie: syncs per agent during the trials, and their mean duration
	syncs, syncMs float64
	// tortie: when n-1 plain etcd watchers saw each change (the floor),
	// and the CPU seconds per agent from its start to the end of the
	// bring-up, and per change (add or withdraw) during the trials
	watch, puts         []time.Duration // the floor, and the puts' own time
	startCPU, changeCPU float64
	idleCPU             float64       // CPU s per s per agent with nothing changing
	sessions            time.Duration // tortie: from the start until every session is Established
	storeCPU            float64       // the datastore's CPU s per change, beyond its idle rate
	storeIdle           float64       // the datastore's CPU s per s with nothing changing
	put                 putBreakdown  // tortie: the floor's writes, where their time went
	switches            float64       // tortie: context switches per agent per change, beyond idle
}

// agentPids is the process IDs of the agents of roles.
func agentPids(l *lab.Lab, roles []string) []int {
	var pids []int
	for _, role := range roles {
		if p, err := l.Process(role); err == nil {
			pids = append(pids, p.Pid)
		}
	}
	return pids
}

func medianRSS(pids []int) (rss, anon float64) {
	var rs, as []int
	for _, p := range pids {
		r, a := rssKiB(p)
		rs, as = append(rs, r), append(as, a)
	}
	sort.Ints(rs)
	sort.Ints(as)
	if len(rs) == 0 {
		return 0, 0
	}
	return float64(rs[len(rs)/2]) / 1024, float64(as[len(as)/2]) / 1024
}

// trials adds and removes the block change makes, timing each until every
// other node's kernel has seen it.
func trials(b *testing.B, w *routeWatch, others []string, block netip.Prefix, change func(add bool), r *bgpResult) {
	b.Helper()
	for range bgpTrials {
		for _, on := range []bool{true, false} {
			done := w.arm(block, on, others)
			t0 := time.Now()
			change(on)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				b.Fatalf("%s (add %v) did not reach every other node", block, on)
			}
			if on {
				r.add = append(r.add, w.last(t0))
				r.rel = append(r.rel, w.fromOrigin())
			} else {
				r.del = append(r.del, w.last(t0))
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
}

func birdRun(b *testing.B, n int) bgpResult {
	m := newBirdMesh(b, n)
	w := watchRoutes(b, m.nodes)
	w.origin = m.nodes[0]
	r := bgpResult{name: "BIRD"}
	t0 := m.start(b)
	r.bringUp = waitComplete(b, m.nodes, n-1, unix.RTPROT_BIRD, 60*time.Second).Sub(t0)
	block := netip.MustParsePrefix("10.245.1.0/26")
	trials(b, w, m.nodes[1:], block, func(add bool) { kernelRoute(b, m.nodes[0], block, add) }, &r)
	r.rss, r.anon = medianRSS(m.pids())
	m.stop()
	return r
}

// tortieLab brings up a lab of n nodes with one pod each, no
// encapsulation, and waits until every kernel has every other node's
// block. It is taken down when the benchmark ends (down, to end it
// sooner).
func tortieLab(b *testing.B, bin, tag string, n int) (l *lab.Lab, nodes, roles []string, down func()) {
	ctx := context.Background()
	name := fmt.Sprintf("%s%d-%d", tag, n, os.Getpid()%10000)
	cfg := lab.Config{Root: b.TempDir(), BinDir: bin, ReadyTimeout: 120 * time.Second, DieWithCaller: true}
	down = func() { _ = lab.Down(ctx, cfg, name) }
	b.Cleanup(down)
	top := topo.Generate(topo.GenerateOptions{Name: name, Nodes: n, PodsPerNode: 1, Underlay: topo.UnderlayL2, CNI: topo.CNITortie})
	top.Pool.IPIPMode, top.Pool.VXLANMode = "Never", "Never"
	// Extra agent environment, e.g. FELIX_DEBUGPORT=6060 to profile them.
	if v := os.Getenv("TORTIE_BENCH_AGENT_ENV"); v != "" {
		top.Env = map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			top.Env[k] = val
		}
	}
	l, err := lab.Up(ctx, cfg, top)
	if err != nil {
		b.Fatalf("lab up (%d nodes): %v", n, err)
	}
	for _, nd := range l.Topology().Nodes {
		nodes = append(nodes, topo.NamespaceName(name, topo.KindNode, nd.Name))
		roles = append(roles, "tortie-node/"+nd.Name)
	}
	waitComplete(b, nodes, n-1, 80, 120*time.Second)
	return l, nodes, roles, down
}

func tortieRun(b *testing.B, bin string, n int) bgpResult {
	l, nodes, roles, down := tortieLab(b, bin, "tbg", n)
	defer down() // its N(N-1) ARP entries count against the host-wide limit (see birdMesh.stop)
	name := l.State().Name
	r := bgpResult{name: "tortie"}
	r.bringUp, r.sessions = tortieBringUp(b, l, nodes, roles)
	w := watchRoutes(b, nodes)
	w.origin = nodes[0]
	put := etcdPut(b, topo.NamespaceName(name, topo.KindUnderlay, ""), l.State().Datastore)
	put("/calico/bench/warm-up", "x") // the connection is opened once, before timing
	block := netip.MustParsePrefix("10.244.250.0/26")
	value := fmt.Sprintf(`{"cidr":"%s","affinity":"host:node1","allocations":[],"unallocated":[],"attributes":[],"deleted":false}`, block)
	pids := agentPids(l, roles)
	r.startCPU = cpuSeconds(pids) / float64(len(pids))
	store := agentPids(l, []string{"datastore"})
	idle0, storeIdle0, idleT, cs0 := cpuSeconds(pids), cpuSeconds(store), time.Now(), ctxSwitches(pids)
	time.Sleep(3 * time.Second)
	idle := (cpuSeconds(pids) - idle0) / time.Since(idleT).Seconds() // keepalives, timers: CPU s per s
	csIdle := (ctxSwitches(pids) - cs0) / time.Since(idleT).Seconds()
	r.storeIdle = (cpuSeconds(store) - storeIdle0) / time.Since(idleT).Seconds()
	if dir := os.Getenv("TORTIE_BENCH_PROFILE"); dir != "" { // with TORTIE_BENCH_AGENT_ENV=FELIX_DEBUGPORT=6060
		// Up to 10 receiving agents (not node 1), over the trials (their 2 ×
		// 300 ms sleeps, and the changes): `go tool pprof` merges the files.
		d := time.Duration(bgpTrials) * 700 * time.Millisecond
		for i, nd := range nodes[1:min(len(nodes), 11)] {
			done := profileAgent(b, nd, filepath.Join(dir, fmt.Sprintf("agent-n%d-%d.pprof", n, i+2)), d)
			defer func() { <-done }()
		}
	}
	stopPerf := func() {}
	if file := os.Getenv("TORTIE_BENCH_PERF"); file != "" {
		stopPerf = perfRecord(b, file+fmt.Sprintf("-n%d", n), append(append([]int(nil), pids...), store...))
	}
	before, cpu0, t0, storeCPU, cs1 := applyStats(b, nodes), cpuSeconds(pids), time.Now(), cpuSeconds(store), ctxSwitches(pids)
	trials(b, w, nodes[1:], block, func(add bool) {
		if add {
			put(ipam.BlockKey(block), value)
		} else {
			put(ipam.BlockKey(block), "")
		}
	}, &r)
	stopPerf()
	r.storeCPU = (cpuSeconds(store) - storeCPU - r.storeIdle*time.Since(t0).Seconds()) / float64(2*bgpTrials)
	used := cpuSeconds(pids) - cpu0 - idle*time.Since(t0).Seconds()
	r.switches = (ctxSwitches(pids) - cs1 - csIdle*time.Since(t0).Seconds()) / float64(len(pids)) / float64(2*bgpTrials)
	r.changeCPU, r.idleCPU = used/float64(len(pids))/float64(2*bgpTrials), idle/float64(len(pids))
	r.rss, r.anon = medianRSS(pids)
	if dir := os.Getenv("TORTIE_BENCH_HEAP"); dir != "" { // with TORTIE_BENCH_AGENT_ENV=FELIX_DEBUGPORT=6060
		saveHeap(b, nodes[1], filepath.Join(dir, fmt.Sprintf("heap-n%d.pprof", n)))
	}
	after := applyStats(b, nodes)
	r.syncs, r.syncMs = (after[1]-before[1])/float64(n), 1000*(after[0]-before[0])/max(after[1]-before[1], 1)
	r.watch, r.puts, r.put = floorTrials(b, l, pids, ipam.BlockKey(block), value, put, r.storeIdle)
	return r
}

// applyStats is the sum (s) and count of tortie_dataplane_apply_seconds
// over the agents: how long each sync took, from the view to the kernel.
func applyStats(b *testing.B, nodes []string) [2]float64 {
	b.Helper()
	var out [2]float64
	for _, nd := range nodes {
		resp, err := nsHTTPClient(nd, 5*time.Second).Get("http://localhost:9091/metrics")
		if err != nil {
			b.Fatalf("metrics of %s: %v", nd, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			v, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "tortie_dataplane_apply_seconds_sum":
				out[0] += v
			case "tortie_dataplane_apply_seconds_count":
				out[1] += v
			}
		}
	}
	return out
}

// tortieBringUp kills every agent, removes the routes they learned, starts
// them all again and times until every kernel is complete.
func tortieBringUp(b *testing.B, l *lab.Lab, nodes, roles []string) (kernels, sessions time.Duration) {
	b.Helper()
	for _, role := range roles {
		if _, err := l.Stop(role, syscall.SIGKILL, 0); err != nil {
			b.Fatal(err)
		}
	}
	for _, nd := range nodes {
		out, err := exec.Command("ip", "-n", nd, "-4", "route", "show", "proto", "80").Output()
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[1] == "via" {
				sh(b, "ip", "-n", nd, "route", "del", f[0])
			}
		}
	}
	t0 := time.Now()
	if _, err := l.StartAll(context.Background(), roles); err != nil {
		b.Fatal(err)
	}
	kernels = waitComplete(b, nodes, len(nodes)-1, 80, 120*time.Second).Sub(t0)
	sessions = waitSessions(b, l, len(nodes)-1, 120*time.Second).Sub(t0)
	return kernels, sessions
}

// etcdPut writes (or, with an empty value, deletes) a key through etcd's
// JSON gateway, on a connection opened inside the lab's underlay
// namespace (where the datastore listens).
func etcdPut(b *testing.B, netnsName, endpoint string) func(key, value string) {
	b.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(netnsName, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return func(key, value string) {
		path, body := "/v3/kv/put", map[string]string{"key": b64(key), "value": b64(value)}
		if value == "" {
			path, body = "/v3/kv/deleterange", map[string]string{"key": b64(key)}
		}
		data, _ := json.Marshal(body)
		resp, err := client.Post(endpoint+path, "application/json", bytes.NewReader(data))
		if err != nil {
			b.Fatalf("etcd %s %s: %v", path, key, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("etcd %s %s: %s", path, key, resp.Status)
		}
	}
}

// profileAgent fetches a CPU profile of the agent in namespace nd (its
// pprof server on port 6060) over d into file; done is closed once it is
// written.
func profileAgent(b *testing.B, nd, file string, d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := nsHTTPClient(nd, d+10*time.Second)
		resp, err := c.Get(fmt.Sprintf("http://localhost:6060/debug/pprof/profile?seconds=%d", int(d.Seconds())))
		if err != nil {
			b.Logf("profile of %s: %v", nd, err)
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			b.Logf("profile of %s: %v", nd, err)
		}
	}()
	return done
}

// saveHeap writes the heap profile of the agent in namespace nd (its
// pprof server on port 6060) to file.
func saveHeap(b *testing.B, nd, file string) {
	resp, err := nsHTTPClient(nd, 10*time.Second).Get("http://localhost:6060/debug/pprof/heap")
	if err != nil {
		b.Logf("heap of %s: %v", nd, err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.Logf("heap of %s: %v", nd, err)
	}
}

// perfRecord runs `perf record` (call graphs, 1999 Hz) on pids into file
// until the returned function is called: every agent's and the
// datastore's CPU during the trials, by function (`perf report -i file`).
func perfRecord(b *testing.B, file string, pids []int) (stop func()) {
	b.Helper()
	ps := make([]string, len(pids))
	for i, p := range pids {
		ps[i] = strconv.Itoa(p)
	}
	cmd := exec.Command("perf", "record", "-q", "-F", "1999", "-g", "-o", file, "-p", strings.Join(ps, ","))
	if err := cmd.Start(); err != nil {
		b.Logf("perf record: %v", err)
		return func() {}
	}
	time.Sleep(500 * time.Millisecond) // attached
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}
}

// nsHTTPClient is an HTTP client whose connections are made in namespace nd.
func nsHTTPClient(nd string, timeout time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := ns.Do(nd, func() error {
			var err error
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}}, Timeout: timeout}
}
