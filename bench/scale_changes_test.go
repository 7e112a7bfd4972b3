package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni/cnitest"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
	"github.com/tortienet/tortie/internal/simcluster"
)

// scaleHTTP reaches the agent's health and metrics ports in its namespace.
type scaleHTTP struct {
	c     *http.Client
	start time.Time // just before exec
}

func newScaleHTTP(ns *cnitest.NetNS) *scaleHTTP { return &scaleHTTP{c: nsHTTP(ns)} }

// calcCount is the agent's tortie_calc_seconds_count (or, from an agent
// older than that metric, tortie_dataplane_apply_seconds_count: one per
// calculation there too).
func (h *scaleHTTP) calcCount() (float64, bool) {
	code, body := httpStatus(h.c, "http://127.0.0.1:9091/metrics")
	if code != http.StatusOK {
		return 0, false
	}
	if v, ok := metricValue(body, "tortie_calc_seconds_count"); ok {
		return v, true
	}
	return metricValue(body, "tortie_dataplane_apply_seconds_count")
}

// scaleChanges writes changes on other nodes of a simulated cluster and
// times the agent's handling of each.
type scaleChanges struct {
	b         *testing.B
	c         *client.Client
	spec      simcluster.Spec
	agent     *scaleAgent
	inKernel  *arrivals
	scrapeCPU time.Duration // the agent's CPU per metrics scrape, measured once
	idle      time.Duration // the idle agent's CPU per second, measured once
	// seq numbers the endpoint changes, so that a second series (as
	// BenchmarkScalePolicy's with policy) writes new values, not the
	// first series' again, which the agent rightly ignores.
	seq int
}

// measure makes k changes one after another, each once the agent is idle,
// and returns their latencies and the agent's CPU per change: what it used
// over the changes, less what the scrapes of the metrics cost it and what
// it uses idle over as long.
func (s *scaleChanges) measure(k int, change func(i int) (took time.Duration, scrapes int)) changeFigures {
	pid := s.agent.cmd.Process.Pid
	idle, scrape := s.idleCost(), time.Duration(0)
	waitIdle(pid, 300*time.Millisecond, 30*time.Second)
	cpu0, t0 := s.cpu(), time.Now()
	lat, scrapes := &latencies{n: k}, 0
	for i := range k {
		d, n := change(i)
		lat.d = append(lat.d, d)
		scrapes += n
		waitIdle(pid, 300*time.Millisecond, 30*time.Second)
	}
	used := s.cpu() - cpu0 - perSecond(idle, time.Since(t0))
	if scrapes > 0 {
		scrape = s.scrapeCost()
	}
	used -= time.Duration(scrapes) * scrape
	return changeFigures{lat: lat, cpu: max(0, used) / time.Duration(k)}
}

func (s *scaleChanges) cpu() time.Duration {
	d, err := procRunTime(s.agent.cmd.Process.Pid)
	if err != nil {
		s.b.Fatal(err)
	}
	return d
}

// perSecond is rate (CPU per second) over d.
func perSecond(rate, d time.Duration) time.Duration {
	return time.Duration(float64(rate) * d.Seconds())
}

// idleCost is the CPU per second of the agent left alone (its runtime,
// its timers, etcd's client): the median of five 600 ms windows once it
// is idle (a collection or the scavenger now and then would make one long
// window's figure a matter of luck).
func (s *scaleChanges) idleCost() time.Duration {
	if s.idle > 0 {
		return s.idle
	}
	waitIdle(s.agent.cmd.Process.Pid, 300*time.Millisecond, 30*time.Second)
	var rates []time.Duration
	for range 5 {
		cpu0, t0 := s.cpu(), time.Now()
		time.Sleep(600 * time.Millisecond)
		rates = append(rates, time.Duration(float64(s.cpu()-cpu0)/time.Since(t0).Seconds()))
	}
	slices.Sort(rates)
	s.idle = max(time.Nanosecond, rates[len(rates)/2])
	return s.idle
}

// scrapeCost is the agent's CPU per metrics scrape, from 300 scrapes of
// the idle agent (less its idle CPU).
func (s *scaleChanges) scrapeCost() time.Duration {
	if s.scrapeCPU > 0 {
		return s.scrapeCPU
	}
	idle := s.idleCost()
	waitIdle(s.agent.cmd.Process.Pid, 300*time.Millisecond, 30*time.Second)
	cpu0, t0 := s.cpu(), time.Now()
	const n = 300
	for range n {
		s.agent.http.calcCount()
		time.Sleep(time.Millisecond)
	}
	used := s.cpu() - cpu0 - perSecond(idle, time.Since(t0))
	s.scrapeCPU = max(time.Nanosecond, used/n)
	return s.scrapeCPU
}

