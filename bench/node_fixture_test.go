package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/dataplane"
	"github.com/tortienet/tortie/internal/datastore/etcd"
	"github.com/tortienet/tortie/internal/ipam"
	"github.com/tortienet/tortie/internal/node"
)

// The node-agent benchmarks run tortie-node's agent in this process
// against the benchmark etcd, as node "bench" with address 172.31.1.10/24
// on eth0 and one pool, 10.244.0.0/16 in /26 blocks, no encapsulation.
const (
	benchNode     = "bench"
	benchNodeAddr = "172.31.1.10/24"
	benchPoolCIDR = "10.244.0.0/16"
)

// nodeFixture is a datastore holding n WorkloadEndpoints of the bench node
// and the IPAM blocks their addresses came from, plus spare addresses
// (allocated, without endpoints) for endpoints written during a run.
type nodeFixture struct {
	store *etcd.Store
	c     *client.Client
	n     int
	ips   []netip.Addr // n used by endpoints, then the spares
}

// populate fills a fresh datastore. Addresses come from the real IPAM, so
// the blocks are as the CNI plugin would leave them; the endpoints are
// written as the CNI plugin writes them (with MAC, profile and labels).
func populate(b *testing.B, n, spare int) *nodeFixture {
	b.Helper()
	ctx := context.Background()
	s := freshStore(b)
	c := client.New(s)
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "bench-pool"}}
	pool.Spec.CIDR, pool.Spec.BlockSize, pool.Spec.NodeSelector = benchPoolCIDR, 26, "all()"
	pool.Spec.IPIPMode, pool.Spec.VXLANMode, pool.Spec.NATOutgoing = v3.EncapNever, v3.EncapNever, true
	if _, err := c.Create(ctx, pool); err != nil {
		b.Fatal(err)
	}
	v4, _, err := ipam.New(c).AutoAssign(ctx, ipam.AutoAssignArgs{Num4: n + spare, HandleID: "bench.fixture", Hostname: benchNode,
		MaxBlocksPerHost: (n+spare)/64 + 2})
	if err != nil {
		b.Fatalf("allocate %d addresses: %v", n+spare, err)
	}
	f := &nodeFixture{store: s, c: c, n: n}
	for _, p := range v4 {
		f.ips = append(f.ips, p.Addr())
	}
	slices.SortFunc(f.ips, netip.Addr.Compare)
	workers := 1 // run's workers must divide n
	for _, w := range []int{16, 10, 8, 5, 4, 2} {
		if n%w == 0 {
			workers = w
			break
		}
	}
	if _, err := run(n, workers, func(w, i int) error {
		_, err := c.Create(ctx, f.endpoint(w*(n/workers)+i))
		return err
	}); err != nil {
		b.Fatalf("write %d endpoints: %v", n, err)
	}
	return f
}

// endpoint is the i-th WorkloadEndpoint of the bench node.
func (f *nodeFixture) endpoint(i int) *v3.WorkloadEndpoint {
	pod := fmt.Sprintf("pod%d", i)
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{
		Name:      benchNode + "-k8s-" + pod + "-eth0",
		Namespace: "default",
		Labels:    map[string]string{"projectcalico.org/namespace": "default", "projectcalico.org/orchestrator": "k8s", "app": "bench"},
	}}
	w.Spec = v3.WorkloadEndpointSpec{Orchestrator: "k8s", Node: benchNode, ContainerID: fmt.Sprintf("%064x", i), Pod: pod,
		Endpoint: "eth0", IPNetworks: []string{netip.PrefixFrom(f.ips[i], 32).String()}, Profiles: []string{"kns.default"},
		InterfaceName: benchIfName(i), MAC: benchMAC(i).String()}
	return w
}

// benchIfName is a Calico-shaped host interface name: "cali" + 11 characters.
func benchIfName(i int) string { return fmt.Sprintf("cali%011d", i) }

func benchMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0xbe, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

