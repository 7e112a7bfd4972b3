package linklayer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

func (r *Reconciler) syncFDB(ctx context.Context, dev string, index int, want []calc.FDBEntry, res *NeighborResult, o *entryOutcome, mayRetry bool) error {
	have, err := r.fdbOf(index)
	if err != nil {
		o.failed = true
		return err
	}
	wanted := map[fdbKey]bool{}
	for _, w := range want {
		wanted[fdbKey{string(w.MAC), w.Dst}] = true
	}
	present := map[fdbKey]bool{}
	var errs []error
	var kept []FDBEntry
	// Stale entries first: a MAC moving to another node must lose its old
	// destination before it gets the new one.
	for _, h := range have {
		k := fdbKey{string(h.MAC), h.Dst}
		if wanted[k] && h.Permanent {
			present[k] = true
			kept = append(kept, h)
			continue
		}
		if !h.Permanent && !wanted[k] {
			kept = append(kept, h) // not a static entry: not ours
			continue
		}
		if err := r.k.DelFDB(index, h.MAC, h.Dst); err != nil {
			o.failed = true
			kept = append(kept, h)
			errs = append(errs, fmt.Errorf("delete stale fdb %s dst %s dev %s: %w", h.MAC, h.Dst, dev, err))
			continue
		}
		r.log.Debug("stale fdb entry deleted", "dev", dev, "mac", h.MAC.String(), "dst", h.Dst.String())
		res.Changes++
	}
	r.entries.fdb[index] = kept
	for _, w := range want {
		k := fdbKey{string(w.MAC), w.Dst}
		if present[k] {
			res.FDB++
			continue
		}
		if err := ctx.Err(); err != nil {
			o.failed = true
			return errors.Join(append(errs, err)...)
		}
		if err := r.k.SetFDB(index, w.MAC, w.Dst); err != nil {
			err = fmt.Errorf("set fdb %s dst %s dev %s: %w", w.MAC, w.Dst, dev, err)
			if o.writeFailed(err, dev, mayRetry) {
				return err
			}
			errs = append(errs, err)
			continue
		}
		r.log.Debug("fdb entry set", "dev", dev, "mac", w.MAC.String(), "dst", w.Dst.String())
		r.entries.setFDB(index, FDBEntry{LinkIndex: index, MAC: w.MAC, Dst: w.Dst, Permanent: true})
		present[k] = true
		res.FDB++
		res.Changes++
	}
	return errors.Join(errs...)
}

// setFDB records a written entry: like the kernel's replace, it sets the
// MAC's destination.
func (e *entries) setFDB(index int, n FDBEntry) {
	have := e.fdb[index]
	for i, h := range have {
		if bytes.Equal(h.MAC, n.MAC) {
			have[i] = n
			return
		}
	}
	e.fdb[index] = append(have, n)
}
