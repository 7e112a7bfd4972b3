package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/kdd/kastest"
	"github.com/tortienet/tortie/internal/ipam"
)

// kasCluster starts a real kube-apiserver (with the CRDs) for a
// benchmark, or skips it when the binary is not built.
func kasCluster(b *testing.B) *kastest.Cluster {
	if _, err := kastest.Binary(); err != nil {
		b.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := kastest.Start(ctx)
	if err == nil {
		err = c.InstallCRDs(ctx)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// BenchmarkIPAMKubernetes: allocations per second on the Kubernetes
// datastore (a real kube-apiserver on an embedded etcd), next to the same
// workload on etcd in the same run.
func BenchmarkIPAMKubernetes(b *testing.B) {
	const total = 320
	ctx := context.Background()
	kas := kasCluster(b)
	fmt.Printf("\nIPAM allocations, Kubernetes datastore vs etcd (%d allocations per row)\n", total)
	for i, tc := range []struct {
		workers, nodes int
		cached         bool
	}{{1, 1, false}, {16, 4, false}, {1, 1, true}, {16, 4, true}} {
		for _, backend := range []string{"etcd", "kubernetes"} {
			var s datastore.Store = freshStore(b)
			if backend == "kubernetes" {
				ks, err := kas.Store("default")
				if err != nil {
					b.Fatal(err)
				}
				s = ks
			}
			c := client.New(s)
			pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: fmt.Sprintf("bench-%d", i)}}
			pool.Spec.CIDR = fmt.Sprintf("10.%d.0.0/16", 100+i)
			if _, err := c.Create(ctx, pool); err != nil {
				b.Fatal(err)
			}
			m, mode := ipam.New(c), "fresh reads"
			if tc.cached {
				m, mode = ipam.New(c, ipam.WithCache(2*time.Second)), "cached"
			}
			l, err := run(total, tc.workers, func(w, j int) error {
				node := fmt.Sprintf("bench%d-node-%d", i, (w*total/tc.workers+j)%tc.nodes)
				_, _, err := m.AutoAssign(ctx, ipam.AutoAssignArgs{Num4: 1, HandleID: fmt.Sprintf("b%d.w%d-%d", i, w, j), Hostname: node,
					IPv4Pools: []string{pool.Spec.CIDR}})
				return err
			})
			if err != nil {
				b.Fatalf("%s: %v", backend, err)
			}
			fmt.Printf("%-58s %s\n", fmt.Sprintf("%-10s %2d allocators, %d node(s), %s", backend, tc.workers, tc.nodes, mode), l)
			b.ReportMetric(l.rate(), fmt.Sprintf("%s-allocs/s-%dw-%s", backend, tc.workers, mode[:5]))
			s.Close()
		}
	}
}

// BenchmarkAPIServerWatchLoad: the apiserver's load from N node agents,
// each doing what tortie-node does (one ListWatch of /calico/, which in
// KDD is a list and a watch of every resource), at N = 10 and 50: the
// requests their start-up costs, the watches they hold open, and the
// requests per second while the state churns.
func BenchmarkAPIServerWatchLoad(b *testing.B) {
	kas := kasCluster(b)
	fmt.Printf("\nkube-apiserver load from N agents watching (each: datastore.ListWatch of /calico/)\n")
	for _, n := range []int{10, 50} {
		watchLoad(b, kas, n)
	}
}

func watchLoad(b *testing.B, kas *kastest.Cluster, n int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := kasMetrics(b, kas)
	agents := make([]*countingHandler, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range agents {
		s, err := kas.Store("default")
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		agents[i] = &countingHandler{synced: make(chan struct{})}
		wg.Go(func() { datastore.ListWatch(ctx, s, datastore.Root, agents[i]) })
	}
	for _, a := range agents {
		<-a.synced
	}
	synced := time.Since(t0)
	time.Sleep(time.Second) // let the last watches open
	started := kasMetrics(b, kas)

	// Churn: 20 updates of one GlobalNetworkSet, each seen by every agent.
	s, err := kas.Store("default")
	if err != nil {
		b.Fatal(err)
	}
	key := datastore.ResourceKey("globalnetworksets", "", fmt.Sprintf("churn-%d", n))
	const updates = 20
	t1 := time.Now()
	for i := range updates {
		v := fmt.Sprintf(`{"kind":"GlobalNetworkSet","metadata":{"name":"churn-%d"},"spec":{"nets":["192.0.2.%d/32"]}}`, n, i)
		if i == 0 {
			_, err = s.Create(ctx, key, []byte(v))
		} else {
			_, err = s.Update(ctx, key, []byte(v), 0)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, a := range agents {
		a.waitFor(updates)
	}
	churn := time.Since(t1)
	after := kasMetrics(b, kas)
	cancel()
	wg.Wait()
	fmt.Printf("N=%-3d start: %5.0f requests (%.0f per agent) in %v; watches open: %.0f (%.0f per agent); churn: %d writes seen by all in %v, %.0f requests (the writes' own %d included)\n",
		n, started.requests-before.requests, (started.requests-before.requests)/float64(n), synced.Round(time.Millisecond),
		started.watches, started.watches/float64(n), updates, churn.Round(time.Millisecond), after.requests-started.requests, 2*updates)
	b.ReportMetric(started.watches, fmt.Sprintf("watches-N%d", n))
}

// countingHandler counts the events of one agent's ListWatch.
type countingHandler struct {
	mu     sync.Mutex
	events int
	synced chan struct{}
	once   sync.Once
}

func (h *countingHandler) OnSync([]datastore.KV, int64) { h.once.Do(func() { close(h.synced) }) }
func (h *countingHandler) OnEvent(datastore.Event) {
	h.mu.Lock()
	h.events++
	h.mu.Unlock()
}

func (h *countingHandler) waitFor(n int) {
	for {
		h.mu.Lock()
		e := h.events
		h.mu.Unlock()
		if e >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type kasLoad struct{ requests, watches float64 }

// kasMetrics reads the apiserver's request counter (all verbs) and the
// number of watch requests open.
func kasMetrics(b *testing.B, kas *kastest.Cluster) kasLoad {
	req, _ := http.NewRequest(http.MethodGet, kas.Server+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+kastest.AdminToken)
	resp, err := kastest.HTTPClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var l kasLoad
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, _ := strings.Cut(line, "{")
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case name == "apiserver_request_total":
			l.requests += v
		case name == "apiserver_longrunning_requests" && strings.Contains(rest, `verb="WATCH"`):
			l.watches += v
		}
	}
	return l
}

// pct is the p-th percentile of ds.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100].Round(10 * time.Microsecond)
}
