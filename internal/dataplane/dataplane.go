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
	"github.com/tortienet/tortie/internal/dataplane/nat"
	"github.com/tortienet/tortie/internal/dataplane/routes"
	"github.com/tortienet/tortie/internal/dataplane/sysctl"
	"github.com/tortienet/tortie/internal/dataplane/tunnels"
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

	Routes     routes.Kernel
	Tunnels    tunnels.Kernel
	NFT        knftables.Interface
	Sysctl     sysctl.FS
	Interfaces func() (map[string]int, error)
}

// Dataplane applies desired states. Its methods may be called from any
// goroutine; they run one at a time.
type Dataplane struct {
	mu      sync.Mutex
	log     *slog.Logger
	handle  *netlink.Handle // owned, closed by Close (nil when injected)
	sysctl  *sysctl.Reconciler
	tunnels *tunnels.Reconciler
	routes  *routes.Reconciler
	nat     *nat.Reconciler
}

// New builds a Dataplane. With real kernel access it opens a netlink
// handle in the calling thread's network namespace and checks that nft
// works; either failing is an error.
func New(cfg Config) (*Dataplane, error) {
	d := &Dataplane{log: cfg.Log}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Routes == nil || cfg.Tunnels == nil {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("open netlink: %w", err)
		}
		d.handle = h
		if cfg.Routes == nil {
			cfg.Routes = routes.NewNetlink(h)
		}
		if cfg.Tunnels == nil {
			cfg.Tunnels = tunnels.NewNetlink(h)
		}
	}
	if cfg.NFT == nil {
		nft, err := nat.NewNFTables()
		if err != nil {
			d.Close()
			return nil, err
		}
		cfg.NFT = nft
	}
	d.sysctl = sysctl.New(sysctl.Config{FS: cfg.Sysctl, Interfaces: cfg.Interfaces, Log: d.log.With("reconciler", "sysctl")})
	d.tunnels = tunnels.New(tunnels.Config{Kernel: cfg.Tunnels, Log: d.log.With("reconciler", "tunnels"), WorkloadPrefixes: cfg.WorkloadPrefixes})
	d.routes = routes.New(routes.Config{Kernel: cfg.Routes, Log: d.log.With("reconciler", "routes"),
		WorkloadPrefixes: cfg.WorkloadPrefixes, GracePeriod: cfg.RouteGracePeriod})
	d.nat = nat.New(nat.Config{NFT: cfg.NFT, Log: d.log.With("reconciler", "nat")})
	return d, nil
}

// Close releases the netlink handle. The kernel state stays as it is.
func (d *Dataplane) Close() {
	if d.handle != nil {
		d.handle.Close()
		d.handle = nil
	}
}

// DetectIPIP returns nil when this kernel can do IP-in-IP, or an error
// wrapping tunnels.ErrIPIPUnsupported saying why not (the agent passes the
// answer to the calculation as calc.Input.IPIPSupported, and shows the
// error in its log and status). The answer is remembered.
func (d *Dataplane) DetectIPIP(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tunnels.DetectIPIP(ctx)
}

// Resync is Apply after forgetting what is known about the kernel: every
// part is read back and drift is repaired. For the periodic resync.
func (d *Dataplane) Resync(ctx context.Context, want calc.Desired) (Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sysctl.Forget()
	d.nat.Forget()
	return d.apply(ctx, want)
}

// Apply makes the kernel hold want, writing only what differs. Every part
// is attempted even when an earlier one fails; the error joins the
// failures, each naming its part. Stats counts the result for metrics.
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

	sr, err := d.sysctl.Apply(ctx, workloadInterfaces(want))
	st.Changes += sr.Written
	fail("sysctl", err)

	dr, err := d.tunnels.ApplyDevices(ctx, want.IPIP, want.VXLAN)
	st.Devices, st.Changes = dr.Devices, st.Changes+dr.Changes
	fail("tunnel devices", err)

	nr, err := d.tunnels.ApplyNeighbors(ctx, want.Neighbors, want.FDB)
	st.Neighbors, st.FDB, st.Changes = nr.Neighbors, nr.FDB, st.Changes+nr.Changes
	fail("neighbours", err)

	rr, err := d.routes.Apply(ctx, want.Routes)
	st.Routes, st.RoutesSkipped, st.Changes = rr.Programmed, rr.Skipped, st.Changes+rr.Written+rr.Deleted
	for _, c := range rr.Conflicts {
		st.Conflicts = append(st.Conflicts, c.String())
	}
	fail("routes", err)

	ar, err := d.nat.Apply(ctx, want.NAT)
	st.NATPools = ar.MasqPools
	if ar.Rebuilt {
		st.Changes++
	}
	fail("nat", err)

	st.Duration = time.Since(start)
	if st.Changes > 0 || len(errs) > 0 {
		d.log.Info("dataplane applied", "changes", st.Changes, "routes", st.Routes, "skipped", st.RoutesSkipped,
			"devices", st.Devices, "errors", st.Errors, "duration", st.Duration)
	}
	return st, errors.Join(errs...)
}

// workloadInterfaces are the interfaces of the local workloads' routes.
func workloadInterfaces(want calc.Desired) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range want.Routes {
		if r.Workload && r.Dev != "" && !seen[r.Dev] {
			seen[r.Dev] = true
			out = append(out, r.Dev)
		}
	}
	return out
}
