package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/bgp/bgpstatus"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/lab"
)

// BenchmarkBGPMeshUp: only the mesh's bring-up (every agent killed and
// started again, as in BenchmarkBGPConvergence): until every kernel is
// complete, until every session is Established, and when the sessions
// came up (from each session's Since), at $TORTIE_BENCH_BGP_N (default
// 30). With $TORTIE_BENCH_KEEP_LOGS=dir the agents' logs are copied there
// (with TORTIE_BENCH_AGENT_ENV=FELIX_LOGSEVERITYSCREEN=Debug: GoBGP's FSM).
func BenchmarkBGPMeshUp(b *testing.B) {
	bin := bgpBenchNeeds(b)
	fmt.Printf("\nBGP mesh bring-up (load average %s)\n", loadAvg())
	for _, n := range bgpSizes(b, 30) {
		if os.Getenv("TORTIE_BENCH_MESH_BIRD") != "" { // as BenchmarkBGPConvergence does, first
			r := birdRun(b, n)
			fmt.Printf("N=%d: BIRD first, bring-up %.2f s\n", n, r.bringUp.Seconds())
		}
		l, nodes, roles, down := tortieLab(b, bin, "tbm", n)
		kernels, sessions := tortieBringUp(b, l, nodes, roles)
		t0 := time.Now().Add(-sessions)
		ups := sessionTimes(b, l, t0)
		q := func(f float64) float64 { return ups[min(len(ups)-1, int(f*float64(len(ups))))].Seconds() }
		fmt.Printf("N=%d: every kernel complete %.2f s, every session Established %.2f s; "+
			"sessions up at p50 %.2f / p90 %.2f / max %.2f s (%d sessions)\n",
			n, kernels.Seconds(), sessions.Seconds(), q(0.5), q(0.9), q(1), len(ups))
		if dir := os.Getenv("TORTIE_BENCH_KEEP_LOGS"); dir != "" {
			keepLogs(b, l, dir)
		}
		down()
	}
}

// sessionTimes is, for every session of every agent (each counted on
// both sides), when it became Established after t0, sorted.
func sessionTimes(b *testing.B, l *lab.Lab, t0 time.Time) []time.Duration {
	b.Helper()
	var out []time.Duration
	for _, nd := range l.Topology().Nodes {
		sock := filepath.Join(l.Dir(), "nodes", nd.Name, "lib", conventions.StatusSocket)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := bgpstatus.Read(ctx, sock)
		cancel()
		if err != nil {
			b.Fatalf("status of %s: %v", nd.Name, err)
		}
		for _, p := range st.Peers {
			out = append(out, p.Since.Sub(t0))
		}
	}
	if len(out) == 0 {
		b.Fatal("no sessions")
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func keepLogs(b *testing.B, l *lab.Lab, dir string) {
	b.Helper()
	for _, nd := range l.Topology().Nodes {
		src := filepath.Join(l.Dir(), "nodes", nd.Name, "log", "tortie-node.log")
		data, err := os.ReadFile(src)
		if err != nil {
			b.Logf("log of %s: %v", nd.Name, err)
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, nd.Name+".log"), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
