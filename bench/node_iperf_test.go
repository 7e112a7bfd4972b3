package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/lab"
	"github.com/tortienet/tortie/internal/lab/topo"
)

const (
	iperfSeconds = 5
	iperfRuns    = 3 // per case, alternating with the baseline
)

// BenchmarkNodeIperf measures pod-to-pod TCP throughput across two nodes
// of a lab (real tortie-node processes, pods made by the CNI plugin, one
// subnet), first with the pool's vxlanMode Never (routed), then Always
// (VXLAN), each in a lab of its own. Baselines from the same run: iperf3
// between the two nodes' underlay addresses in the same lab (the path the
// pod traffic rides on, without the pods' veths and the nodes' routing),
// measured alternately with the pod runs, and a bare veth pair between two
// namespaces. One TCP stream, iperf3 -t 5; sender, receiver and softirq
// share this machine's cores, so compare within a run.
func BenchmarkNodeIperf(b *testing.B) {
	if msg := requireRootFor("the iperf3 benchmark"); msg != "" {
		b.Skip(msg)
	}
	for _, tool := range []string{"iperf3", "ip", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("skipped: %s is not installed (bash .ci/setup installs it)", tool)
		}
	}
	bin := nodeBinDir(b)
	var rows []iperfRow
	rows = append(rows, vethBaseline(b))
	for _, mode := range []string{"Never", "Always"} {
		rows = append(rows, labIperf(b, bin, mode)...)
	}

	fmt.Printf("\nPod-to-pod iperf3 across two lab nodes (one TCP stream, -t %d, Gbit/s; retransmits summed over the runs; load average %s)\n",
		iperfSeconds, loadAvg())
	fmt.Printf("%-50s %-13s %-18s %6s %8s %12s %8s\n", "", "route via", "runs", "mean", "retrans", "vs underlay", "vs veth")
	veth := rows[0].mean()
	var base float64
	for _, r := range rows {
		vsUnderlay := "-"
		switch {
		case r.underlay:
			base = r.mean()
		case base > 0:
			vsUnderlay = fmt.Sprintf("%.0f%%", 100*r.mean()/base)
		}
		var runs []string
		for _, g := range r.gbps {
			runs = append(runs, fmt.Sprintf("%.2f", g))
		}
		fmt.Printf("%-50s %-13s %-18s %6.2f %8d %12s %7.0f%%\n", r.name, r.dev, strings.Join(runs, " "), r.mean(), r.retrans, vsUnderlay, 100*r.mean()/veth)
		b.ReportMetric(r.mean(), r.metric+"-Gbit/s")
		if !r.underlay && base > 0 {
			b.ReportMetric(r.mean()/base, r.metric+"-vs-underlay")
		}
	}
	fmt.Printf("environment.md §6 (same machine, earlier): veth 13.6-19.0, hand-built routed 13.1-14.2, hand-built VXLAN 12.9-13.3 Gbit/s\n")
}

// loadAvg is the 1-minute load average: sender, receiver and every other
// job on the machine share its cores.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// iperfRow is one line of the report.
type iperfRow struct {
	name, dev, metric string
	underlay          bool
	gbps              []float64
	retrans           int
}

func (r iperfRow) mean() float64 {
	s := 0.0
	for _, g := range r.gbps {
		s += g
	}
	return s / float64(len(r.gbps))
}

// vethBaseline is iperf3 over one veth pair between two fresh namespaces.
func vethBaseline(b *testing.B) iperfRow {
	b.Helper()
	a, z := newPlainNS(b, "va"), newPlainNS(b, "vz")
	for _, argv := range [][]string{
		{"ip", "-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", z},
		{"ip", "-n", a, "addr", "add", "198.18.0.1/30", "dev", "veth0"},
		{"ip", "-n", z, "addr", "add", "198.18.0.2/30", "dev", "veth0"},
		{"ip", "-n", a, "link", "set", "veth0", "up"},
		{"ip", "-n", z, "link", "set", "veth0", "up"},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %v: %s", argv, err, out)
		}
	}
	in := func(ns string) func([]string) *exec.Cmd {
		return func(argv []string) *exec.Cmd {
			return exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
		}
	}
	row := iperfRow{name: "baseline: bare veth pair, two namespaces", dev: "veth0", metric: "veth"}
	for range iperfRuns {
		res, err := iperf(in(z), in(a), "198.18.0.2")
		if err != nil {
			b.Fatal(err)
		}
		row.gbps, row.retrans = append(row.gbps, res.gbps), row.retrans+res.retrans
	}
	return row
}

// newPlainNS makes a namespace "tbn-<what>-<pid>" with loopback up,
// removed when b ends.
func newPlainNS(b *testing.B, what string) string {
	b.Helper()
	name := fmt.Sprintf("tbn-%s-%d", what, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		b.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	b.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			b.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		b.Fatalf("lo up in %s: %v: %s", name, err, out)
	}
	return name
}

