package linklayer

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
)

// NeighborResult counts what ApplyNeighbors found and did.
type NeighborResult struct {
	// Neighbors and FDB are the wanted entries in place after the apply.
	Neighbors, FDB int
	// Skipped is the number of workload entries waiting for their interface.
	Skipped int
	// Changes is the number of kernel writes made.
	Changes int
	// Read is true when the entries were read back from the kernel.
	Read bool
}

type neighKey struct {
	index int
	ip    netip.Addr
}

// entries is what the reconciler knows of the neighbour and FDB tables.
type entries struct {
	// known says neigh and fdb are trustworthy: the permanent IPv4
	// neighbour entries as last read, and the FDB entries of the devices
	// read so far, with the reconciler's own writes since.
	known bool
	neigh map[neighKey]*neighSlot
	fdb   map[int][]FDBEntry
	// owned holds, per interface, the last plan that wanted entries on
	// it; gen numbers the plans.
	owned map[int]uint64
	gen   uint64
}

// neighSlot is a neighbour entry as known (present) and the last plan
// that wanted it.
type neighSlot struct {
	n       Neighbor
	present bool
	right   uint64
}

// entryOutcome is what a pass tells ApplyNeighbors beyond its result.
type entryOutcome struct {
	retry  bool     // a write found an interface gone: look again, retry
	names  []string // the interfaces to look up again
	failed bool     // a write failed: read everything next time
}

// ApplyNeighbors makes the permanent neighbour and FDB entries as wanted,
// deleting stale permanent ones on the devices tortie owns (see the package
// documentation). Both kinds are attempted; the errors are joined.
//
// The first call, the first after Forget, after a device change or after a
// failed write dumps the interfaces and the neighbour table and reads the
// FDB; any other compares the input with what the reconciler remembers
// (the tables as last read, plus its own writes), and looks up by name
// only the interfaces of the entries it is about to write and of those
// waiting for their interface. So a call that finds nothing to do makes no
// kernel call. Consequently, permanent entries someone else adds to a
// workload interface after the last read are removed at the next full
// read, not at once. A write that finds its interface gone makes the call
// look the interface up again, read the table back and try once more.
func (r *Reconciler) ApplyNeighbors(ctx context.Context, neigh []calc.Neighbor, fdb []calc.FDBEntry) (NeighborResult, error) {
	e := &r.entries
	read := !e.known
	if read {
		if err := r.links.Dump(); err != nil {
			return NeighborResult{}, err
		}
	}
	res, o, err := r.entryPass(ctx, neigh, fdb, read, true)
	if o.retry && ctx.Err() == nil {
		r.log.Debug("neighbours: an interface was not what was remembered; reading back", "error", err)
		r.links.Invalidate(o.names)
		changes := res.Changes
		res, o, err = r.entryPass(ctx, neigh, fdb, true, false)
		res.Changes += changes
	}
	if o.failed || o.retry {
		e.known = false
	}
	if res.Changes > 0 {
		r.log.Info("neighbours reconciled", "changes", res.Changes, "neighbors", res.Neighbors, "fdb", res.FDB, "skipped", res.Skipped, "read", res.Read)
	}
	return res, err
}

// entryPass does one ApplyNeighbors against the remembered tables, reading
// them back first with read. With mayRetry, a write to a vanished interface
// ends it asking for a retry.
func (r *Reconciler) entryPass(ctx context.Context, neigh []calc.Neighbor, fdb []calc.FDBEntry, read, mayRetry bool) (NeighborResult, entryOutcome, error) {
	var res NeighborResult
	var o entryOutcome
	e := &r.entries
	if read {
		have, err := r.k.Neighbors()
		if err != nil {
			o.failed = true
			return res, o, err
		}
		e.neigh = make(map[neighKey]*neighSlot, len(have))
		for _, h := range have {
			if h.Permanent { // the others are the kernel's, never ours
				e.neigh[neighKey{h.LinkIndex, h.IP}] = &neighSlot{n: h, present: true}
			}
		}
		e.fdb = map[int][]FDBEntry{}
		e.owned = map[int]uint64{}
		e.known = true
		res.Read = true
	}
	errN := r.applyNeighbors(ctx, neigh, &res, &o, mayRetry)
	if o.retry {
		return res, o, errN
	}
	errF := r.applyFDB(ctx, fdb, &res, &o, mayRetry)
	return res, o, errors.Join(errN, errF)
}

// writeFailed sorts out a failed write: a vanished interface asks for a
// retry (when allowed, and then the pass stops), anything else fails.
func (o *entryOutcome) writeFailed(err error, dev string, mayRetry bool) (stop bool) {
	if errors.Is(err, ErrNoDevice) && mayRetry {
		o.retry = true
		o.names = append(o.names, dev)
		return true
	}
	o.failed = true
	return false
}

// neighWrite is a wanted entry to write.
type neighWrite struct {
	calc.Neighbor
	index int
}

