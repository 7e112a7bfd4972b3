package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/cni/cnitest"
)

// Sizes of the CNI benchmark (issue 4): sequential pods, kept until all
// are added, then deleted one by one; then a burst of concurrent ADDs.
const (
	cniSequential = 100
	cniConcurrent = 20
)

// BenchmarkCNI drives the real binaries through cnitool, as a container
// runtime does, against an embedded etcd: cnitool runs inside a node
// namespace (no default route, nothing on the host's namespace) and every
// figure is the whole "cnitool add|del" process, start to exit. Baselines
// from the same run give the numbers context: the exec floor, the
// plugin's start-up alone, cnitool running a Go plugin that does nothing
// (the least any Go plugin can cost through cnitool), and the upstream ptp plugin with host-local,
// which wires a veth the same way but keeps no datastore, and host-local
// run alone as the network's only plugin (cnitool, one exec, an address).
func BenchmarkCNI(b *testing.B) {
	cnitest.RequireRoot(b)
	cnitest.RequireTools(b, "cnitool", "host-local")
	tortie := cnitest.TortieBinary(b, b.TempDir())
	var rows []cniRow

	noop := buildNoop(b)
	floor := cnitest.NewNetNS(b, "tcnib-"+cnitest.RunID()+"-floor")
	rows = append(rows,
		cniExecRow(b, floor, "exec /bin/true (fork+exec floor)", exec.Command("true")),
		cniExecRow(b, floor, "exec tortie VERSION (plugin start-up)", cniVersionCmd(tortie)),
		cniExecRow(b, floor, "exec host-local VERSION", cniVersionCmd(cnitest.GoBin+"/host-local")),
	)
	rows = append(rows, cniScenario(b, tortie, "no-op Go plugin (cnitool + exec floor)", func(n *cnitest.Node) map[string]any {
		if err := os.Symlink(noop, filepath.Join(n.Runtime.PluginDir, "noopcni")); err != nil {
			b.Fatal(err)
		}
		return map[string]any{"type": "noopcni"}
	}))
	rows = append(rows, cniScenario(b, tortie, "host-local alone (cnitool + IPAM floor)", func(n *cnitest.Node) map[string]any {
		return map[string]any{"type": "host-local", "ipam": n.TortieConf()["ipam"]}
	}))
	if _, err := os.Stat(cnitest.GoBin + "/ptp"); err == nil {
		rows = append(rows, cniScenario(b, tortie, "ptp + host-local (upstream baseline)", func(n *cnitest.Node) map[string]any {
			return map[string]any{"type": "ptp", "mtu": 1500, "ipam": n.TortieConf()["ipam"]}
		}))
	} else {
		fmt.Printf("(no ptp baseline: go install github.com/containernetworking/plugins/plugins/main/ptp@v1.9.1)\n")
	}
	rows = append(rows, cniScenario(b, tortie, "tortie + host-local", func(n *cnitest.Node) map[string]any {
		return n.TortieConf()
	}))
	withPool := func(n *cnitest.Node) map[string]any {
		p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "bench-pool"}}
		p.Spec.CIDR, p.Spec.BlockSize = "10.245.0.0/16", 26
		if _, err := n.Client.Create(context.Background(), p); err != nil {
			b.Fatal(err)
		}
		conf := n.TortieConf()
		conf["ipam"] = map[string]any{"type": "tortie-ipam"}
		return conf
	}
	rows = append(rows, cniScenario(b, tortie, "tortie + tortie-ipam, etcd direct", withPool))
	agent := cnitest.AgentBinary(b, b.TempDir())
	rows = append(rows, cniScenario(b, tortie, "tortie + tortie-ipam, via tortie-node", func(n *cnitest.Node) map[string]any {
		conf := withPool(n)
		n.StartAgent(b, agent)
		return conf
	}))
	cniPrint(rows)
	for _, r := range rows {
		if r.name == "tortie + tortie-ipam, via tortie-node" {
			b.ReportMetric(ms(r.add.pct(50)), "add-p50-ms")
			b.ReportMetric(ms(r.del.pct(50)), "del-p50-ms")
		}
	}
}

// cniRow is one line of the report.
type cniRow struct {
	name       string
	add, del   cniTimes
	first      time.Duration // the first ADD on the node (creates the cluster objects)
	burst      time.Duration // wall time of the concurrent ADDs
	burstDel   time.Duration
	exec       bool // an exec baseline: only add is set
	burstFails int
}

type cniTimes []time.Duration

func (t cniTimes) pct(p int) time.Duration {
	if len(t) == 0 {
		return 0
	}
	s := slices.Clone(t)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// buildNoop builds bench/noopcni as tortie is built: static (make build
// sets CGO_ENABLED=0).
func buildNoop(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "noopcni")
	cmd := exec.Command("go", "build", "-o", p, "github.com/tortienet/tortie/bench/noopcni")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build noopcni: %v: %s", err, out)
	}
	return p
}

func cniVersionCmd(path string) *exec.Cmd {
	c := exec.Command(path)
	c.Env = []string{"CNI_COMMAND=VERSION"}
	return c
}

