package node

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/dataplane"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// Dataplane applies desired state to the kernel (internal/dataplane).
// Apply may trust its memory of what it wrote last; Resync re-reads
// everything and repairs drift.
type Dataplane interface {
	Apply(ctx context.Context, d calc.Desired) (dataplane.Stats, error)
	Resync(ctx context.Context, d calc.Desired) (dataplane.Stats, error)
}

// Kernel is what the agent asks of the machine it runs on.
type Kernel struct {
	Detect        Detector
	Detect6       Detector // the IPv6 address (IP6); nil: IP6 is ignored
	Dataplane     Dataplane
	IPIPSupported func() bool
	HostMTU       func(parent string) int
	// StartSpeaker starts the BGP speaker (nil: the node speaks no BGP).
	StartSpeaker StartSpeaker
}

// Agent is one tortie-node.
type Agent struct {
	cfg    Config
	k      Kernel
	log    *slog.Logger
	c      *client.Client
	ipam   *ipam.IPAM
	view   *view
	addr   Address
	health *health
	m      *metrics
	bgp    *speakerRunner // nil without a speaker

	mu        sync.Mutex
	learnBase *learnBase // what the last full sync computed, for syncLearned
	lastMTU   int
	problems  []string
	// lastPolicy is the policy program last enforced (see withPolicy);
	// policyBuilder compiles only the policies that changed.
	lastPolicy     *policy.Program
	policyProblems []string // the problems of the last policy build
	// policyRemote says that the policy enforced reads other nodes'
	// endpoints (selector and named-port sets): their changes rebuild it.
	policyRemote  bool
	policyBuilder *policy.Builder
	bgpLast       *bgpState // the last BGP calculation (see syncBGP)
	// sync is what the next sync applies (see syncState.mode), hostMTU
	// the last read of the host MTU (see env).
	sync      syncState
	hostMTU   hostMTURead
	lastSync  time.Time       // when the last sync ended (see coalesce)
	onApplied func(rev int64) // test and benchmark hook
	released  sync.Once       // see releaseMemory
}

// New prepares an agent; Run starts it.
func New(cfg Config, k Kernel, log *slog.Logger) *Agent {
	a := &Agent{cfg: cfg, k: k, log: log, health: newHealth(), m: newMetrics(cfg.GoMetrics, cfg.ProcessMetrics)}
	a.view = newView(calc.Env{Node: cfg.NodeName, Backend: cfg.Backend, UsePodCIDR: cfg.UsePodCIDR})
	a.view.observeCalc = a.m.observeCalc
	if k.StartSpeaker != nil && cfg.Backend == "bird" {
		a.bgp = &speakerRunner{start: k.StartSpeaker, secretsDir: cfg.BGPSecretsDir, log: log}
	}
	return a
}

// Run performs startup, then keeps the dataplane in step with the
// datastore until ctx ends. The kernel is touched only once the view of
// the datastore is complete; while the datastore is unreachable the
// dataplane stays as it is.
func (a *Agent) Run(ctx context.Context) error {
	startMemory()
	stopHTTP, err := a.serveHTTP(ctx)
	if err != nil {
		return err
	}
	defer stopHTTP()
	c, err := waitForDatastore(ctx, a.cfg.Datastore, a.log)
	if err != nil {
		return err
	}
	defer c.Close()
	a.c = c
	a.ipam = ipam.New(c, ipam.WithLogger(a.log), ipam.WithCache(2*time.Second))
	if a.addr, err = startup(ctx, a.cfg, c, a.ipam, a.k.Detect, a.k.Detect6, a.log); err != nil {
		return fmt.Errorf("startup: %w", err)
	}
	a.log.Info("startup complete", "node", a.cfg.NodeName, "address", a.addr.Prefix, "interface", a.addr.Interface)
	if stopStore, err := a.serveStore(c.Store()); err != nil {
		// Not fatal: the plugin then connects to etcd itself.
		a.log.Warn("the CNI plugin will connect to the datastore itself", "error", err)
	} else {
		defer stopStore()
	}
	a.health.setLive(true)
	if a.bgp != nil {
		defer a.bgp.close()
		if stopStatus, err := a.serveStatus(); err != nil {
			// Not fatal (a path too long for a unix socket): only node
			// status goes without.
			a.log.Warn("tortiectl node status will not reach this agent", "error", err)
		} else {
			defer stopStatus()
		}
	}

	go datastore.ListWatch(ctx, c.Store(), datastore.Root, a.view, datastore.WithLogger(a.log),
		datastore.WithOnInterrupt(a.view.interrupt))
	releaser := &ipam.EmptyBlockReleaser{IPAM: a.ipam, Host: a.cfg.NodeName, Grace: a.cfg.EmptyBlockGrace}
	resync := time.NewTicker(a.cfg.ResyncInterval)
	defer resync.Stop()
	housekeeping := time.NewTicker(time.Minute)
	defer housekeeping.Stop()
	for {
		full, learnedOnly := false, false
		select {
		case <-ctx.Done():
			return nil
		case <-a.view.changed:
			if !a.coalesce(ctx) {
				return nil
			}
		case <-a.bgpChanged():
			learnedOnly = true
		case <-resync.C:
			full = true
		case <-housekeeping.C:
			if _, err := releaser.Sync(ctx); err != nil {
				a.log.Warn("giving back empty blocks", "error", err)
			}
			continue
		}
		a.health.beat()
		sync := a.syncOnce
		if learnedOnly {
			sync = func(ctx context.Context, _ bool) error { return a.syncLearned(ctx) }
		}
		if err := sync(ctx, full); err != nil && ctx.Err() == nil {
			a.log.Error("dataplane sync", "error", err)
		}
		a.lastSync = time.Now()
	}
}

