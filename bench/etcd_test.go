// Package bench holds tortie's benchmarks: scripted runs that print
// figures side by side with a baseline measured in the same run. Run them
// with `make bench`; they report numbers and assert nothing.
package bench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tortienet/tortie/internal/datastore/embedded/embeddedtest"
	"github.com/tortienet/tortie/internal/datastore/etcd"
)

// etcdServer is one embedded etcd (with its real fsync) per benchmark binary.
var etcdEndpoints []string

func TestMain(m *testing.M) { os.Exit(embeddedtest.Main(m, &etcdEndpoints)) }

// freshStore connects to the benchmark etcd with an empty /calico/ tree.
func freshStore(tb testing.TB) *etcd.Store {
	tb.Helper()
	ctx := context.Background()
	s, err := etcd.New(ctx, etcd.Config{Endpoints: etcdEndpoints})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Client().Delete(ctx, "/", clientv3.WithPrefix()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// latencies summarises a run.
type latencies struct {
	n    int
	wall time.Duration
	d    []time.Duration
}

func (l *latencies) rate() float64 { return float64(l.n) / l.wall.Seconds() }

func (l *latencies) pct(p float64) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l.d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (l *latencies) String() string {
	return fmt.Sprintf("%8.0f/s   p50 %7s   p95 %7s", l.rate(), l.pct(0.50).Round(10*time.Microsecond), l.pct(0.95).Round(10*time.Microsecond))
}