// cniExecRow times 100 runs of a command inside a namespace.
func cniExecRow(b *testing.B, n *cnitest.NetNS, name string, proto *exec.Cmd) cniRow {
	b.Helper()
	r := cniRow{name: name, exec: true}
	for range 100 {
		c := exec.Command(proto.Path, proto.Args[1:]...)
		c.Env = proto.Env
		start := time.Now()
		if err := n.Run(c); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		r.add = append(r.add, time.Since(start))
	}
	return r
}

// cniScenario runs the sequential and concurrent phases on a fresh node
// with the given plugin entry (chained alone in a 1.1.0 conflist).
func cniScenario(b *testing.B, tortie, name string, entry func(*cnitest.Node) map[string]any) cniRow {
	b.Helper()
	n := cnitest.NewNode(b, "tcnib-"+cnitest.RunID()+"-", "bench-node", tortie, "host-local", "ptp")
	conf := entry(n)
	conf["log_level"] = "warning"
	phases := os.Getenv("TORTIE_CNI_PHASES") != "" && conf["type"] == "tortie"
	if phases {
		conf["log_level"], conf["log_file_path"] = "debug", n.LogFile
	}
	net := n.Network(b, "bench-net", "1.1.0", conf)
	r := cniRow{name: name}

	pods := make([]*cnitest.NetNS, cniSequential+cniConcurrent+1)
	for i := range pods {
		pods[i] = n.Pod(b, fmt.Sprintf("p%d", i))
	}
	call := func(verb string, p *cnitest.NetNS) time.Duration {
		c := n.Runtime.Cnitool(verb, net, p.Path())
		if c.Err != nil {
			b.Fatalf("%s: %v", name, c.Err)
		}
		return c.Took
	}
	r.first = call("add", pods[0])
	for _, p := range pods[1 : cniSequential+1] {
		r.add = append(r.add, call("add", p))
	}
	for _, p := range pods[1 : cniSequential+1] {
		r.del = append(r.del, call("del", p))
	}
	if phases {
		cniPhases(b, name, n.LogFile)
	}
	r.burst, r.burstFails = cniBurst(n, net, "add", pods[cniSequential+1:])
	r.burstDel, _ = cniBurst(n, net, "del", pods[cniSequential+1:])
	call("del", pods[0])
	return r
}

// cniBurst starts one cnitool per pod at once and returns the wall time
// until the last has exited, and how many failed.
func cniBurst(n *cnitest.Node, net, verb string, pods []*cnitest.NetNS) (time.Duration, int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	fails := 0
	start := time.Now()
	for _, p := range pods {
		wg.Go(func() {
			if c := n.Runtime.Cnitool(verb, net, p.Path()); c.Err != nil {
				mu.Lock()
				fails++
				mu.Unlock()
				fmt.Println(c.Err)
			}
		})
	}
	wg.Wait()
	return time.Since(start), fails
}

func cniPrint(rows []cniRow) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nCNI plugin through cnitool (whole process), node namespace, embedded etcd, %d sequential pods kept, then %d concurrent\n", cniSequential, cniConcurrent)
	fmt.Fprintf(&sb, "%-40s %9s %9s %9s %9s %10s %14s %14s\n", "", "ADD p50", "ADD p95", "DEL p50", "DEL p95", "first ADD", fmt.Sprintf("%d x ADD wall", cniConcurrent), fmt.Sprintf("%d x DEL wall", cniConcurrent))
	for _, r := range rows {
		if r.exec {
			fmt.Fprintf(&sb, "%-40s %9s %9s\n", r.name, round(r.add.pct(50)), round(r.add.pct(95)))
			continue
		}
		burst := round(r.burst).String()
		if r.burstFails > 0 {
			burst += fmt.Sprintf(" (%d failed)", r.burstFails)
		}
		fmt.Fprintf(&sb, "%-40s %9s %9s %9s %9s %10s %14s %14s\n", r.name,
			round(r.add.pct(50)), round(r.add.pct(95)), round(r.del.pct(50)), round(r.del.pct(95)),
			round(r.first), burst, round(r.burstDel))
	}
	fmt.Print(sb.String())
}

func round(d time.Duration) time.Duration {
	if d > 100*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// cniPhases prints the median of each phase of the plugin's "timing"
// debug lines, per command (TORTIE_CNI_PHASES=1: the debug log costs a
// little, so the figures of such a run are not the reported ones).
func cniPhases(b *testing.B, name, logFile string) {
	b.Helper()
	data, err := os.ReadFile(logFile)
	if err != nil {
		b.Fatal(err)
	}
	type key struct{ cmd, phase string }
	got := map[key]cniTimes{}
	var order []key
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, " msg=timing ") && !strings.Contains(line, " msg=done ") {
			continue
		}
		cmd := ""
		for _, f := range strings.Fields(line) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			if k == "cmd" {
				cmd = v
				continue
			}
			d, err := time.ParseDuration(v)
			if err != nil {
				continue
			}
			kk := key{cmd, k}
			if _, seen := got[kk]; !seen {
				order = append(order, kk)
			}
			got[kk] = append(got[kk], d)
		}
	}
	fmt.Printf("phases of %s (p50 of each, inside the plugin):\n", name)
	for _, k := range order {
		fmt.Printf("  %-4s %-22s %9s\n", k.cmd, k.phase, round(got[k].pct(50)))
	}
}
