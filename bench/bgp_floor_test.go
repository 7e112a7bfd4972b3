package bench

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/tortienet/tortie/internal/lab"
	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// watchFloor holds n etcd watches of one key, each on a connection of
// its own (as each agent has), opened in the lab's underlay namespace: how
// long a write takes to reach n watchers is the floor under any agent's
// reaction to it (etcd's commit and its watch fan-out, nothing of tortie's).
type watchFloor struct {
	mu      sync.Mutex
	seen    []time.Time // per watcher, the last event
	clients []*clientv3.Client
	cancel  context.CancelFunc
}

func newWatchFloor(b *testing.B, netnsName, endpoint, key string, n int) *watchFloor {
	b.Helper()
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(netnsName, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			return err
		})
		return c, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &watchFloor{seen: make([]time.Time, n), cancel: cancel}
	b.Cleanup(f.close)
	for i := range n {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second,
			DialOptions: []grpc.DialOption{grpc.WithContextDialer(dial)}})
		if err != nil {
			b.Fatalf("etcd watcher %d: %v", i, err)
		}
		f.clients = append(f.clients, c)
		wch := c.Watch(clientv3.WithRequireLeader(ctx), key)
		go func() {
			for range wch {
				t := time.Now()
				f.mu.Lock()
				f.seen[i] = t
				f.mu.Unlock()
			}
		}()
	}
	// A watch is in place once it has seen a write.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := f.clients[0].Put(ctx, key, "x"); err != nil {
			b.Fatalf("etcd put %s: %v", key, err)
		}
		time.Sleep(50 * time.Millisecond)
		if f.all(time.Time{}) {
			return f
		}
	}
	b.Fatalf("the %d etcd watchers did not see a write in 10 s", n)
	return nil
}

// all says whether every watcher has seen an event after t0.
func (f *watchFloor) all(t0 time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.seen {
		if !t.After(t0) {
			return false
		}
	}
	return true
}

// last waits (at most 5 s) until every watcher has seen an event after t0
// and is the time the last one did, from t0.
func (f *watchFloor) last(t0 time.Time) time.Duration {
	deadline := time.Now().Add(5 * time.Second)
	for !f.all(t0) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var m time.Duration
	for _, t := range f.seen {
		m = max(m, t.Sub(t0))
	}
	return m
}

func (f *watchFloor) close() {
	f.cancel()
	for _, c := range f.clients {
		_ = c.Close()
	}
}

// cpuSeconds is the CPU time the processes used so far (all their
// threads: /proc/<pid>/schedstat, in nanoseconds; /proc/<pid>/stat counts
// 10 ms ticks, too coarse for a change).
func cpuSeconds(pids []int) float64 {
	var ns float64
	eachTask(pids, "schedstat", func(b string) {
		if f := strings.Fields(b); len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			ns += float64(v)
		}
	})
	return ns / 1e9
}

// eachTask calls fn with the file name in /proc/<pid>/task/<tid>/ of
// every thread of the processes (threads gone meanwhile are skipped).
func eachTask(pids []int, name string, fn func(content string)) {
	for _, p := range pids {
		dir := "/proc/" + strconv.Itoa(p) + "/task/"
		tasks, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, t := range tasks {
			if b, err := os.ReadFile(dir + t.Name() + "/" + name); err == nil {
				fn(string(b))
			}
		}
	}
}

// putBreakdown is where an etcd write's time went during the floor's
// trials, per write: the WAL's fsync (etcd's histogram of it), the
// backend's commit, the datastore process's CPU beyond its idle rate.
type putBreakdown struct {
	walFsync, walWrites float64 // mean s per fsync, and fsyncs per write
	commit              float64 // mean s per backend commit (batched, off the write's path)
	cpu                 float64 // the datastore's CPU s per write
}

// ctxSwitches is how many times the processes' threads were switched
// out so far (voluntary and not: /proc/<pid>/task/*/status).
func ctxSwitches(pids []int) float64 {
	var n float64
	eachTask(pids, "status", func(b string) {
		for _, line := range strings.Split(b, "\n") {
			if f := strings.Fields(line); len(f) == 2 && strings.HasSuffix(f[0], "ctxt_switches:") {
				v, _ := strconv.ParseFloat(f[1], 64)
				n += v
			}
		}
	})
	return n
}

// floorTrials times the block's writes as trials does, with the agents
// stopped (SIGSTOP: their watches stay open, etcd still sends to them)
// and n-1 plain watchers in their place: the floor etcd puts under any
// agent (commit and fan-out). puts is how long each write itself took.
func floorTrials(b *testing.B, l *lab.Lab, pids []int, key, value string, put func(key, value string), storeIdle float64) (seen, puts []time.Duration, pb putBreakdown) {
	b.Helper()
	name := l.State().Name
	underlay := topo.NamespaceName(name, topo.KindUnderlay, "")
	f := newWatchFloor(b, underlay, l.State().Datastore, key, len(pids)-1)
	defer f.close()
	store := agentPids(l, []string{"datastore"})
	m0, cpu0, t0 := etcdMetrics(b, underlay, l.State().Datastore), cpuSeconds(store), time.Now()
	defer func() {
		m1, writes := etcdMetrics(b, underlay, l.State().Datastore), float64(2*bgpTrials)
		pb.cpu = (cpuSeconds(store) - cpu0 - storeIdle*time.Since(t0).Seconds()) / writes
		d := func(k string) float64 { return m1[k] - m0[k] }
		pb.walFsync = d("etcd_disk_wal_fsync_duration_seconds_sum") / max(d("etcd_disk_wal_fsync_duration_seconds_count"), 1)
		pb.walWrites = d("etcd_disk_wal_fsync_duration_seconds_count") / writes
		pb.commit = d("etcd_disk_backend_commit_duration_seconds_sum") / max(d("etcd_disk_backend_commit_duration_seconds_count"), 1)
	}()
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGSTOP)
	}
	defer func() {
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGCONT)
		}
	}()
	for range bgpTrials {
		for _, v := range []string{value, ""} {
			t0 := time.Now()
			put(key, v)
			puts = append(puts, time.Since(t0))
			seen = append(seen, f.last(t0))
			time.Sleep(300 * time.Millisecond)
		}
	}
	return seen, puts, pb
}

// etcdMetrics reads the unlabelled sums and counts of etcd's /metrics.
func etcdMetrics(b *testing.B, netnsName, endpoint string) map[string]float64 {
	b.Helper()
	resp, err := nsHTTPClient(netnsName, 5*time.Second).Get(endpoint + "/metrics")
	if err != nil {
		b.Logf("etcd metrics: %v", err)
		return nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			out[f[0]], _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return out
}
