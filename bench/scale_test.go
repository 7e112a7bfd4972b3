package bench

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni/cnitest"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/etcd"
	"github.com/tortienet/tortie/internal/simcluster"
)

// The scale benchmark's defaults: endpoints per simulated node (Calico's
// layout of the issue: nodes x 20), the cluster sizes, and how many
// changes of each kind are timed.
const (
	scaleEndpointsPerNode = 20
	scaleDefaultSizes     = "2000,20000"
	scaleDefaultChanges   = 20
)

// scaleRow is one cluster size's figures.
type scaleRow struct {
	endpoints, nodes int
	write            time.Duration // the generator
	ready            time.Duration // exec to /readiness 200
	syncCPU          time.Duration // the agent's CPU at ready
	mem              procMem       // after the start settled
	kernelRoutes     int           // VXLAN routes in the namespace after the start
	changes          [3]changeFigures
	idle             time.Duration // the idle agent's CPU per second (taken off the changes')
}

// changeFigures are one kind of change's figures.
type changeFigures struct {
	lat *latencies
	cpu time.Duration // the agent's CPU per change
}

var changeKinds = [3]string{"remote endpoint changed (processed)", "remote block added (route in kernel)", "borrowed address (/32 in kernel)"}

// BenchmarkScale runs one real tortie-node process (the binary, in a
// network namespace of its own, reaching the benchmark etcd through a
// relay) against a simulated cluster written in Calico's layout by
// internal/simcluster: nodes x 20 WorkloadEndpoints, each node with one
// confirmed /26 and a VXLAN tunnel address, pool VXLAN Always. For each
// size it reports exec to /readiness, the agent's CPU to that point,
// its memory once settled (RSS, private, peak), and for three kinds of
// change written on other nodes the latency (p50, p95) and the agent's
// CPU per change: a remote endpoint's labels (done when the agent's
// tortie_calc_seconds_count moves; its metrics are polled every
// millisecond, then every 2% of the time waited so far, and the polling's
// own CPU, measured idle in the same run, is taken off, as is what the
// agent uses when idle (the "idle CPU" column, per second) over as long), a new remote block (done when its /26 is in the kernel,
// seen through netlink) and an address borrowed from another node's block
// (its /32 in the kernel). The last rows give each figure's growth per
// 10x endpoints.
//
// TORTIE_SCALE_SIZES (default 2000,20000; add 100000 for the issue's
// largest) picks the sizes in endpoints, TORTIE_SCALE_CHANGES (default
// 20) the changes per kind. TORTIE_BIN names a directory with
// tortie-node; without it the benchmark builds one. TORTIE_SCALE_BASELINE
// names a directory with another tortie-node (an older build) to run
// first at each size, on a cluster written afresh, for a comparison under
// the same conditions.
func BenchmarkScale(b *testing.B) {
	if msg := requireRootFor("the scale benchmark"); msg != "" {
		b.Skip(msg)
	}
	sizes, changes := scaleSizes(b)
	bins := []string{cnitest.AgentBinary(b, b.TempDir())}
	if base := os.Getenv("TORTIE_SCALE_BASELINE"); base != "" {
		bins = append([]string{filepath.Join(base, "tortie-node")}, bins...)
	}
	fmt.Printf("\nScale: tortie-node (%s) against a simulated cluster (nodes x %d endpoints, VXLAN Always), %d changes of each kind (load average %s)\n",
		strings.Join(bins, ", then "), scaleEndpointsPerNode, changes, loadAvg())
	rows := make([][]scaleRow, len(bins))
	for _, n := range sizes {
		for i, bin := range bins {
			rows[i] = append(rows[i], scaleRun(b, bin, n, changes))
			printScale(rows[i][len(rows[i])-1:])
		}
	}
	for i, bin := range bins {
		fmt.Printf("\n%s (load average now %s)\n", bin, loadAvg())
		printScale(rows[i])
		printGrowth(rows[i])
	}
}

