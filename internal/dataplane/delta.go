package dataplane

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane/routes"
)

// ApplyDelta is Apply for a change the caller knows: delta is what
// changed in the calculation's state since the want of the last Apply,
// ApplyDelta or Resync (want is the state after it). When the change is
// routes alone, none of a local workload, and the last apply wrote all it
// was asked, only the changed routes are written, in work proportional to
// the change; otherwise (a full delta, devices, NAT, neighbours, FDB, the
// policy program, a route waiting or in conflict, a failure before) it is
// Apply. Either way the kernel ends as Apply would leave it.
func (d *Dataplane) ApplyDelta(ctx context.Context, want calc.Desired, delta calc.Delta) (Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok, err := d.tryDelta(ctx, want, delta)
	if !ok {
		return d.apply(ctx, want)
	}
	return st, err
}

// TryDelta is ApplyDelta without the fallback: when the change cannot be
// applied as a delta it says so (ok false), and the caller Applies. It
// has then written nothing, or, when a write found the kernel not as
// remembered (an interface gone), part of the change, and the Apply reads
// the kernel back. want's Routes, Neighbors and FDB are not read: a caller
// may leave them out (nil) and build them only for that Apply.
func (d *Dataplane) TryDelta(ctx context.Context, want calc.Desired, delta calc.Delta) (st Stats, ok bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tryDelta(ctx, want, delta)
}

func (d *Dataplane) tryDelta(ctx context.Context, want calc.Desired, delta calc.Delta) (Stats, bool, error) {
	if !d.deltaUsable(want, delta) {
		return Stats{}, false, nil
	}
	start := time.Now()
	d.links.Begin()
	rr, err := d.routes.ApplyDelta(ctx, delta.AddedRoutes, delta.RemovedRoutes)
	if errors.Is(err, routes.ErrDeltaUnusable) {
		return Stats{}, false, nil
	}
	st := d.last
	st.Routes, st.Changes, st.Errors, st.Conflicts = rr.Programmed, rr.Written+rr.Deleted, 0, nil
	if err != nil {
		st.Errors = 1
		err = fmt.Errorf("routes: %w", err)
	}
	st.Duration = time.Since(start)
	d.last, d.lastOK = st, err == nil
	if st.Changes > 0 || err != nil {
		d.log.Debug("dataplane applied a delta", "changes", st.Changes, "routes", st.Routes,
			"errors", st.Errors, "duration", st.Duration)
	}
	return st, true, err
}

// deltaUsable says whether delta is routes alone, none of a workload, on
// top of an apply that did all it was asked.
func (d *Dataplane) deltaUsable(want calc.Desired, delta calc.Delta) bool {
	if !d.lastOK || !d.started || delta.Full || delta.Devices || delta.NAT || delta.PodMTU ||
		len(delta.AddedNeighbors)+len(delta.RemovedNeighbors)+len(delta.AddedFDB)+len(delta.RemovedFDB) > 0 ||
		want.Policy != d.lastPolicy || (!d.ipv6 && hasIPv6(delta.AddedRoutes)) {
		return false
	}
	for _, rs := range [][]calc.Route{delta.AddedRoutes, delta.RemovedRoutes} {
		for _, r := range rs {
			if r.Workload {
				return false
			}
		}
	}
	return true
}
