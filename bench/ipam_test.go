package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// run executes op total times over workers goroutines and times each call.
func run(total, workers int, op func(worker, i int) error) (*latencies, error) {
	l := &latencies{n: total, d: make([]time.Duration, total)}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	per := total / workers
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				t0 := time.Now()
				if err := op(w, i); err != nil {
					errs <- err
					return
				}
				l.d[w*per+i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	l.wall = time.Since(start)
	close(errs)
	return l, <-errs
}

// BenchmarkIPAM measures allocations and releases per second against the
// embedded etcd, next to the rate of plain single-key etcd transactions
// (the fsync-bound ceiling) measured in the same run.
func BenchmarkIPAM(b *testing.B) {
	const total = 2000
	ctx := context.Background()
	fmt.Printf("\nIPAM on the embedded etcd (%d operations per row)\n", total)
	fmt.Printf("%-44s %s\n", "", "rate        latency")

	base := map[int]float64{}
	for _, workers := range []int{1, 16} {
		s := freshStore(b)
		l, err := run(total, workers, func(w, i int) error {
			_, err := s.Txn(ctx, datastore.Op{Type: datastore.OpCreate, Key: fmt.Sprintf("/bench/%d/%d", w, i), Value: []byte(`{"block":{"10.0.0.0/26":1},"deleted":false}`)})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		base[workers] = l.rate()
		fmt.Printf("%-44s %s\n", fmt.Sprintf("baseline: etcd txn put, %d writers", workers), l)
	}
	// The write an allocation cannot avoid: a /26 block as Calico stores
	// it (about 8 KB when full) plus a new handle, compare-and-swap.
	{
		s := freshStore(b)
		block := make([]byte, 8000)
		for i := range block {
			block[i] = 'x'
		}
		rev, _ := s.Create(ctx, "/bench/block", block)
		l, err := run(total, 1, func(_, i int) error {
			r, err := s.Txn(ctx, datastore.Op{Type: datastore.OpUpdate, Key: "/bench/block", Value: block, Rev: rev},
				datastore.Op{Type: datastore.OpCreate, Key: fmt.Sprintf("/bench/h/%d", i), Value: []byte(`{"block":{"10.0.0.0/26":1},"deleted":false}`)})
			rev = r
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("%-44s %s\n", "baseline: 8 KB block CAS + handle, 1 writer", l)
	}
	for _, tc := range []struct {
		workers, nodes int
		cached         bool
	}{{1, 1, false}, {1, 1, true}, {16, 1, true}, {1, 4, true}, {16, 4, true}, {16, 4, false}} {
		s := freshStore(b)
		c := client.New(s)
		pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "bench"}}
		pool.Spec.CIDR = "10.0.0.0/12"
		if _, err := c.Create(ctx, pool); err != nil {
			b.Fatal(err)
		}
		m := ipam.New(c)
		mode := "fresh reads (one-shot, like a CNI process)"
		if tc.cached {
			m, mode = ipam.New(c, ipam.WithCache(2*time.Second)), "cached (long-lived, like the node agent)"
		}
		// 2,000 addresses on one node need more than the default 20 /26 blocks.
		if _, err := m.SetConfig(ctx, func(c *ipam.Config) { c.MaxBlocksPerHost = 100 }); err != nil {
			b.Fatal(err)
		}
		l, err := run(total, tc.workers, func(w, i int) error {
			node := "node-" + strconv.Itoa((w*total/tc.workers+i)%tc.nodes)
			_, _, err := m.AutoAssign(ctx, ipam.AutoAssignArgs{Num4: 1, HandleID: fmt.Sprintf("net.w%d-%d", w, i), Hostname: node})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("%-44s %s   %3.0f%% of etcd put   %s\n", fmt.Sprintf("allocate: %d allocators, %d node(s)", tc.workers, tc.nodes), l, 100*l.rate()/base[tc.workers], mode)
		if tc.cached {
			b.ReportMetric(l.rate(), fmt.Sprintf("allocs/s-%dw-%dn", tc.workers, tc.nodes))
		}
		if tc.workers == 1 && tc.nodes == 1 && tc.cached {
			rl, err := run(total, 1, func(_, i int) error {
				_, err := m.ReleaseByHandle(ctx, fmt.Sprintf("net.w0-%d", i))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			fmt.Printf("%-44s %s\n", "release by handle: 1 releaser, 1 node", rl)
			b.ReportMetric(rl.rate(), "releases/s")
		}
	}
}