func scaleSizes(b *testing.B) ([]int, int) {
	var sizes []int
	for _, f := range strings.Split(envOr("TORTIE_SCALE_SIZES", scaleDefaultSizes), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < scaleEndpointsPerNode {
			b.Fatalf("TORTIE_SCALE_SIZES = %q: want endpoint counts of at least %d, comma-separated", f, scaleEndpointsPerNode)
		}
		sizes = append(sizes, n)
	}
	changes, err := strconv.Atoi(envOr("TORTIE_SCALE_CHANGES", strconv.Itoa(scaleDefaultChanges)))
	if err != nil || changes < 1 || changes > 40 {
		b.Fatalf("TORTIE_SCALE_CHANGES = %q: want 1 to 40", os.Getenv("TORTIE_SCALE_CHANGES"))
	}
	return sizes, changes
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// scaleAgent is the tortie-node process of one run.
type scaleAgent struct {
	cmd  *exec.Cmd
	ns   *cnitest.NetNS
	http *scaleHTTP
	log  string
}

// writeScaleCluster writes a simulated cluster of n endpoints into a
// fresh store.
func writeScaleCluster(b *testing.B, n int) (*client.Client, simcluster.Spec, simcluster.Result) {
	b.Helper()
	c := client.New(freshStore(b))
	spec := simcluster.Spec{Nodes: n / scaleEndpointsPerNode, EndpointsPerNode: scaleEndpointsPerNode}
	spec.Defaults()
	res, err := simcluster.Write(b.Context(), c, spec)
	if err != nil {
		b.Fatal(err)
	}
	return c, spec, res
}

// scaleRun writes a cluster of n endpoints and measures one agent on it.
func scaleRun(b *testing.B, bin string, n, changes int) scaleRow {
	b.Helper()
	c, spec, res := writeScaleCluster(b, n)
	row := scaleRow{endpoints: res.Endpoints, nodes: res.Nodes, write: res.Took}
	var err error
	bns := newBenchNS(b, "scale")
	ns := &cnitest.NetNS{Name: bns.name}
	cnitest.Forward(b, ns, "127.0.0.1:2379", strings.TrimPrefix(etcdEndpoints[0], "http://"))
	inKernel := routeArrivals(b, bns)

	a := startScaleAgent(b, bin, ns)
	row.ready = a.waitReady(b)
	if row.syncCPU, err = procCPU(a.cmd.Process.Pid); err != nil {
		b.Fatal(err)
	}
	waitIdle(a.cmd.Process.Pid, time.Second, 60*time.Second)
	if row.mem, err = readProcMem(a.cmd.Process.Pid); err != nil {
		b.Fatal(err)
	}
	row.kernelRoutes = countVXLANRoutes(b, bns)
	ch := &scaleChanges{b: b, c: c, spec: spec, agent: a, inKernel: inKernel}
	profiled := a.profile(b, n)
	row.changes[0] = ch.measure(changes, ch.endpoint)
	row.changes[1] = ch.measure(changes, ch.block)
	row.changes[2] = ch.measure(changes, ch.borrow)
	row.idle = ch.idleCost()
	profiled()
	a.stop(b)
	return row
}

// startScaleAgent execs tortie-node inside ns as node "bench" (address
// 172.31.1.10/24 on eth0), VXLAN, no default pool, health and metrics on
// the namespace's loopback, the Go and process collectors off (so a
// scrape is cheap), no periodic resync.
func startScaleAgent(b *testing.B, bin string, ns *cnitest.NetNS) *scaleAgent {
	b.Helper()
	dir := b.TempDir()
	a := &scaleAgent{ns: ns, http: newScaleHTTP(ns), log: filepath.Join(dir, "tortie-node.log")}
	logf, err := os.Create(a.log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logf.Close() })
	a.cmd = exec.Command(bin)
	a.cmd.Env = append(os.Environ(), "NODENAME="+benchNode, "IP="+benchNodeAddr, "TORTIE_STATE_DIR="+dir,
		"DATASTORE_TYPE=etcdv3", "ETCD_ENDPOINTS=http://127.0.0.1:2379", "NO_DEFAULT_POOLS=true",
		"CALICO_NETWORKING_BACKEND=vxlan", "FELIX_HEALTHHOST=127.0.0.1", "FELIX_HEALTHPORT=9099",
		"FELIX_PROMETHEUSMETRICSHOST=127.0.0.1", "FELIX_PROMETHEUSMETRICSPORT=9091",
		"FELIX_PROMETHEUSGOMETRICSENABLED=false", "FELIX_PROMETHEUSPROCESSMETRICSENABLED=false",
		"FELIX_ROUTEREFRESHINTERVAL=1h")
	if os.Getenv("TORTIE_SCALE_PPROF") != "" {
		a.cmd.Env = append(a.cmd.Env, "FELIX_DEBUGHOST=127.0.0.1", "FELIX_DEBUGPORT="+scalePprofPort)
	}
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	if err := ns.Start(dieWithUs(a.cmd)); err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	a.http.start = time.Now()
	b.Cleanup(func() { a.stop(b) })
	return a
}

// waitReady polls /readiness every 5 ms and returns the time from exec to
// the first 200.
func (a *scaleAgent) waitReady(b *testing.B) time.Duration {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if code, _ := httpStatus(a.http.c, "http://127.0.0.1:9099/readiness"); code == 200 {
			return time.Since(a.http.start)
		}
		if a.cmd.ProcessState != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	log, _ := os.ReadFile(a.log)
	b.Fatalf("tortie-node not ready within 5 minutes; its log:\n%s", tail(log, 4000))
	return 0
}