// endpoint changes a label of a remote endpoint and waits, polling the
// agent's metrics, until the agent has calculated after it.
func (s *scaleChanges) endpoint(i int) (time.Duration, int) {
	ctx := context.Background()
	node := i % s.spec.Nodes
	kind, _ := v3.LookupKind("WorkloadEndpoint")
	r, err := s.c.Get(ctx, kind, s.spec.Namespace(), s.spec.Endpoint(node, 0, s.spec.EndpointAddr(node, 0)).Name)
	if err != nil {
		s.b.Fatal(err)
	}
	w := r.(*v3.WorkloadEndpoint)
	s.seq++
	w.Labels["bench-change"] = strconv.Itoa(s.seq)
	before, ok := s.agent.http.calcCount()
	if !ok {
		s.b.Fatal("neither tortie_calc_seconds_count nor tortie_dataplane_apply_seconds_count on the agent's /metrics")
	}
	t0 := time.Now()
	if _, err := s.c.Update(ctx, w); err != nil {
		s.b.Fatal(err)
	}
	// Poll every millisecond at first, then every 2% of the time so far:
	// a slow agent is not slowed further by hundreds of scrapes.
	for scrapes := 1; time.Since(t0) < time.Minute; scrapes++ {
		if n, _ := s.agent.http.calcCount(); n > before {
			return time.Since(t0), scrapes
		}
		time.Sleep(max(time.Millisecond, time.Since(t0)/50))
	}
	log, _ := os.ReadFile(s.agent.log)
	now, ok := s.agent.http.calcCount()
	s.b.Fatalf("the agent did not calculate within a minute of endpoint change %d (count %v before, %v now, read %v); its log:\n%s", i, before, now, ok, tail(log, 4000))
	return 0, 0
}

// block gives a remote node a new block (the block and its confirmed
// affinity, in one transaction) and waits for its route in the kernel.
func (s *scaleChanges) block(i int) (time.Duration, int) {
	node := s.spec.NodeName(i % s.spec.Nodes)
	cidr := s.spec.Block(1<<(s.spec.BlockSize-s.spec.PoolCIDR.Bits()) - 1 - i) // from the pool's end
	blk, _ := json.Marshal(ipam.NewAffineBlock(cidr, node, time.Now()))
	aff, _ := json.Marshal(ipam.Affinity{State: ipam.StateConfirmed})
	seen := s.inKernel.expect(cidr.Addr())
	t0 := time.Now()
	if _, err := s.c.Store().Txn(context.Background(),
		datastore.Op{Type: datastore.OpCreate, Key: ipam.BlockKey(cidr), Value: blk},
		datastore.Op{Type: datastore.OpCreate, Key: ipam.AffinityKey(node, cidr), Value: aff}); err != nil {
		s.b.Fatal(err)
	}
	return s.wait(seen, t0, "route to block "+cidr.String()), 0
}

// borrow starts a pod on a remote node with an address from another
// node's block, as the CNI plugin does when its node's blocks are full
// (the lender's block, the handle and the endpoint in one transaction),
// and waits for the /32 to the pod's node in the kernel.
func (s *scaleChanges) borrow(i int) (time.Duration, int) {
	ctx := context.Background()
	host, lender := i%s.spec.Nodes, (i+1)%s.spec.Nodes
	addr := s.spec.EndpointAddr(lender, s.spec.EndpointsPerNode+i/s.spec.Nodes)
	kv, err := s.c.Store().Get(ctx, ipam.BlockKey(s.spec.Block(lender)))
	if err != nil {
		s.b.Fatal(err)
	}
	var blk ipam.Block
	if err := json.Unmarshal(kv.Value, &blk); err != nil {
		s.b.Fatal(err)
	}
	pod := 1000 + i
	if err := blk.Assign(addr, s.spec.Handle(host, pod), s.spec.PodAttrs(host, pod, time.Now())); err != nil {
		s.b.Fatal(err)
	}
	bv, _ := json.Marshal(&blk)
	hv, _ := json.Marshal(ipam.Handle{Block: map[string]int{s.spec.Block(lender).String(): 1}})
	wep, err := s.c.CreateOps(ctx, s.spec.Endpoint(host, pod, addr))
	if err != nil {
		s.b.Fatal(err)
	}
	ops := append([]datastore.Op{{Type: datastore.OpUpdate, Key: kv.Key, Value: bv, Rev: kv.Revision},
		{Type: datastore.OpCreate, Key: ipam.HandleKey(s.spec.Handle(host, pod)), Value: hv}}, wep...)
	seen := s.inKernel.expect(addr)
	t0 := time.Now()
	if _, err := s.c.Store().Txn(ctx, ops...); err != nil {
		s.b.Fatal(err)
	}
	return s.wait(seen, t0, "route to borrowed "+addr.String()), 0
}

func (s *scaleChanges) wait(seen <-chan time.Time, t0 time.Time, what string) time.Duration {
	select {
	case t := <-seen:
		return t.Sub(t0)
	case <-time.After(time.Minute):
		log, _ := os.ReadFile(s.agent.log)
		s.b.Fatalf("%s not in the kernel within a minute; the agent's log:\n%s", what, tail(log, 4000))
	}
	return 0
}
