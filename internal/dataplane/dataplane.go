package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/dataplane/linklayer"
	"github.com/tortienet/tortie/internal/dataplane/links"
	"github.com/tortienet/tortie/internal/dataplane/nft"
	"github.com/tortienet/tortie/internal/dataplane/routes"
	"github.com/tortienet/tortie/internal/dataplane/sysctl"
	"github.com/tortienet/tortie/internal/nlsafe"
)

// Config configures a Dataplane. Every kernel access point may be
// replaced (tests use the packages' fakes); nil means the real kernel.
type Config struct {
	// Log is the logger (nil: discard).
	Log *slog.Logger
	// WorkloadPrefixes name the workload interfaces (default: "cali").
	WorkloadPrefixes []string
	// RouteGracePeriod: see routes.Config.GracePeriod.
	RouteGracePeriod time.Duration

	Links     links.Kernel
	Routes    routes.Kernel
	LinkLayer linklayer.Kernel
	NFT       knftables.Interface
	// NFT6 accesses the IPv6 guard's table (nil: the real kernel when NFT
	// is nil too, else a fake).
	NFT6   knftables.Interface
	Sysctl sysctl.FS
}

// Dataplane applies desired states. Its methods may be called from any
// goroutine; they run one at a time.
type Dataplane struct {
	mu        sync.Mutex
	log       *slog.Logger
	handle    *netlink.Handle // owned, closed by Close (nil when injected)
	writer    *nlsafe.Writer  // the same
	links     *links.Table    // shared by linklayer, routes and sysctl
	sysctl    *sysctl.Reconciler
	ipv6      bool // an IPv6 route was wanted: IPv6 forwarding is on
	linklayer *linklayer.Reconciler
	routes    *routes.Reconciler
	nft       *nft.Owner
	guard6    *nft.Guard6
	// started is set by the first Apply or Resync: the first Apply defers
	// the sysctl checks of the interfaces already there (see apply).
	started bool
	// workloads is reused by apply.
	workloads []string
	// last is the outcome of the last apply, and lastPolicy the program it
	// enforced (see ApplyDelta); lastOK says it wrote all it was asked.
	last       Stats
	lastPolicy *policy.Program
	lastOK     bool
}

// New builds a Dataplane. With real kernel access it opens a netlink
// handle and an nlsafe.Writer (the batched writes of routes and entries)
// in the calling thread's network namespace and checks that nft works;
// either failing is an error.
func New(cfg Config) (*Dataplane, error) {
	d := &Dataplane{log: cfg.Log}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Links == nil || cfg.Routes == nil || cfg.LinkLayer == nil {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("open netlink: %w", err)
		}
		d.handle = h
		w, err := nlsafe.OpenWriter()
		if err != nil {
			d.Close()
			return nil, err
		}
		d.writer = w
		if cfg.Links == nil {
			cfg.Links = links.NewNetlink(h)
		}
		if cfg.Routes == nil {
			cfg.Routes = routes.NewNetlink(h, w)
		}
		if cfg.LinkLayer == nil {
			cfg.LinkLayer = linklayer.NewNetlink(h, w)
		}
	}
	direct := cfg.NFT == nil // the real kernel: element changes may skip nft
	if cfg.NFT == nil {
		t, err := nft.NewNFTables()
		if err != nil {
			d.Close()
			return nil, err
		}
		cfg.NFT = t
		if cfg.NFT6 == nil {
			if cfg.NFT6, err = nft.NewNFTables6(); err != nil {
				d.Close()
				return nil, err
			}
		}
	}
	if cfg.NFT6 == nil {
		cfg.NFT6 = knftables.NewFake(nft.Family6, nft.Table)
	}
	d.links = links.NewTable(cfg.Links)
	index := func(name string) (int, bool) {
		l, ok := d.links.Get(name)
		return l.Index, ok
	}
	d.sysctl = sysctl.New(sysctl.Config{FS: cfg.Sysctl, Index: index, Log: d.log.With("reconciler", "sysctl")})
	d.linklayer = linklayer.New(linklayer.Config{Kernel: cfg.LinkLayer, Links: d.links, Log: d.log.With("reconciler", "linklayer"),
		WorkloadPrefixes: cfg.WorkloadPrefixes})
	d.routes = routes.New(routes.Config{Kernel: cfg.Routes, Links: d.links, Log: d.log.With("reconciler", "routes"),
		WorkloadPrefixes: cfg.WorkloadPrefixes, GracePeriod: cfg.RouteGracePeriod})
	d.nft = nft.New(nft.Config{NFT: cfg.NFT, Direct: direct, Log: d.log.With("reconciler", "nft")})
	d.guard6 = nft.NewGuard6(cfg.NFT6, d.log.With("reconciler", "nft6"))
	return d, nil
}

// Close releases the netlink sockets. The kernel state stays as it is.
func (d *Dataplane) Close() {
	if d.handle != nil {
		d.handle.Close()
		d.handle = nil
	}
	if d.writer != nil {
		d.writer.Close()
		d.writer = nil
	}
}

// DetectIPIP returns nil when this kernel can do IP-in-IP, or an error
// wrapping linklayer.ErrIPIPUnsupported saying why not (the agent passes the
// answer to the calculation as calc.Input.IPIPSupported, and shows the
// error in its log and status). The answer is remembered.
func (d *Dataplane) DetectIPIP(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.linklayer.DetectIPIP(ctx)
}

