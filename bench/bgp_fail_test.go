package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/bgp/bgpstatus"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/lab"
	"github.com/tortienet/tortie/internal/lab/topo"
)

// The late joiner and the silent link failure of spec/bgp-convergence.md
// and spec/gobgp-v4.md, tortie side by side with BIRD (configured as
// calico-node configures it) in the same run. N is 10, or
// $TORTIE_BENCH_BGP_N.

// bgpSizes is $TORTIE_BENCH_BGP_N (comma-separated) or def.
func bgpSizes(b *testing.B, def ...int) []int {
	v := os.Getenv("TORTIE_BENCH_BGP_N")
	if v == "" {
		return def
	}
	var sizes []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			b.Fatalf("TORTIE_BENCH_BGP_N=%q: want sizes of 2 or more, comma-separated", v)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

func bgpBenchNeeds(b *testing.B) string {
	if os.Geteuid() != 0 {
		b.Skip("skipped: needs root for network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("bird"); err != nil {
		b.Skip("skipped: bird is not installed (Debian package bird2; .ci/setup installs it)")
	}
	return nodeBinDir(b)
}

// lateJoinDelay is how long the others run before the joiner starts: their
// first dials to it (it is the passive side of every session, having the
// lowest address) are refused, as in gobgp-v4.md's test.
const lateJoinDelay = 3 * time.Second

// BenchmarkBGPLateJoiner: every node but node 1 started, node 1 started
// 3 s later; from node 1's start until every kernel has every other node's
// block, and (tortie) until every session of the mesh is Established.
func BenchmarkBGPLateJoiner(b *testing.B) {
	bin := bgpBenchNeeds(b)
	fmt.Printf("\nBGP late joiner, full mesh (load average %s): node 1 started %v after the others\n", loadAvg(), lateJoinDelay)
	fmt.Printf("%-4s %-7s %22s %22s\n", "N", "speaker", "every kernel complete", "every session up")
	for _, n := range bgpSizes(b, 10) {
		m := newBirdMesh(b, n)
		for i := 1; i < n; i++ {
			m.startOne(b, i)
		}
		time.Sleep(lateJoinDelay)
		t0 := time.Now()
		m.startOne(b, 0)
		d := waitComplete(b, m.nodes, n-1, unix.RTPROT_BIRD, 300*time.Second).Sub(t0)
		m.stop()
		fmt.Printf("%-4d %-7s %20.2f s %22s\n", n, "BIRD", d.Seconds(), "-")

		kernel, sessions := tortieLate(b, bin, n)
		fmt.Printf("%-4d %-7s %20.2f s %20.2f s\n", n, "tortie", kernel.Seconds(), sessions.Seconds())
	}
}

// tortieLate kills every agent of a complete lab, removes the routes they
// learned, starts every agent but node 1's, and node 1's 3 s later.
func tortieLate(b *testing.B, bin string, n int) (kernel, sessions time.Duration) {
	l, nodes, roles, down := tortieLab(b, bin, "tlj", n)
	defer down()
	for _, role := range roles {
		if _, err := l.Stop(role, syscall.SIGKILL, 0); err != nil {
			b.Fatal(err)
		}
	}
	for _, nd := range nodes {
		flushLearned(b, nd)
	}
	for _, role := range roles[1:] {
		if _, err := l.Start(context.Background(), role); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(lateJoinDelay)
	t0 := time.Now()
	if _, err := l.Start(context.Background(), roles[0]); err != nil {
		b.Fatal(err)
	}
	kernel = waitComplete(b, nodes, n-1, 80, 120*time.Second).Sub(t0)
	sessions = waitSessions(b, l, n-1, 120*time.Second).Sub(t0)
	return kernel, sessions
}

// flushLearned deletes a node's routes via other nodes (tortie's protocol
// 80 routes with a gateway).
func flushLearned(b *testing.B, netns string) {
	b.Helper()
	out, err := exec.Command("ip", "-n", netns, "-4", "route", "show", "proto", "80").Output()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == "via" {
			sh(b, "ip", "-n", netns, "route", "del", f[0])
		}
	}
}

// waitSessions waits until every agent reports n Established sessions on
// its status socket, checking every 10 ms.
func waitSessions(b *testing.B, l *lab.Lab, n int, limit time.Duration) time.Time {
	b.Helper()
	deadline := time.Now().Add(limit)
	for {
		up := true
		for _, nd := range l.Topology().Nodes {
			sock := filepath.Join(l.Dir(), "nodes", nd.Name, "lib", conventions.StatusSocket)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := bgpstatus.Read(ctx, sock)
			cancel()
			c := 0
			for _, p := range st.Peers {
				if p.State == "Established" {
					c++
				}
			}
			up = up && err == nil && c == n
		}
		if up {
			return time.Now()
		}
		if time.Now().After(deadline) {
			b.Fatalf("the sessions were not all Established within %v", limit)
		}
		time.Sleep(100 * time.Millisecond) // each poll is a request to every agent
	}
}

// BenchmarkBGPSilentFailure: node 1's link goes down on the bridge side
// (no FIN, no RST: the peers hear nothing); from then until every other
// node's kernel has dropped its route to node 1's block.
func BenchmarkBGPSilentFailure(b *testing.B) {
	bin := bgpBenchNeeds(b)
	fmt.Printf("\nBGP silent link failure, full mesh (load average %s): node 1's bridge port down -> its block gone from every other kernel\n", loadAvg())
	fmt.Printf("%-4s %-7s %12s %12s\n", "N", "speaker", "first s", "last s")
	for _, n := range bgpSizes(b, 10) {
		m := newBirdMesh(b, n)
		m.start(b)
		waitComplete(b, m.nodes, n-1, unix.RTPROT_BIRD, 120*time.Second)
		time.Sleep(3 * time.Second) // sessions a few seconds old, as in the reference run
		first, last := silentFailure(b, m.nodes, netip.MustParsePrefix("10.244.1.0/26"), m.sw, "p1", 400*time.Second)
		m.stop()
		fmt.Printf("%-4d %-7s %12.2f %12.2f\n", n, "BIRD", first.Seconds(), last.Seconds())

		l, nodes, _, down := tortieLab(b, bin, "tsf", n)
		time.Sleep(3 * time.Second)
		st, err := l.Status(context.Background())
		if err != nil || len(st.Nodes) == 0 || len(st.Nodes[0].Blocks) == 0 {
			b.Fatalf("node 1's block: %v (%+v)", err, st)
		}
		ul := topo.NamespaceName(l.State().Name, topo.KindUnderlay, "")
		block := netip.MustParsePrefix(st.Nodes[0].Blocks[0])
		first, last = silentFailure(b, nodes, block, ul, l.Topology().Nodes[0].Interfaces[0].BridgePort, 120*time.Second)
		down()
		fmt.Printf("%-4d %-7s %12.2f %12.2f\n", n, "tortie", first.Seconds(), last.Seconds())
	}
}

// silentFailure takes port down in the bridge namespace and times until
// every node but the first has dropped its route to block: the first and
// the last node to do so.
func silentFailure(b *testing.B, nodes []string, block netip.Prefix, sw, port string, limit time.Duration) (first, last time.Duration) {
	b.Helper()
	w := watchRoutes(b, nodes) // closed when the benchmark ends
	done := w.arm(block, false, nodes[1:])
	t0 := time.Now()
	sh(b, "ip", "-n", sw, "link", "set", port, "down")
	select {
	case <-done:
	case <-time.After(limit):
		b.Fatalf("%s still routed somewhere %v after its node's link went down", block, limit)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	first = limit
	for _, t := range w.seen {
		first = min(first, t.Sub(t0))
		last = max(last, t.Sub(t0))
	}
	return first, last
}