// agentConfig is the bench node's configuration, read the way tortie-node
// reads it; health and metrics servers are off and the periodic resync is
// out of the way.
func agentConfig(b *testing.B) node.Config {
	b.Helper()
	env := map[string]string{"NODENAME": benchNode, "ETCD_ENDPOINTS": strings.Join(etcdEndpoints, ","),
		"TORTIE_STATE_DIR": b.TempDir(), "FELIX_HEALTHPORT": "0", "FELIX_PROMETHEUSMETRICSPORT": "0",
		"CALICO_IPV4POOL_CIDR": benchPoolCIDR, "FELIX_ROUTEREFRESHINTERVAL": "1h"}
	cfg, err := node.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// arrivals hands out the first time each awaited address was seen.
type arrivals struct {
	mu   sync.Mutex
	want map[netip.Addr]chan time.Time
}

func (a *arrivals) expect(x netip.Addr) <-chan time.Time {
	ch := make(chan time.Time, 1)
	a.mu.Lock()
	if a.want == nil {
		a.want = map[netip.Addr]chan time.Time{}
	}
	a.want[x] = ch
	a.mu.Unlock()
	return ch
}

func (a *arrivals) waiting() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.want) > 0
}

func (a *arrivals) seen(x netip.Addr, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch, ok := a.want[x]; ok {
		ch <- t
		delete(a.want, x)
	}
}

// probe sits between the agent and its dataplane: it notes when each
// desired state arrives and when the first Apply succeeds. With inner nil
// it is the fake dataplane (it applies nothing), so what is measured is
// the agent alone.
type probe struct {
	inner   node.Dataplane
	desired arrivals // workload /32s, seen when a Desired holding them arrives

	mu        sync.Mutex
	synced    chan struct{} // closed by the first successful Apply
	firstCall time.Time
	firstDone time.Time
	first     dataplane.Stats
	applies   int
	lastErr   error
}

func newProbe(inner node.Dataplane) *probe { return &probe{inner: inner, synced: make(chan struct{})} }

func (p *probe) Apply(ctx context.Context, d calc.Desired) (dataplane.Stats, error) {
	return p.do(ctx, d, false)
}

func (p *probe) Resync(ctx context.Context, d calc.Desired) (dataplane.Stats, error) {
	return p.do(ctx, d, true)
}

func (p *probe) do(ctx context.Context, d calc.Desired, full bool) (dataplane.Stats, error) {
	t0 := time.Now()
	if p.desired.waiting() {
		for _, r := range d.Routes {
			if r.Workload && r.Dst.Bits() == 32 {
				p.desired.seen(r.Dst.Addr(), t0)
			}
		}
	}
	st, err := dataplane.Stats{Routes: len(d.Routes)}, error(nil)
	switch {
	case p.inner != nil && full:
		st, err = p.inner.Resync(ctx, d)
	case p.inner != nil:
		st, err = p.inner.Apply(ctx, d)
	}
	t1 := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applies++
	if err != nil {
		p.lastErr = err
		return st, err
	}
	if p.firstDone.IsZero() {
		p.firstCall, p.firstDone, p.first = t0, t1, st
		close(p.synced)
	}
	return st, nil
}

// benchNS is a network namespace made for one benchmark ("tbn-..."),
// standing for the bench node: its eth0 holds the node's address, and
// each workload interface is the host end of a veth pair whose other end
// is in a second namespace made alongside ("tbn-...-pods"), as a pod's
// eth0 would be. (This kernel has no dummy link type.)
type benchNS struct {
	name string
	h    *netlink.Handle
	nsh  netns.NsHandle
	pods netns.NsHandle
	ph   *netlink.Handle
	next int
}

// newBenchNS creates both namespaces and removes them when b ends.
func newBenchNS(b *testing.B, what string) *benchNS {
	b.Helper()
	rnd := make([]byte, 3)
	_, _ = rand.Read(rnd)
	n := &benchNS{name: "tbn-" + what + "-" + hex.EncodeToString(rnd)}
	var err error
	for _, ns := range []struct {
		name string
		nsh  *netns.NsHandle
		h    **netlink.Handle
	}{{n.name, &n.nsh, &n.h}, {n.name + "-pods", &n.pods, &n.ph}} {
		if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
			b.Fatalf("ip netns add %s: %v: %s", ns.name, err, out)
		}
		b.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
				b.Errorf("ip netns del %s: %v: %s", ns.name, err, out)
			}
		})
		if *ns.nsh, err = netns.GetFromName(ns.name); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ns.nsh.Close() })
		if *ns.h, err = netlink.NewHandleAt(*ns.nsh); err != nil {
			b.Fatal(err)
		}
		b.Cleanup((*ns.h).Close)
		lo, err := (*ns.h).LinkByName("lo")
		if err == nil {
			err = (*ns.h).LinkSetUp(lo)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := n.addVeth("eth0"); err != nil {
		b.Fatal(err)
	}
	eth0, err := n.h.LinkByName("eth0")
	if err != nil {
		b.Fatal(err)
	}
	addr, _ := netlink.ParseAddr(benchNodeAddr)
	if err := n.h.AddrAdd(eth0, addr); err != nil {
		b.Fatal(err)
	}
	return n
}