// labIperf brings up a two-node lab with the pool's vxlanMode set to mode,
// measures underlay and pod-to-pod throughput alternately, and takes the
// lab down again, whatever happened.
func labIperf(b *testing.B, bin, mode string) []iperfRow {
	b.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("tbn-%d-%s", os.Getpid()%100000, strings.ToLower(mode))
	cfg := lab.Config{Root: b.TempDir(), BinDir: bin, CNIPath: []string{goBinDir()}, ReadyTimeout: 30 * time.Second, DieWithCaller: true}
	down := func() {
		if err := lab.Down(ctx, cfg, name); err != nil {
			b.Errorf("lab down %s: %v", name, err)
		}
	}
	b.Cleanup(down) // a safety net: Down of a lab that is gone succeeds
	defer down()
	top := topo.Generate(topo.GenerateOptions{Name: name, Nodes: 2, PodsPerNode: 1, Underlay: topo.UnderlayL2, CNI: topo.CNIAuto})
	top.Pool.VXLANMode = mode
	l, err := lab.Up(ctx, cfg, top)
	if err != nil {
		b.Fatalf("lab up (vxlanMode %s): %v", mode, err)
	}
	st := l.State()
	if len(st.Pods) != 2 || st.Pods[0].Node != "node1" || st.Pods[1].Node != "node2" || len(st.Pods[1].IPs) == 0 {
		b.Fatalf("lab %s: pods %+v", name, st.Pods)
	}
	podIP := strings.Split(st.Pods[1].IPs[0], "/")[0]
	client, server := st.Pods[0].Key, st.Pods[1].Key
	nodeIP := l.Topology().Nodes[1].Interfaces[0].Addr.String()
	in := func(member string) func([]string) *exec.Cmd {
		return func(argv []string) *exec.Cmd {
			cmd, err := l.Command(member, argv)
			if err != nil {
				b.Fatal(err)
			}
			return cmd
		}
	}
	// The agents program the routes just after the pods appear.
	deadline := time.Now().Add(20 * time.Second)
	for in(client)([]string{"ping", "-c", "1", "-W", "1", podIP}).Run() != nil {
		if time.Now().After(deadline) {
			b.Fatalf("lab %s (vxlanMode %s, CNI %s): pod %s cannot reach %s", name, mode, st.CNI, client, podIP)
		}
		time.Sleep(200 * time.Millisecond)
	}
	routeDev := func(member, dst string) string {
		out, _ := in(member)([]string{"ip", "route", "get", dst}).Output()
		f := strings.Fields(string(out))
		for i := range f {
			if f[i] == "dev" && i+1 < len(f) {
				return f[i+1]
			}
		}
		return "?"
	}
	tag := "vxlanMode " + mode
	under := iperfRow{name: tag + ": baseline node1 -> node2 underlay", dev: routeDev("node1", nodeIP), underlay: true, metric: "underlay-" + strings.ToLower(mode)}
	pods := iperfRow{name: tag + ": pod -> pod across the nodes", dev: routeDev("node1", podIP), metric: "pod-" + strings.ToLower(mode)}
	for range iperfRuns {
		for _, c := range []struct {
			row          *iperfRow
			from, to, ip string
		}{{&under, "node1", "node2", nodeIP}, {&pods, client, server, podIP}} {
			res, err := iperf(in(c.to), in(c.from), c.ip)
			if err != nil {
				b.Fatalf("%s: %v", c.row.name, err)
			}
			c.row.gbps, c.row.retrans = append(c.row.gbps, res.gbps), c.row.retrans+res.retrans
		}
	}
	return []iperfRow{under, pods}
}

type iperfResult struct {
	gbps    float64
	retrans int
}

// iperf runs `iperf3 -s -1` through server and `iperf3 -c ip -J` through
// client, retrying the client until the server listens.
func iperf(server, client func([]string) *exec.Cmd, ip string) (iperfResult, error) {
	srv := server([]string{"iperf3", "-s", "-1", "-p", "5201"})
	var srvOut strings.Builder
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := dieWithUs(srv).Start(); err != nil {
		return iperfResult{}, fmt.Errorf("start iperf3 -s: %w", err)
	}
	defer func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
	}()
	var out []byte
	var err error
	for try := 0; ; try++ {
		out, err = client([]string{"iperf3", "-c", ip, "-p", "5201", "-t", fmt.Sprint(iperfSeconds), "-J"}).Output()
		// iperf3 -J exits 0 even when it could not connect.
		if try == 30 || !strings.Contains(string(out), "Connection refused") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var r struct {
		Error string `json:"error"`
		End   struct {
			SumSent struct {
				Retransmits int `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if jerr := json.Unmarshal(out, &r); jerr != nil || err != nil || r.Error != "" {
		return iperfResult{}, fmt.Errorf("iperf3 -c %s: %v %s (server: %s; %s)", ip, err, r.Error, srvOut.String(), srv.String())
	}
	return iperfResult{gbps: r.End.SumReceived.BitsPerSecond / 1e9, retrans: r.End.SumSent.Retransmits}, nil
}

// nodeBinDir is $TORTIE_BIN when it holds the binaries, else a fresh build
// of tortiectl, tortie (and tortie-ipam) and tortie-node.
func nodeBinDir(b *testing.B) string {
	b.Helper()
	if d := os.Getenv("TORTIE_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "tortie-node")); err == nil {
			return d
		}
	}
	dir := b.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/tortienet/tortie/cmd/tortiectl",
		"github.com/tortienet/tortie/cmd/tortie", "github.com/tortienet/tortie/cmd/tortie-node")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build the binaries: %v: %s", err, out)
	}
	if err := os.Symlink("tortie", filepath.Join(dir, "tortie-ipam")); err != nil {
		b.Fatal(err)
	}
	return dir
}

// goBinDir is where `go install` put the upstream CNI plugins (the lab's
// fallback when tortie's own plugin does not answer).
func goBinDir() string {
	if p := os.Getenv("GOPATH"); p != "" {
		return filepath.Join(p, "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "bin")
}
