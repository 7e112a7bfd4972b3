package routes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/dataplane/links"
)

// DefaultGracePeriod is how long an adopted route may stay unwanted before
// it is deleted: long enough for a new endpoint to travel from the CNI
// plugin through the datastore to the agent.
const DefaultGracePeriod = 10 * time.Second

// Config configures a Reconciler.
type Config struct {
	// Kernel is the route table to program (required).
	Kernel Kernel
	// Links is the view of the interfaces (required), which the dataplane
	// shares between its reconcilers; its owner begins a round per Apply.
	Links *links.Table
	// Log receives one line per change at debug level and a summary per
	// Apply that changed something (nil: discard).
	Log *slog.Logger
	// WorkloadPrefixes name the workload interfaces whose routes are
	// tortie's (default: "cali").
	WorkloadPrefixes []string
	// GracePeriod before an unwanted adopted route is deleted (0: the
	// default; negative: none).
	GracePeriod time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Reconciler programs the main table. It is not safe for concurrent use;
// the agent applies from one goroutine.
type Reconciler struct {
	k        Kernel
	links    *links.Table
	log      *slog.Logger
	prefixes []string
	grace    time.Duration
	now      func() time.Time
	// unwantedSince remembers when each adopted route was first seen
	// unwanted, for the grace period.
	unwantedSince map[key]time.Time
	// reported holds the conflicts already logged, so each is logged once.
	reported map[string]bool

	// known says table is trustworthy: the main table as last read, with
	// the reconciler's own writes since.
	known bool
	table *table
	// buf is reused by resolve.
	buf []Route
	// waiting says that the last Apply left routes waiting for their
	// interface; programmed is its Result.Programmed (see ApplyDelta).
	waiting    bool
	programmed int
	// v6 turns on with the first wanted IPv6 route, and stays on: from
	// then on the table read back holds the IPv6 routes too. Before, only
	// the first read dumps the IPv6 table (read6): IPv6 routes of ours
	// that a previous run left and nothing wants any more are removed.
	// (A node without IPv6 workloads dumps its IPv6 table once.)
	v6, read6 bool
}

// New returns a Reconciler; cfg.Kernel and cfg.Links are required.
func New(cfg Config) *Reconciler {
	r := &Reconciler{k: cfg.Kernel, links: cfg.Links, log: cfg.Log, prefixes: cfg.WorkloadPrefixes, grace: cfg.GracePeriod,
		now: cfg.Now, unwantedSince: map[key]time.Time{}, reported: map[string]bool{}, table: newTable()}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if len(r.prefixes) == 0 {
		r.prefixes = []string{conventions.HostIfPrefix}
	}
	switch {
	case r.grace == 0:
		r.grace = DefaultGracePeriod
	case r.grace < 0:
		r.grace = 0
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// Forget makes the next Apply read the interfaces and the table back
// (the periodic resync, to repair drift).
func (r *Reconciler) Forget() { r.known = false }

// Result counts what an Apply found and did.
type Result struct {
	// Programmed is the number of wanted routes in the table after Apply.
	Programmed int
	// Skipped is the number of workload routes waiting for their interface
	// to exist and be up.
	Skipped int
	// Written and Deleted count the kernel writes Apply made.
	Written, Deleted int
	// Conflicts are wanted routes left out because another owner's routes
	// hold their destination.
	Conflicts []Conflict
	// Read is true when Apply read the table back from the kernel.
	Read bool
}

// Apply makes the main table's routes of tortie equal to want and returns
// what it did. It carries on past
// a failed write and returns all failures joined; a context that ends stops
// it before its writes. The writes go to the kernel in batches (see
// Kernel.Write), each route's failure its own.
//
// The first Apply, the first after Forget and the first after a failed
// write dump the interfaces and the table; any other compares want with
// what the reconciler remembers (the table as last read, plus its own
// writes) and looks up by name only the interfaces of the routes it is
// about to write and of those waiting for their interface. So an Apply
// that finds nothing to do makes no kernel call at all (unless an adopted
// route's grace period ends). A route missing from memory is added, not
// replaced: when the kernel has one after all (the CNI plugin's, say), or
// a write finds an interface gone, Apply reads the table back, looks the
// interface up again and tries once more, so the route is adopted, not
// rewritten.
func (r *Reconciler) Apply(ctx context.Context, want []calc.Route) (Result, error) {
	r.wantIPv6(want)
	read := !r.known
	if read {
		if err := r.links.Dump(); err != nil {
			return Result{}, err
		}
	}
	res, o, err := r.pass(ctx, want, read, true)
	if o.retry && ctx.Err() == nil {
		r.log.Debug("routes: the remembered table was wrong; reading it back", "error", err)
		r.links.Invalidate(o.names)
		written := res.Written
		res, o, err = r.pass(ctx, want, true, false)
		res.Written += written
	}
	if o.failed || o.retry { // o.retry: the context ended before the retry
		r.known = false
	}
	r.waiting, r.programmed = o.waiting || res.Skipped > 0, res.Programmed
	if res.Written+res.Deleted > 0 {
		r.log.Info("routes reconciled", "written", res.Written, "deleted", res.Deleted,
			"programmed", res.Programmed, "skipped", res.Skipped, "conflicts", len(res.Conflicts), "read", res.Read)
	}
	return res, err
}

// wantIPv6 turns IPv6 on when want holds an IPv6 route, and makes the next
// pass read the table back with its IPv6 routes.
func (r *Reconciler) wantIPv6(want []calc.Route) {
	if r.v6 {
		return
	}
	for _, w := range want {
		if w.Dst.Addr().Is6() {
			r.v6, r.known = true, false
			return
		}
	}
}

// outcome is what a pass tells Apply beyond its Result.
type outcome struct {
	retry  bool     // a write found the memory wrong: read back and retry
	names  []string // interfaces to look up again for the retry
	failed bool     // a write failed: read everything next time
	// waiting: routes wait for their interface, or one is missing.
	waiting bool
}

// pass does one Apply against the remembered table, reading the table
// back first with read. With mayRetry, a write that shows the memory wrong
// ends the pass asking for a retry.
func (r *Reconciler) pass(ctx context.Context, want []calc.Route, read, mayRetry bool) (Result, outcome, error) {
	var res Result
	var o outcome
	if read {
		have, err := r.k.Routes(r.v6 || !r.read6)
		if err != nil {
			o.failed = true
			return res, o, err
		}
		r.table.load(have, r.owner)
		r.known, r.read6 = true, true
		res.Read = true
	}
	wanted, skipped, waiting, errs := r.resolve(want)
	p := r.table.plan(wanted)
	// Look up afresh the interfaces of the routes about to be written and
	// of those waiting for theirs (all already read, after a dump); plan
	// again if that changed anything.
	if len(p.write) > 0 || len(waiting) > 0 {
		names := waiting
		for _, w := range p.write {
			if w.LinkIndex != 0 {
				names = append(names, r.links.Name(w.LinkIndex))
			}
		}
		v := r.links.Version()
		if err := r.links.Refresh(names); err != nil {
			o.failed = true
			return res, o, err
		}
		if r.links.Version() != v {
			wanted, skipped, waiting, errs = r.resolve(want)
			p = r.table.plan(wanted)
		}
	}
	res.Skipped = skipped
	o.waiting = len(waiting) > 0 || len(errs) > 0
	res.Programmed = p.kept
	res.Conflicts = p.conflicts
	r.logConflicts(p.conflicts)

	if err := ctx.Err(); err != nil && len(p.write) > 0 {
		o.failed = true
		return res, o, errors.Join(append(errs, err)...)
	}
	for i, err := range r.write(p.write, nil) {
		w := p.write[i]
		if err == nil {
			res.Written++
			res.Programmed++
			continue
		}
		err = fmt.Errorf("program route %s: %w", w, err)
		if stale := errors.Is(err, ErrExists) || errors.Is(err, ErrNoDevice); stale && mayRetry {
			o.retry = true
			if errors.Is(err, ErrNoDevice) {
				o.names = append(o.names, r.links.Name(w.LinkIndex))
			}
		} else {
			o.failed = true
		}
		errs = append(errs, err)
	}
	if o.retry {
		return res, o, errors.Join(errs...)
	}
	deleted, derrs := r.sweep(ctx, p.stale)
	res.Deleted = deleted
	if len(derrs) > 0 {
		o.failed = true
		errs = append(errs, derrs...)
	}
	return res, o, errors.Join(errs...)
}

// write programs ws (adding a route the table does not hold, replacing
// the one it holds at its key) and deletes dels, in one Kernel.Write, and
// records what was done. errs[i] is the error of ws[i] for i < len(ws),
// then of dels[i-len(ws)].
func (r *Reconciler) write(ws, dels []Route) (errs []error) {
	if len(ws)+len(dels) == 0 {
		return nil
	}
	ops := make([]Op, 0, len(ws)+len(dels))
	for _, w := range ws {
		op := Op{Kind: OpAdd, Route: w}
		if r.table.has(w.key()) {
			op.Kind = OpReplace
		}
		ops = append(ops, op)
	}
	for _, d := range dels {
		ops = append(ops, Op{Kind: OpDelete, Route: d})
	}
	errs = r.k.Write(ops)
	debug := r.log.Enabled(context.Background(), slog.LevelDebug)
	for i, op := range ops {
		switch {
		case errs[i] != nil:
		case op.Kind == OpDelete:
			r.table.deleted(op.Route)
			if debug {
				r.log.Debug("stale route deleted", "route", op.Route.String())
			}
		default:
			r.table.wrote(op.Route, op.Kind == OpReplace)
			if debug {
				r.log.Debug("route programmed", "route", op.Route.String())
			}
		}
	}
	return errs
}

// sweep deletes stale routes: tortie-node's own at once, adopted ones once
// they have been unwanted for the grace period.
func (r *Reconciler) sweep(ctx context.Context, st []stale) (int, []error) {
	now := r.now()
	seen := map[key]bool{}
	var dels []Route
	for _, s := range st {
		if s.adopted {
			seen[s.key()] = true
			since, ok := r.unwantedSince[s.key()]
			if !ok {
				r.unwantedSince[s.key()] = now
				since = now
			}
			if now.Sub(since) < r.grace {
				continue
			}
		}
		dels = append(dels, s.Route)
	}
	for k := range r.unwantedSince {
		if !seen[k] {
			delete(r.unwantedSince, k) // wanted again, or gone
		}
	}
	if len(dels) == 0 {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, []error{err}
	}
	var errs []error
	deleted := 0
	for i, err := range r.write(nil, dels) {
		if err != nil {
			errs = append(errs, fmt.Errorf("delete stale route %s: %w", dels[i], err))
			continue
		}
		delete(r.unwantedSince, dels[i].key())
		deleted++
	}
	return deleted, errs
}

// owner classifies a kernel route. A route of another protocol on an
// interface the links table does not know (one created since the last full
// read that no wanted route names) counts as foreign until the next full
// read.
func (r *Reconciler) owner(rt Route) ownership {
	switch {
	case rt.Protocol == conventions.ProtocolAgent:
		return written
	case rt.Protocol == conventions.ProtocolCNI:
		return adopted
	case rt.Protocol == protocolKernel:
		return foreign
	case rt.LinkIndex != 0 && r.isWorkload(r.links.Name(rt.LinkIndex)):
		return adopted
	}
	return foreign
}

func (r *Reconciler) isWorkload(name string) bool {
	for _, p := range r.prefixes {
		if name != "" && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func (r *Reconciler) logConflicts(cs []Conflict) {
	now := map[string]bool{}
	for _, c := range cs {
		s := c.String()
		now[s] = true
		if !r.reported[s] {
			r.log.Warn("route conflict", "detail", s)
		}
	}
	r.reported = now
}