// addVeth makes a veth pair, name in the node namespace and its peer in
// the pods namespace, both up.
func (n *benchNS) addVeth(name string) error {
	n.next++
	peer := fmt.Sprintf("p%d", n.next)
	l := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: 1500}, PeerName: peer, PeerNamespace: netlink.NsFd(n.pods)}
	if err := n.h.LinkAdd(l); err != nil {
		return fmt.Errorf("add veth %s: %w", name, err)
	}
	if err := n.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	p, err := n.ph.LinkByName(peer)
	if err == nil {
		err = n.ph.LinkSetUp(p)
	}
	if err != nil {
		return fmt.Errorf("set %s up: %w", peer, err)
	}
	return nil
}

// addWorkloadLink makes the host end of a pod's veth, up, with the
// endpoint's interface name.
func (n *benchNS) addWorkloadLink(name string) error { return n.addVeth(name) }

// agentRun is one agent running in this process.
type agentRun struct {
	probe  *probe
	start  time.Time // just before the kernel access is built (real) or Run (fake)
	kernel time.Time // the real kernel access is ready (zero for the fake)
	cancel context.CancelFunc
	done   chan error
}

// startAgent starts the bench node's agent: with ns nil on the fake
// dataplane, else on the real one inside ns. For the real one the agent's
// goroutine is locked to an OS thread that enters the namespace and never
// leaves it: the netlink handle, the sysctl files and the nft processes
// all belong to the thread that made them. The thread is discarded when
// the goroutine ends.
func startAgent(b *testing.B, cfg node.Config, ns *benchNS) *agentRun {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &agentRun{cancel: cancel, done: make(chan error, 1)}
	log := slog.New(slog.DiscardHandler)
	if ns == nil {
		r.probe = newProbe(nil)
		k := node.Kernel{
			Detect: func(string, string) (node.Address, error) {
				return node.Address{Prefix: netip.MustParsePrefix(benchNodeAddr), Interface: "eth0", Reasoning: "bench"}, nil
			},
			Dataplane:     r.probe,
			IPIPSupported: func() bool { return false },
			HostMTU:       func(string) int { return 1500 },
		}
		r.start = time.Now()
		go func() { r.done <- node.New(cfg, k, log).Run(ctx) }()
		return r
	}
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := netns.Set(ns.nsh); err != nil {
			close(started)
			r.done <- fmt.Errorf("enter %s: %w", ns.name, err)
			return
		}
		r.start = time.Now()
		k, closeK, err := node.LinuxKernel(ctx, log)
		if err != nil {
			close(started)
			r.done <- err
			return
		}
		defer closeK()
		r.kernel = time.Now()
		r.probe = newProbe(k.Dataplane)
		k.Dataplane = r.probe
		close(started)
		r.done <- node.New(cfg, k, log).Run(ctx)
	}()
	<-started
	if r.probe == nil {
		b.Fatal(<-r.done)
	}
	return r
}

// waitSynced waits for the first successful Apply and returns the time
// from start to it.
func (r *agentRun) waitSynced(b *testing.B) time.Duration {
	b.Helper()
	select {
	case <-r.probe.synced:
		return r.probe.firstDone.Sub(r.start)
	case err := <-r.done:
		b.Fatalf("agent ended before it was in sync: %v", err)
	case <-time.After(60 * time.Second):
		r.probe.mu.Lock()
		err := r.probe.lastErr
		r.probe.mu.Unlock()
		b.Fatalf("agent not in sync after 60s (last dataplane error: %v)", err)
	}
	return 0
}

// stop ends the agent and waits for it.
func (r *agentRun) stop(b *testing.B) {
	b.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		b.Errorf("agent: %v", err)
	}
}

func requireRootFor(what string) string {
	if os.Geteuid() != 0 {
		return "skipped " + what + ": needs root to create network namespaces (CI runs as root)"
	}
	return ""
}

// msOf is d in milliseconds, for ReportMetric and the tables.
func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