// Resync is Apply after forgetting what is known about the kernel: every
// part is read back (the interfaces with one dump) and drift is repaired,
// every workload interface's sysctls included. For the periodic resync.
func (d *Dataplane) Resync(ctx context.Context, want calc.Desired) (Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sysctl.Forget()
	d.linklayer.Forget()
	d.routes.Forget()
	d.nft.Forget()
	d.guard6.Forget()
	d.started = true // nothing deferred: check everything now
	return d.apply(ctx, want)
}

// Apply makes the kernel hold want, writing only what differs. Every part
// is attempted even when an earlier one fails; the error joins the
// failures, each naming its part. Stats counts the result for metrics.
//
// Apply compares want with what the dataplane remembers of the kernel (what
// it last read, plus its own writes since), so it reads only what is new:
// the interfaces of new routes and entries, one lookup each. A part reads
// everything back (the interfaces with at most one dump, shared by the
// parts) on the first Apply, after Resync, after one of its writes failed,
// and, for neighbours and routes, after a tunnel device changed. Drift
// made by others between full reads is repaired by the next Resync. An
// Apply with the same want as the last makes no kernel call, unless
// something is waiting (a workload interface yet to appear, an adopted
// route's grace period, deferred sysctl checks).
func (d *Dataplane) Apply(ctx context.Context, want calc.Desired) (Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.apply(ctx, want)
}

func (d *Dataplane) apply(ctx context.Context, want calc.Desired) (Stats, error) {
	start := time.Now()
	var st Stats
	var errs []error
	fail := func(part string, err error) {
		if err != nil {
			st.Errors++
			errs = append(errs, fmt.Errorf("%s: %w", part, err))
		}
	}
	d.links.Begin()

	dr, err := d.linklayer.ApplyDevices(ctx, want.IPIP, want.VXLAN)
	st.Devices, st.Changes = dr.Devices, st.Changes+dr.Changes
	fail("tunnel devices", err)
	if dr.Changes > 0 {
		// A recreated or deleted device took its routes with it (the
		// linklayer reconciler forgets its entries itself).
		d.routes.Forget()
	}

	nr, err := d.linklayer.ApplyNeighbors(ctx, want.Neighbors, want.FDB)
	st.Neighbors, st.FDB, st.Changes = nr.Neighbors, nr.FDB, st.Changes+nr.Changes
	fail("neighbours", err)

	rr, err := d.routes.Apply(ctx, want.Routes)
	st.Routes, st.RoutesSkipped, st.Changes = rr.Programmed, rr.Skipped, st.Changes+rr.Written+rr.Deleted
	for _, c := range rr.Conflicts {
		st.Conflicts = append(st.Conflicts, c.String())
	}
	fail("routes", err)

	ar, err := d.nft.Apply(ctx, nft.Wanted{NAT: want.NAT, Policy: want.Policy})
	st.NATPools = ar.MasqPools
	if ar.Rebuilt {
		st.Changes++
	}
	fail("nat", err)

	changed, err := d.guard6.Apply(ctx, want.Policy)
	if changed {
		st.Changes++
	}
	fail("ipv6 guard", err)

	// Sysctls come last, so that the routes are in before thousands of
	// /proc/sys files are read. The first Apply does not read the
	// per-interface ones at all: the interfaces already there when the
	// agent starts were set up by the CNI plugin (which writes all of
	// them) and checked by the agent before this one, so checking them is
	// deferred to the following Applies, a batch each, after the new
	// interfaces (and Resync checks everything). This keeps a restart on a
	// full node from waiting ~5,000 file reads before it is in sync.
	// ip_forward is checked at once.
	if !d.ipv6 && hasIPv6(want.Routes) {
		d.ipv6 = true
		d.sysctl.SetIPv6()
	}
	if d.ipv6 {
		d.sysctl.SetIPv6Interfaces(ipv6Workloads(want.Routes))
	}
	d.workloads = workloadInterfaces(d.workloads, want)
	workloads := d.workloads
	if !d.started {
		d.sysctl.Defer(workloads)
	}
	d.started = true
	sr, err := d.sysctl.Apply(ctx, workloads)
	st.Changes += sr.Written
	st.SysctlDeferred = sr.Deferred
	fail("sysctl", err)

	st.Duration = time.Since(start)
	d.last, d.lastPolicy = st, want.Policy
	d.lastOK = len(errs) == 0 && st.RoutesSkipped == 0 && st.SysctlDeferred == 0 && len(st.Conflicts) == 0
	if st.Changes > 0 || len(errs) > 0 {
		d.log.Info("dataplane applied", "changes", st.Changes, "routes", st.Routes, "skipped", st.RoutesSkipped,
			"devices", st.Devices, "errors", st.Errors, "duration", st.Duration)
	}
	return st, errors.Join(errs...)
}

// workloadInterfaces lists the interfaces of the local workloads' routes
// (a name may repeat) into buf.
func hasIPv6(rs []calc.Route) bool {
	for _, r := range rs {
		if r.Dst.Addr().Is6() {
			return true
		}
	}
	return false
}

// ipv6Workloads are the interfaces of the IPv6 workload routes.
func ipv6Workloads(rs []calc.Route) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		if r.Workload && r.Dev != "" && r.Dst.Addr().Is6() {
			out[r.Dev] = true
		}
	}
	return out
}

func workloadInterfaces(buf []string, want calc.Desired) []string {
	buf = buf[:0]
	for _, r := range want.Routes {
		if r.Workload && r.Dev != "" {
			buf = append(buf, r.Dev)
		}
	}
	return buf
}
