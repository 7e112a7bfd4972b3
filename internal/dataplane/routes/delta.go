package routes

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tortienet/tortie/internal/calc"
)

// ErrDeltaUnusable says that ApplyDelta could not apply the change as a
// delta: the caller applies the whole want instead. It wrote nothing,
// unless a write showed the remembered table wrong (see ApplyDelta).
var ErrDeltaUnusable = errors.New("routes: the change cannot be applied as a delta")

// ApplyDelta makes the change from the last wanted routes: removed are no
// longer wanted, added are (a changed route is in both). Its work is in
// proportion to the change, not to the table. It applies only what a full
// Apply would do the same way, and otherwise returns ErrDeltaUnusable
// having written nothing: when the table is not known (first Apply,
// Forget, a failed write), when routes are waiting for their interface or
// an adopted route for its grace period, when there are conflicts, or when
// the change meets any of those. Programmed in the Result counts the
// wanted routes as the last Apply did, adjusted by the change.
//
// It makes no kernel call but the writes (one batch): the interfaces are
// as last read. When a write shows that memory wrong (an interface gone,
// a route already there), the error wraps ErrDeltaUnusable too, having
// written part of the change: the caller applies the whole want, which
// reads the table back.
func (r *Reconciler) ApplyDelta(ctx context.Context, added, removed []calc.Route) (Result, error) {
	if r.wantIPv6(added); !r.known || r.waiting || len(r.unwantedSince) > 0 || len(r.reported) > 0 {
		return Result{}, ErrDeltaUnusable
	}
	add, rem, write, stale, ok := r.resolveDelta(added, removed)
	if !ok {
		return Result{}, ErrDeltaUnusable
	}
	// The interfaces are taken as last read, without a lookup (a delta
	// never names a workload interface, nor one the table lacks): a write
	// finding one gone shows the memory wrong, and the caller then applies
	// the whole want, which reads the kernel back.
	return r.writeDelta(ctx, write, stale, r.programmed+len(add)-len(rem)-len(write))
}

// resolveDelta resolves the change and plans it; ok is false when it
// cannot be applied as a delta.
func (r *Reconciler) resolveDelta(added, removed []calc.Route) (add, rem, write, stale []Route, ok bool) {
	add, skipped, waiting, errs := r.resolve(added)
	add = slices.Clone(add)
	if skipped > 0 || len(waiting) > 0 || len(errs) > 0 {
		return nil, nil, nil, nil, false
	}
	rem, _, _, _ = r.resolve(removed) // a removed route's interface may be gone
	rem = slices.Clone(rem)
	write, stale, ok = r.planDelta(add, rem)
	return add, rem, write, stale, ok
}

// planDelta is plan for a change: the routes to write and those to delete;
// ok is false when the change needs what only a full Apply does
// (a conflict, an adopted route to delete).
func (r *Reconciler) planDelta(add, rem []Route) (write []Route, stale []Route, ok bool) {
	addKeys := make(map[key]bool, len(add))
	for _, w := range add {
		addKeys[w.key()] = true
		s := r.table.slots[w.key()]
		if s != nil && s.holds(w) {
			continue
		}
		if len(r.table.foreign[w.Dst]) > 0 {
			return nil, nil, false
		}
		write = append(write, w)
	}
	for _, d := range rem {
		if addKeys[d.key()] {
			continue
		}
		s := r.table.slots[d.key()]
		if s == nil {
			continue
		}
		for _, h := range s.routes {
			switch h.owner {
			case adopted:
				return nil, nil, false
			case written:
				stale = append(stale, h.Route)
			}
		}
	}
	return write, stale, true
}

// writeDelta writes and deletes what planDelta found; kept is the number
// of wanted routes already right (every wanted route is programmed when a
// delta is usable).
func (r *Reconciler) writeDelta(ctx context.Context, write, stale []Route, kept int) (Result, error) {
	res := Result{Programmed: kept}
	var errs []error
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
		write, stale = nil, nil
	}
	for i, err := range r.write(write, stale) {
		switch {
		case i < len(write) && err != nil:
			errs = append(errs, fmt.Errorf("program route %s: %w", write[i], err))
		case i < len(write):
			res.Written++
			res.Programmed++
		case err != nil:
			errs = append(errs, fmt.Errorf("delete stale route %s: %w", stale[i-len(write)], err))
		default:
			res.Deleted++
		}
	}
	r.programmed = res.Programmed
	if len(errs) == 0 {
		return res, nil
	}
	r.known = false // the next Apply reads the table back
	err := errors.Join(errs...)
	if errors.Is(err, ErrExists) || errors.Is(err, ErrNoDevice) {
		return res, fmt.Errorf("%w: %w", ErrDeltaUnusable, err)
	}
	return res, err
}