func tail(b []byte, n int) []byte { return b[max(0, len(b)-n):] }

// stop ends the agent with SIGTERM (SIGKILL after 10 s).
func (a *scaleAgent) stop(b *testing.B) {
	if a.cmd.Process == nil || a.cmd.ProcessState != nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-done
	}
}

// routeArrivals reports the arrival of routes in the bench namespace.
func routeArrivals(b *testing.B, bns *benchNS) *arrivals {
	b.Helper()
	inKernel := &arrivals{}
	updates, done := make(chan netlink.RouteUpdate, 4096), make(chan struct{})
	b.Cleanup(func() { close(done) })
	if err := netlink.RouteSubscribeWithOptions(updates, done, netlink.RouteSubscribeOptions{Namespace: &bns.nsh,
		ErrorCallback: func(err error) {
			select {
			case <-done:
			default:
				fmt.Fprintf(os.Stderr, "route subscription: %v\n", err)
			}
		}}); err != nil {
		b.Fatal(err)
	}
	go func() {
		for u := range updates {
			if u.Type != unix.RTM_NEWROUTE || u.Dst == nil {
				continue
			}
			if a, ok := netip.AddrFromSlice(u.Dst.IP.To4()); ok {
				inKernel.seen(a, time.Now())
			}
		}
	}()
	return inKernel
}

// countVXLANRoutes counts the routes on vxlan.calico in the namespace.
func countVXLANRoutes(b *testing.B, bns *benchNS) int {
	b.Helper()
	l, err := bns.h.LinkByName("vxlan.calico")
	if err != nil {
		return 0
	}
	rs, err := bns.h.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		b.Fatal(err)
	}
	return len(rs)
}

// printScale prints rows as the table of docs/benchmarks-scale.md.
func printScale(rows []scaleRow) {
	fmt.Printf("%-22s %9s %8s %9s %-24s %7s %9s", "endpoints (nodes)", "write", "ready", "sync CPU", "RSS (private), peak", "routes", "idle CPU")
	for _, k := range changeKinds {
		fmt.Printf(" | %s: p50 / p95, CPU", k)
	}
	fmt.Println()
	for _, r := range rows {
		fmt.Printf("%-22s %9s %8s %9s %-24s %7d %9s", fmt.Sprintf("%d (%d)", r.endpoints, r.nodes), round3(r.write), round3(r.ready),
			round3(r.syncCPU), fmt.Sprintf("%d MB (%d), %d MB", r.mem.rss>>20, r.mem.private>>20, r.mem.peak>>20), r.kernelRoutes,
			fmt.Sprint(round3(r.idle))+"/s")
		for _, c := range r.changes {
			fmt.Printf(" | %s / %s, %s", round3(c.lat.pct(0.5)), round3(c.lat.pct(0.95)), round3(c.cpu))
		}
		fmt.Println()
	}
}

// printGrowth prints, between consecutive sizes, each figure's growth
// factor scaled to 10x endpoints: (b/a)^(1/log10(n_b/n_a)).
func printGrowth(rows []scaleRow) {
	for i := 1; i < len(rows); i++ {
		x, y := rows[i-1], rows[i]
		per10 := func(a, b float64) string {
			if a <= 0 || b <= 0 {
				return "-"
			}
			return fmt.Sprintf("%.2fx", math.Pow(b/a, 1/math.Log10(float64(y.endpoints)/float64(x.endpoints))))
		}
		d := func(a, b time.Duration) string { return per10(float64(a), float64(b)) }
		fmt.Printf("growth per 10x, %d -> %d: ready %s, sync CPU %s, private RSS %s", x.endpoints, y.endpoints,
			d(x.ready, y.ready), d(x.syncCPU, y.syncCPU), per10(float64(x.mem.private), float64(y.mem.private)))
		for k := range changeKinds {
			fmt.Printf("; %s p50 %s, CPU %s", strings.SplitN(changeKinds[k], " (", 2)[0],
				d(x.changes[k].lat.pct(0.5), y.changes[k].lat.pct(0.5)), d(x.changes[k].cpu, y.changes[k].cpu))
		}
		fmt.Println()
	}
}

