package linklayer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
)

type fdbKey struct {
	mac string // the raw bytes of the MAC
	dst netip.Addr
}

// applyFDB keeps vxlan.calico's forwarding entries equal to the wanted
// ones (entries on other devices in want are programmed, but only
// vxlan.calico is swept).
func (r *Reconciler) applyFDB(ctx context.Context, want []calc.FDBEntry, res *NeighborResult, o *entryOutcome, mayRetry bool) error {
	byDev := map[string][]calc.FDBEntry{}
	for _, w := range want {
		byDev[w.Dev] = append(byDev[w.Dev], w)
	}
	if _, ok := byDev[conventions.VXLANDevice]; !ok {
		byDev[conventions.VXLANDevice] = nil // sweep it even when nothing is wanted
	}
	var missing []string
	for dev, ws := range byDev {
		if _, ok := r.links.Get(dev); !ok && len(ws) > 0 {
			missing = append(missing, dev)
		}
	}
	if err := r.links.Refresh(missing); err != nil {
		o.failed = true
		return err
	}
	var errs []error
	for _, dev := range slices.Sorted(maps.Keys(byDev)) {
		ws := byDev[dev]
		l, ok := r.links.Get(dev)
		if !ok {
			if len(ws) > 0 {
				errs = append(errs, fmt.Errorf("fdb entries on %s: interface does not exist", dev))
			}
			continue
		}
		err := r.syncFDB(ctx, dev, l.Index, ws, res, o, mayRetry)
		if o.retry {
			return err
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// fdbOf returns the device's entries as remembered, reading them the first
// time they are asked for since the tables were read.
func (r *Reconciler) fdbOf(index int) ([]FDBEntry, error) {
	e := &r.entries
	if have, ok := e.fdb[index]; ok {
		return have, nil
	}
	have, err := r.k.FDB(index)
	if err != nil {
		return nil, err
	}
	if have == nil {
		have = []FDBEntry{}
	}
	e.fdb[index] = have
	return have, nil
}

// syncFDB makes the device's permanent entries the wanted ones, in one
// batch: the stale ones deleted first (a MAC moving to another node must
// lose its old destination before it gets the new one), then the missing
// ones set.
func (r *Reconciler) syncFDB(ctx context.Context, dev string, index int, want []calc.FDBEntry, res *NeighborResult, o *entryOutcome, mayRetry bool) error {
	have, err := r.fdbOf(index)
	if err != nil {
		o.failed = true
		return err
	}
	wanted := make(map[fdbKey]bool, len(want))
	for _, w := range want {
		wanted[fdbKey{string(w.MAC), w.Dst}] = true
	}
	present := make(map[fdbKey]bool, len(have))
	var ops []EntryOp
	var kept []FDBEntry
	for _, h := range have {
		k := fdbKey{string(h.MAC), h.Dst}
		switch {
		case wanted[k] && h.Permanent:
			present[k] = true
			kept = append(kept, h)
		case !h.Permanent && !wanted[k]:
			kept = append(kept, h) // not a static entry: not ours
		default:
			ops = append(ops, EntryOp{Kind: DelFDB, Index: index, IP: h.Dst, MAC: h.MAC})
		}
	}
	queued := map[fdbKey]bool{}
	for _, w := range want {
		k := fdbKey{string(w.MAC), w.Dst}
		switch {
		case present[k]:
			res.FDB++
		case !queued[k]:
			queued[k] = true
			ops = append(ops, EntryOp{Kind: SetFDB, Index: index, IP: w.Dst, MAC: w.MAC})
		}
	}
	if err := ctx.Err(); err != nil && len(ops) > 0 {
		o.failed = true
		return err
	}
	return r.writeFDB(dev, index, kept, ops, res, o, mayRetry)
}

// writeFDB writes ops and records, over kept, what was done.
func (r *Reconciler) writeFDB(dev string, index int, kept []FDBEntry, ops []EntryOp, res *NeighborResult, o *entryOutcome, mayRetry bool) error {
	var errs []error
	byMAC := make(map[string]int, len(kept))
	for i, h := range kept {
		byMAC[string(h.MAC)] = i
	}
	debug := r.log.Enabled(context.Background(), slog.LevelDebug)
	for i, err := range r.k.WriteEntries(ops) {
		op := ops[i]
		if op.Kind == DelFDB {
			if err != nil {
				o.failed = true
				byMAC[string(op.MAC)] = len(kept)
				kept = append(kept, FDBEntry{LinkIndex: index, MAC: op.MAC, Dst: op.IP, Permanent: true})
				errs = append(errs, fmt.Errorf("delete stale fdb %s dst %s dev %s: %w", op.MAC, op.IP, dev, err))
				continue
			}
			r.log.Debug("stale fdb entry deleted", "dev", dev, "mac", op.MAC.String(), "dst", op.IP.String())
			res.Changes++
			continue
		}
		if err != nil {
			err = fmt.Errorf("set fdb %s dst %s dev %s: %w", op.MAC, op.IP, dev, err)
			o.writeFailed(err, dev, mayRetry) // a vanished device: retry
			errs = append(errs, err)
			continue
		}
		if debug {
			r.log.Debug("fdb entry set", "dev", dev, "mac", op.MAC.String(), "dst", op.IP.String())
		}
		// Like the kernel's replace, a set gives the MAC its destination.
		n := FDBEntry{LinkIndex: index, MAC: op.MAC, Dst: op.IP, Permanent: true}
		if j, ok := byMAC[string(op.MAC)]; ok {
			kept[j] = n
		} else {
			byMAC[string(op.MAC)] = len(kept)
			kept = append(kept, n)
		}
		res.FDB++
		res.Changes++
	}
	r.entries.fdb[index] = kept
	return errors.Join(errs...)
}
