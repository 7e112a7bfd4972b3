package tunnels

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/tortienet/tortie/internal/calc"
)

type fdbKey struct {
	mac string // the raw bytes of the MAC
	dst netip.Addr
}

// applyFDB keeps vxlan.calico's forwarding entries equal to the wanted
// ones (entries on other devices in want are programmed, but only
// vxlan.calico is swept).
func (r *Reconciler) applyFDB(ctx context.Context, links map[string]int, want []calc.FDBEntry, res *NeighborResult) error {
	byDev := map[string][]calc.FDBEntry{}
	for _, w := range want {
		byDev[w.Dev] = append(byDev[w.Dev], w)
	}
	if _, ok := byDev[calc.VXLANDevice]; !ok {
		byDev[calc.VXLANDevice] = nil // sweep it even when nothing is wanted
	}
	var errs []error
	for dev, ws := range byDev {
		i, ok := links[dev]
		if !ok {
			if len(ws) > 0 {
				errs = append(errs, fmt.Errorf("fdb entries on %s: interface does not exist", dev))
			}
			continue
		}
		if err := r.syncFDB(ctx, dev, i, ws, res); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Reconciler) syncFDB(ctx context.Context, dev string, index int, want []calc.FDBEntry, res *NeighborResult) error {
	have, err := r.k.FDB(index)
	if err != nil {
		return err
	}
	wanted := map[fdbKey]bool{}
	for _, w := range want {
		wanted[fdbKey{string(w.MAC), w.Dst}] = true
	}
	present := map[fdbKey]bool{}
	var errs []error
	// Stale entries first: a MAC moving to another node must lose its old
	// destination before it gets the new one.
	for _, h := range have {
		k := fdbKey{string(h.MAC), h.Dst}
		if wanted[k] && h.Permanent {
			present[k] = true
			continue
		}
		if !h.Permanent && !wanted[k] {
			continue // not a static entry: not ours
		}
		if err := r.k.DelFDB(index, h.MAC, h.Dst); err != nil {
			errs = append(errs, fmt.Errorf("delete stale fdb %s dst %s dev %s: %w", h.MAC, h.Dst, dev, err))
			continue
		}
		r.log.Debug("stale fdb entry deleted", "dev", dev, "mac", h.MAC.String(), "dst", h.Dst.String())
		res.Changes++
	}
	for _, w := range want {
		k := fdbKey{string(w.MAC), w.Dst}
		if present[k] {
			res.FDB++
			continue
		}
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if err := r.k.SetFDB(index, w.MAC, w.Dst); err != nil {
			errs = append(errs, fmt.Errorf("set fdb %s dst %s dev %s: %w", w.MAC, w.Dst, dev, err))
			continue
		}
		r.log.Debug("fdb entry set", "dev", dev, "mac", w.MAC.String(), "dst", w.Dst.String())
		present[k] = true
		res.FDB++
		res.Changes++
	}
	return errors.Join(errs...)
}