// planNeighbors marks the wanted entries and their interfaces in the
// remembered table and returns the entries to write and the interfaces
// missing.
func (r *Reconciler) planNeighbors(want []calc.Neighbor, res *NeighborResult) (write []neighWrite, missing []string, errs []error) {
	e := &r.entries
	e.gen++
	if l, ok := r.links.Get(conventions.VXLANDevice); ok {
		e.owned[l.Index] = e.gen
	}
	res.Neighbors, res.Skipped = 0, 0 // (planned again after a lookup)
	for _, w := range want {
		l, ok := r.links.Get(w.Dev)
		if !ok {
			missing = append(missing, w.Dev)
			if r.isWorkload(w.Dev) {
				res.Skipped++
			} else {
				errs = append(errs, fmt.Errorf("neighbour %s on %s: interface does not exist", w.IP, w.Dev))
			}
			continue
		}
		e.owned[l.Index] = e.gen
		k := neighKey{l.Index, w.IP}
		s := e.neigh[k]
		if s == nil {
			s = &neighSlot{}
			e.neigh[k] = s
		}
		s.right = e.gen // now, or after the write
		if s.present && bytes.Equal(s.n.MAC, w.MAC) {
			res.Neighbors++
			continue
		}
		write = append(write, neighWrite{w, l.Index})
	}
	return write, missing, errs
}

func (r *Reconciler) applyNeighbors(ctx context.Context, want []calc.Neighbor, res *NeighborResult, o *entryOutcome, mayRetry bool) error {
	write, missing, errs := r.planNeighbors(want, res)
	// Look up afresh the interfaces of the entries about to be written and
	// of those missing (all already read, after a dump); plan again if that
	// changed anything.
	if len(write) > 0 || len(missing) > 0 {
		names := missing
		for _, w := range write {
			names = append(names, w.Dev)
		}
		v := r.links.Version()
		if err := r.links.Refresh(names); err != nil {
			o.failed = true
			return err
		}
		if r.links.Version() != v {
			write, _, errs = r.planNeighbors(want, res)
		}
	}
	if err := ctx.Err(); err != nil && len(write) > 0 {
		o.failed = true
		return errors.Join(append(errs, err)...)
	}
	werrs, stop := r.writeNeighbors(write, res, o, mayRetry)
	if errs = append(errs, werrs...); stop {
		return errors.Join(errs...)
	}
	errs = append(errs, r.deleteStaleNeighbors(res, o)...)
	return errors.Join(errs...)
}

// writeNeighbors sets the entries in one batch and records those set;
// stop says that one found its interface gone and a retry is asked for.
func (r *Reconciler) writeNeighbors(write []neighWrite, res *NeighborResult, o *entryOutcome, mayRetry bool) (errs []error, stop bool) {
	if len(write) == 0 {
		return nil, false
	}
	ops := make([]EntryOp, len(write))
	for i, w := range write {
		ops[i] = EntryOp{Kind: SetNeighbor, Index: w.index, IP: w.IP, MAC: w.MAC}
	}
	debug := r.log.Enabled(context.Background(), slog.LevelDebug)
	for i, err := range r.k.WriteEntries(ops) {
		w := write[i]
		if err != nil {
			err = fmt.Errorf("set neighbour %s lladdr %s dev %s: %w", w.IP, w.MAC, w.Dev, err)
			stop = o.writeFailed(err, w.Dev, mayRetry) || stop
			errs = append(errs, err)
			continue
		}
		s := r.entries.neigh[neighKey{w.index, w.IP}]
		s.n, s.present = Neighbor{LinkIndex: w.index, IP: w.IP, MAC: w.MAC, Permanent: true}, true
		if debug {
			r.log.Debug("neighbour set", "dev", w.Dev, "ip", w.IP.String(), "mac", w.MAC.String())
		}
		res.Neighbors++
		res.Changes++
	}
	return errs, stop
}

// deleteStaleNeighbors deletes, in one batch, the known entries on
// interfaces tortie owns now that are not wanted.
func (r *Reconciler) deleteStaleNeighbors(res *NeighborResult, o *entryOutcome) (errs []error) {
	e := &r.entries
	var stale []neighKey
	for k, s := range e.neigh {
		switch {
		case s.right == e.gen:
		case !s.present:
			delete(e.neigh, k)
		case e.owned[k.index] == e.gen:
			stale = append(stale, k)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	slices.SortFunc(stale, func(a, b neighKey) int { return cmp.Or(cmp.Compare(a.index, b.index), a.ip.Compare(b.ip)) })
	ops := make([]EntryOp, len(stale))
	for i, k := range stale {
		ops[i] = EntryOp{Kind: DelNeighbor, Index: k.index, IP: k.ip}
	}
	for i, err := range r.k.WriteEntries(ops) {
		k := stale[i]
		if err != nil {
			o.failed = true
			errs = append(errs, fmt.Errorf("delete stale neighbour %s ifindex %d: %w", k.ip, k.index, err))
			continue
		}
		delete(e.neigh, k)
		r.log.Debug("stale neighbour deleted", "ifindex", k.index, "ip", k.ip.String())
		res.Changes++
	}
	return errs
}