// BenchmarkScaleList is the baseline of the scale benchmark's start: the
// read of everything under /calico/ of the simulated cluster by the test
// process from the embedded etcd: one range (what List does), ListPages
// (what the agent's list-watch does: a RangeStream on etcd 3.7), and
// limited range reads at one revision (ListPages' fallback on older
// servers, where etcd counts the keys left in the range on every read, so
// small reads cost more in all).
func BenchmarkScaleList(b *testing.B) {
	sizes, _ := scaleSizes(b)
	fmt.Printf("\nScale baseline: reading /calico/ of the simulated cluster from the embedded etcd (median of 3; load average %s)\n", loadAvg())
	fmt.Printf("%-22s %8s %6s %11s %11s %11s %11s\n", "endpoints (nodes)", "keys", "MB", "one range", "ListPages", "ranges 500", "ranges 10k")
	for _, n := range sizes {
		s := freshStore(b)
		spec := simcluster.Spec{Nodes: n / scaleEndpointsPerNode, EndpointsPerNode: scaleEndpointsPerNode}
		if _, err := simcluster.Write(b.Context(), client.New(s), spec); err != nil {
			b.Fatal(err)
		}
		keys, size := 0, 0
		reads := []func() error{
			func() error {
				kvs, _, err := s.List(b.Context(), datastore.Root)
				keys, size = len(kvs), 0
				for _, kv := range kvs {
					size += len(kv.Key) + len(kv.Value)
				}
				return err
			},
			func() error {
				_, err := s.ListPages(b.Context(), datastore.Root, 0, func([]datastore.KV) error { return nil })
				return err
			},
			func() error { return rangeReads(b, s, 500) },
			func() error { return rangeReads(b, s, 10000) },
		}
		var cols []string
		for _, read := range reads {
			l := &latencies{}
			for range 3 {
				t0 := time.Now()
				if err := read(); err != nil {
					b.Fatal(err)
				}
				l.d = append(l.d, time.Since(t0))
			}
			cols = append(cols, round3(l.pct(0.5)).String())
		}
		fmt.Printf("%-22s %8d %6d %11s %11s %11s %11s\n", fmt.Sprintf("%d (%d)", n, spec.Nodes), keys, size>>20, cols[0], cols[1], cols[2], cols[3])
	}
}

// rangeReads reads /calico/ in range reads of chunk keys at one revision.
func rangeReads(b *testing.B, s *etcd.Store, chunk int64) error {
	end := clientv3.GetPrefixRangeEnd(datastore.Root)
	from, rev := datastore.Root, int64(0)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(chunk)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.Client().Get(b.Context(), from, opts...)
		if err != nil || !resp.More {
			return err
		}
		rev, from = resp.Header.Revision, string(resp.Kvs[len(resp.Kvs)-1].Key)+"\x00"
	}
}

// scalePprofPort is where the agent serves pprof with TORTIE_SCALE_PPROF.
const scalePprofPort = "6061"

// profile, with TORTIE_SCALE_PPROF=DIR, starts a CPU profile of the agent
// (TORTIE_SCALE_PPROF_SECONDS long, default 30) to be written to
// DIR/cpu-<n>-<pid>.pprof; the function it returns waits for it. Without the
// setting it does nothing.
//
// With TORTIE_SCALE_PERF=DIR it records the agent with perf instead
// (perf record -g at 10 kHz, to DIR/perf-<n>-<pid>.data, until the
// function it returns is called): a change costs about a millisecond, too
// little for pprof's 100 Hz.
func (a *scaleAgent) profile(b *testing.B, n int) func() {
	if dir := os.Getenv("TORTIE_SCALE_PERF"); dir != "" {
		return a.perf(b, dir, n)
	}
	dir := os.Getenv("TORTIE_SCALE_PPROF")
	if dir == "" {
		return func() {}
	}
	secs := envOr("TORTIE_SCALE_PPROF_SECONDS", "30")
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &http.Client{Transport: a.http.c.Transport}
		code, body := httpStatus(c, "http://127.0.0.1:"+scalePprofPort+"/debug/pprof/profile?seconds="+secs)
		if code != http.StatusOK {
			b.Errorf("pprof of the agent: status %d: %s", code, tail(body, 200))
			return
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("cpu-%d-%d.pprof", n, a.cmd.Process.Pid)), body, 0o644); err != nil {
			b.Error(err)
		}
	}()
	return func() { <-done }
}

func (a *scaleAgent) perf(b *testing.B, dir string, n int) func() {
	pid := a.cmd.Process.Pid
	out := filepath.Join(dir, fmt.Sprintf("perf-%d-%d.data", n, pid))
	cmd := exec.Command("perf", "record", "-F", "10000", "-g", "-p", strconv.Itoa(pid), "-o", out)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := dieWithUs(cmd).Start(); err != nil {
		b.Errorf("perf record: %v", err)
		return func() {}
	}
	time.Sleep(500 * time.Millisecond) // perf attaching
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		var exit *exec.ExitError
		if err := cmd.Wait(); err != nil && !(errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT) {
			b.Errorf("perf record: %v: %s", err, stderr.String())
		}
	}
}
