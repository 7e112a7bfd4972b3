package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/tortienet/tortie/internal/datastore/embedded"
)

// BenchmarkBGPWatchFanout: etcd alone (the datastore process the lab runs,
// `tortiectl datastore serve`, on loopback), N watchers of /calico/ (the
// agents' one watch, each on its own connection), a block key created,
// updated and deleted: how long until every watcher has each change, and
// the datastore's CPU per change beyond its idle rate, with the watches
// asking for previous values (WithPrevKV: etcd reads the previous revision
// per watcher per event, except for a creation) and without. N is
// $TORTIE_BENCH_BGP_N (default 30). No root needed.
func BenchmarkBGPWatchFanout(b *testing.B) {
	bin := nodeBinDir(b)
	fmt.Printf("\netcd watch fan-out (load average %s); p50 / max of %d, ms\n", loadAvg(), fanoutTrials)
	fmt.Printf("%-4s %-8s %-7s %18s %22s\n", "N", "prev_kv", "change", "every watcher", "datastore CPU/change")
	for _, n := range bgpSizes(b, 30) {
		endpoint, pid := startDatastore(b, bin)
		for _, prev := range []bool{true, false} {
			fanoutRun(b, endpoint, pid, n, prev)
		}
	}
}

const fanoutTrials = 20

// startDatastore runs `tortiectl datastore serve` on free loopback ports
// until the benchmark ends, and waits until it answers.
func startDatastore(b *testing.B, bin string) (endpoint string, pid int) {
	b.Helper()
	addr, err := embedded.FreeAddr()
	if err != nil {
		b.Fatal(err)
	}
	peer, err := embedded.FreeAddr()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "tortiectl"), "datastore", "serve",
		"--data-dir", filepath.Join(b.TempDir(), "datastore"), "--listen", addr, "--peer-listen", peer)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	endpoint = "http://" + addr
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Get(ctx, "/calico/")
		cancel()
		if err == nil {
			return endpoint, cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			b.Fatalf("the datastore did not answer in 20 s: %v", err)
		}
	}
}

// fanoutRun opens n watchers of /calico/ (with or without previous
// values), then times a block's creation, update and deletion.
func fanoutRun(b *testing.B, endpoint string, pid, n int, prev bool) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	seen := make([]time.Time, n)
	for i := range n {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		opts := []clientv3.OpOption{clientv3.WithPrefix()}
		if prev {
			opts = append(opts, clientv3.WithPrevKV())
		}
		wch := c.Watch(clientv3.WithRequireLeader(ctx), "/calico/", opts...)
		go func() {
			for range wch {
				t := time.Now()
				mu.Lock()
				seen[i] = t
				mu.Unlock()
			}
		}()
	}
	last := func(t0 time.Time) (time.Duration, bool) {
		mu.Lock()
		defer mu.Unlock()
		var m time.Duration
		for _, t := range seen {
			if !t.After(t0) {
				return 0, false
			}
			m = max(m, t.Sub(t0))
		}
		return m, true
	}
	w, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	key := "/calico/ipam/v2/assignment/ipv4/block/10.244.250.0-26"
	value := `{"cidr":"10.244.250.0/26","affinity":"host:node1","allocations":[],"unallocated":[],"attributes":[],"deleted":false}`
	ops := []struct {
		name string
		op   clientv3.Op
	}{
		{"create", clientv3.OpPut(key, value)},
		{"update", clientv3.OpPut(key, value+" ")},
		{"delete", clientv3.OpDelete(key)},
	}
	do := func(op clientv3.Op) time.Duration {
		t0 := time.Now()
		if _, err := w.Do(ctx, op); err != nil {
			b.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Microsecond) {
			if d, ok := last(t0); ok {
				return d
			}
		}
		b.Fatalf("%d watchers did not all see a change in 5 s", n)
		return 0
	}
	do(ops[0].op) // every watch in place
	do(ops[2].op)
	time.Sleep(time.Second)
	cpu0, t0 := cpuSeconds([]int{pid}), time.Now()
	time.Sleep(2 * time.Second)
	idle := (cpuSeconds([]int{pid}) - cpu0) / time.Since(t0).Seconds()
	took := make([][]time.Duration, len(ops))
	cpu := make([]float64, len(ops))
	for range fanoutTrials {
		for i, o := range ops {
			c0, s0 := cpuSeconds([]int{pid}), time.Now()
			took[i] = append(took[i], do(o.op))
			time.Sleep(50 * time.Millisecond) // the datastore's sends finish
			cpu[i] += cpuSeconds([]int{pid}) - c0 - idle*time.Since(s0).Seconds()
		}
	}
	for i, o := range ops {
		p50, mx := stats(took[i])
		fmt.Printf("%-4d %-8v %-7s %9.2f / %6.2f %19.2f ms\n", n, prev, o.name, p50, mx, 1000*cpu[i]/fanoutTrials)
	}
}
