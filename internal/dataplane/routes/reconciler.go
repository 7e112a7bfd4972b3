package routes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tortienet/tortie/internal/calc"
)

// DefaultGracePeriod is how long an adopted route may stay unwanted before
// it is deleted: long enough for a new endpoint to travel from the CNI
// plugin through the datastore to the agent.
const DefaultGracePeriod = 10 * time.Second

// Config configures a Reconciler.
type Config struct {
	// Kernel is the route table to program (required).
	Kernel Kernel
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
	log      *slog.Logger
	prefixes []string
	grace    time.Duration
	now      func() time.Time
	// unwantedSince remembers when each adopted route was first seen
	// unwanted, for the grace period.
	unwantedSince map[key]time.Time
	// reported holds the conflicts already logged, so each is logged once.
	reported map[string]bool
}

// New returns a Reconciler; cfg.Kernel is required.
func New(cfg Config) *Reconciler {
	r := &Reconciler{k: cfg.Kernel, log: cfg.Log, prefixes: cfg.WorkloadPrefixes, grace: cfg.GracePeriod,
		now: cfg.Now, unwantedSince: map[key]time.Time{}, reported: map[string]bool{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if len(r.prefixes) == 0 {
		r.prefixes = []string{"cali"}
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
}

// Apply makes the main table's IPv4 routes of tortie equal to want (IPv6
// routes in want are ignored) and returns what it did. It carries on past
// a failed write and returns all failures joined; a context that ends stops
// it between writes.
func (r *Reconciler) Apply(ctx context.Context, want []calc.Route) (Result, error) {
	var res Result
	links, err := r.k.Links()
	if err != nil {
		return res, err
	}
	have, err := r.k.Routes()
	if err != nil {
		return res, err
	}
	names := make(map[int]string, len(links))
	for n, l := range links {
		names[l.Index] = n
	}
	wanted, skipped, errs := r.resolve(want, links)
	res.Skipped = skipped
	p := diff(wanted, have, func(rt Route) ownership { return r.owner(rt, names) })
	res.Programmed = p.kept
	res.Conflicts = p.conflicts
	r.logConflicts(p.conflicts)

	for _, w := range p.write {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		if err := r.k.ReplaceRoute(w); err != nil {
			errs = append(errs, fmt.Errorf("program route %s: %w", w, err))
			continue
		}
		r.log.Debug("route programmed", "route", w.String())
		res.Written++
		res.Programmed++
	}
	deleted, derrs := r.sweep(ctx, p.stale)
	res.Deleted = deleted
	errs = append(errs, derrs...)
	if res.Written+res.Deleted > 0 {
		r.log.Info("routes reconciled", "written", res.Written, "deleted", res.Deleted,
			"programmed", res.Programmed, "skipped", res.Skipped, "conflicts", len(res.Conflicts))
	}
	return res, errors.Join(errs...)
}

// sweep deletes stale routes: tortie-node's own at once, adopted ones once
// they have been unwanted for the grace period.
func (r *Reconciler) sweep(ctx context.Context, st []stale) (int, []error) {
	now := r.now()
	seen := map[key]bool{}
	var errs []error
	deleted := 0
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
		if err := ctx.Err(); err != nil {
			return deleted, append(errs, err)
		}
		if err := r.k.DeleteRoute(s.Route); err != nil {
			errs = append(errs, fmt.Errorf("delete stale route %s: %w", s.Route, err))
			continue
		}
		delete(r.unwantedSince, s.key())
		r.log.Debug("stale route deleted", "route", s.Route.String())
		deleted++
	}
	for k := range r.unwantedSince {
		if !seen[k] {
			delete(r.unwantedSince, k) // wanted again, or gone
		}
	}
	return deleted, errs
}

// owner classifies a kernel route.
func (r *Reconciler) owner(rt Route, names map[int]string) ownership {
	switch {
	case rt.Protocol == ProtocolTortie:
		return written
	case rt.Protocol == ProtocolCNI:
		return adopted
	case rt.Protocol == protocolKernel:
		return foreign
	case rt.LinkIndex != 0 && r.isWorkload(names[rt.LinkIndex]):
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