// coalesce makes changes that follow a sync closely wait for the rest of
// their burst: a change more than cfg.Coalesce after the last sync is
// synced at once, one sooner waits until cfg.Coalesce has passed (while
// the view gathers what else comes). It is false when ctx ended.
func (a *Agent) coalesce(ctx context.Context) bool {
	wait := a.cfg.Coalesce - time.Since(a.lastSync)
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// hostMTUAge is how long the host interface's MTU read for a sync is
// used for the following ones (a resync always reads it): the read is a
// netlink request, half of what a sync of one remote change costs.
const hostMTUAge = 10 * time.Second

type hostMTURead struct {
	mtu  int
	read time.Time
}

// env is what the calculation is told of this node beside the datastore;
// fresh re-reads the host MTU.
func (a *Agent) env(fresh bool) calc.Env {
	env := calc.Env{Node: a.cfg.NodeName, Backend: a.cfg.Backend, UsePodCIDR: a.cfg.UsePodCIDR,
		RouteUnencapsulated: a.cfg.RouteUnencapsulated && a.cfg.Backend != "none",
		ParentDevice:        a.addr.Interface,
		IPIPSupported:       a.k.IPIPSupported != nil && a.k.IPIPSupported()}
	if a.k.HostMTU != nil {
		if fresh || a.hostMTU.read.IsZero() || time.Since(a.hostMTU.read) > hostMTUAge {
			a.hostMTU.mtu, a.hostMTU.read = a.k.HostMTU(a.addr.Interface), time.Now()
		}
		env.HostMTU = a.hostMTU.mtu
	}
	return env
}

// syncOnce applies the desired state the view's Engine holds, as the
// syncState chooses (nothing, the Engine's delta, or all of it; full
// re-reads the kernel state to repair drift); policy and BGP are
// recomputed only when something they read changed.
func (a *Agent) syncOnce(ctx context.Context, full bool) error {
	env := a.env(full)
	t, synced := a.view.take(env)
	if !synced {
		return nil
	}
	a.sync.pend.add(t)
	if err := a.view.interrupted(); err != nil {
		// Keep the dataplane as it is; say so until the view is whole again.
		a.health.setReady(false, nil, fmt.Errorf("datastore unreachable, dataplane kept as it was: %w", err))
		a.m.inSync.Set(0)
		return nil
	}
	p := a.sync.pend
	rebuild := p.policy || full || a.lastPolicy == nil || p.remote && a.policyRemote
	mode := a.sync.mode(full, rebuild, a.bgp != nil)
	tunnel := p.tunnel || full || !a.sync.clean
	if mode == applyNothing && !tunnel {
		return nil // nothing this node programs changed
	}
	ins, ok := a.view.inputs(tunnel, a.needBGP(p.bgp || full), rebuild)
	if !ok {
		return nil // a full list is coming in: the sync after it applies
	}
	d := t.desired // without its lists: a delta does not read them (but BGP's does)
	if (mode != applyDelta || a.bgp != nil) && !a.view.fillLists(&d, t) {
		return nil // as above
	}
	a.sync.pend = pending{}
	tunnelOK := true
	if ins.tunnel != nil {
		if err := a.ensureTunnelAddresses(ctx, *ins.tunnel); err != nil {
			tunnelOK = false
			a.m.errors.WithLabelValues("tunnel-address").Inc()
			a.log.Warn("tunnel addresses", "error", err)
		}
	}
	defer func() { a.sync.clean = a.sync.clean && tunnelOK }()
	if mode == applyNothing {
		return nil
	}
	start := time.Now()
	// The MTU file first: pods made from now on read it, and the policy
	// and BGP steps below take longer on a first sync (the speaker starts).
	if err := a.writeMTU(d.PodMTU); err != nil {
		return err
	}
	a.withPolicy(&d, t.felix, ins.policy)
	var delta *calc.Delta
	if mode == applyDelta {
		delta = &p.delta
	}
	// With a speaker, delta becomes the change of the routes installed
	// (learned ones included), which needs the lists (filled above).
	waiting, delta := a.syncBGP(ctx, &d, delta, t.rev, env, ins.bgp, ins.bgpIn)
	if mode == applyDelta {
		if delta != nil {
			if took, err := a.tryDelta(ctx, d, *delta, waiting, start, t.rev); took {
				return err
			}
		}
		if a.bgp == nil && !a.view.fillLists(&d, t) {
			a.sync.clean = false // the next take is the full list's
			return nil
		}
	}
	return a.applyDesired(ctx, d, nil, waiting, mode == applyResync, start, t.rev)
}

func (a *Agent) reportProblems(ps []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if fmt.Sprint(ps) == fmt.Sprint(a.problems) {
		return
	}
	for _, p := range ps {
		a.log.Error("dataplane problem", "problem", p)
	}
	a.problems = ps
}

// writeMTU keeps the MTU file the CNI plugin reads in step.
func (a *Agent) writeMTU(mtu int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if mtu == a.lastMTU {
		return nil
	}
	if err := writeFile(filepath.Join(a.cfg.StateDir, conventions.MTUFile), strconv.Itoa(mtu)); err != nil {
		return fmt.Errorf("write the MTU file: %w", err)
	}
	a.lastMTU = mtu
	return nil
}

func (v *view) revision() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rev
}
