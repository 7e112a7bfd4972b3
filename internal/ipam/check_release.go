package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReleaseReportOptions make releasing from reports safe by default.
type ReleaseReportOptions struct {
	// Force releases even what the safety checks hold back.
	Force bool
	// RuntimeKnows tells whether the container runtime still knows the
	// container of a handle (nil: nothing is known); see CNICacheKnows.
	RuntimeKnows func(handle string) bool
}

// ErrUnsafeRelease is returned (wrapped, with the reason) when a release
// from reports is held back; Force overrides it.
var ErrUnsafeRelease = errors.New("refusing to release (use --force to release anyway)")

// ReleaseReport frees the addresses that every report lists as leaked and
// that are still leaked now, each only if it is still the same allocation
// (same handle and sequence number). It refuses reports of another
// cluster, and, unless forced, a release that looks like it would free
// live addresses: on nodes that have no WorkloadEndpoint at all, of
// containers the runtime still knows, or more than half of a pool's
// allocations. It returns the addresses released.
func (m *IPAM) ReleaseReport(ctx context.Context, opts ReleaseReportOptions, reports ...*Report) ([]string, error) {
	if len(reports) == 0 {
		return nil, errors.New("no report given")
	}
	now, err := m.Check(ctx)
	if err != nil {
		return nil, err
	}
	plan, err := planRelease(now, reports, opts)
	if err != nil || len(plan) == 0 {
		return nil, err
	}
	rel := make([]ReleaseOptions, 0, len(plan))
	names := make([]string, 0, len(plan))
	for _, l := range plan {
		a, err := netip.ParseAddr(l.IP)
		if err != nil {
			return nil, fmt.Errorf("report lists %q: %w", l.IP, err)
		}
		rel = append(rel, ReleaseOptions{Address: a, Handle: l.Handle, SequenceNumber: l.SequenceNumber})
		names = append(names, l.IP)
	}
	if _, err := m.ReleaseIPs(ctx, rel...); err != nil {
		return nil, err
	}
	return names, nil
}

// planRelease decides what to release: the leaks of every report that
// are the same leaks now, after the safety checks.
func planRelease(now *Report, reports []*Report, opts ReleaseReportOptions) ([]LeakedIP, error) {
	for i, r := range reports {
		if r.ClusterGUID != now.ClusterGUID {
			return nil, fmt.Errorf("report %d is of cluster %q, this datastore is cluster %q", i+1, r.ClusterGUID, now.ClusterGUID)
		}
	}
	still := map[LeakedIP]bool{}
	for _, l := range now.Leaked {
		still[l] = true
	}
	var plan []LeakedIP
	for _, l := range reports[0].Leaked {
		inAll := still[l]
		for _, r := range reports[1:] {
			inAll = inAll && containsLeak(r.Leaked, l)
		}
		if inAll {
			plan = append(plan, l)
		}
	}
	if opts.Force || len(plan) == 0 {
		return plan, nil
	}
	if err := releaseSafety(now, plan, opts.RuntimeKnows); err != nil {
		return nil, err
	}
	return plan, nil
}

// releaseSafety says why releasing plan looks unsafe, or nil.
func releaseSafety(now *Report, plan []LeakedIP, runtimeKnows func(string) bool) error {
	bare := map[string]bool{}
	for _, n := range now.NodesWithoutEndpoints {
		bare[n] = true
	}
	var onBare, known []string
	perPool := map[string]int{}
	for _, l := range plan {
		if bare[l.Node] {
			onBare = append(onBare, l.IP)
		}
		if runtimeKnows != nil && runtimeKnows(l.Handle) {
			known = append(known, l.IP+" ("+l.Handle+")")
		}
		perPool[l.Pool]++
	}
	switch {
	case len(onBare) > 0:
		return fmt.Errorf("%w: %d of the addresses (%s) are on nodes with no WorkloadEndpoint at all (%s); "+
			"the IPAM plugin may be in use without tortie's CNI plugin, and then these addresses are live",
			ErrUnsafeRelease, len(onBare), short(onBare), strings.Join(now.NodesWithoutEndpoints, ", "))
	case len(known) > 0:
		return fmt.Errorf("%w: the container runtime still knows the containers of %s", ErrUnsafeRelease, short(known))
	}
	pools := make([]string, 0, len(perPool))
	for p := range perPool {
		pools = append(pools, p)
	}
	sort.Strings(pools)
	for _, p := range pools {
		if total := now.AllocationsByPool[p]; perPool[p]*2 > total {
			return fmt.Errorf("%w: it would free %d of the %d allocations of pool %s", ErrUnsafeRelease, perPool[p], total, orNone(p))
		}
	}
	return nil
}

// short lists at most five items.
func short(items []string) string {
	if len(items) > 5 {
		return strings.Join(items[:5], ", ") + fmt.Sprintf(" and %d more", len(items)-5)
	}
	return strings.Join(items, ", ")
}

func orNone(p string) string {
	if p == "" {
		return "(none: outside every active pool)"
	}
	return p
}

func containsLeak(ls []LeakedIP, l LeakedIP) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

// CNICacheKnows returns a RuntimeKnows that looks for the container of a
// CNI handle ("<network>.<containerID>") in libcni's result cache under
// dir (runtimes keep /var/lib/cni/results/<network>-<containerID>-<ifname>
// until the container's DEL).
func CNICacheKnows(dir string) func(handle string) bool {
	return func(handle string) bool {
		network, id, ok := strings.Cut(handle, ".")
		if !ok || network == "" || id == "" || strings.ContainsAny(handle, "/*?[") {
			return false
		}
		matches, _ := filepath.Glob(filepath.Join(dir, "results", network+"-"+id+"-*"))
		if len(matches) > 0 {
			return true
		}
		_, err := os.Stat(filepath.Join(dir, "results", network+"-"+id))
		return err == nil
	}
}
