package tunnels

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/tortienet/tortie/internal/calc"
)

// NeighborResult counts what ApplyNeighbors found and did.
type NeighborResult struct {
	// Neighbors and FDB are the wanted entries in place after the apply.
	Neighbors, FDB int
	// Skipped is the number of workload entries waiting for their interface.
	Skipped int
	// Changes is the number of kernel writes made.
	Changes int
}

// ApplyNeighbors makes the permanent neighbour and FDB entries as wanted,
// deleting stale permanent ones on the devices tortie owns (see the package
// documentation). Both kinds are attempted; the errors are joined.
func (r *Reconciler) ApplyNeighbors(ctx context.Context, neigh []calc.Neighbor, fdb []calc.FDBEntry) (NeighborResult, error) {
	var res NeighborResult
	links, err := r.k.Links()
	if err != nil {
		return res, err
	}
	errN := r.applyNeighbors(ctx, links, neigh, &res)
	errF := r.applyFDB(ctx, links, fdb, &res)
	if res.Changes > 0 {
		r.log.Info("neighbours reconciled", "changes", res.Changes, "neighbors", res.Neighbors, "fdb", res.FDB, "skipped", res.Skipped)
	}
	return res, errors.Join(errN, errF)
}

type neighKey struct {
	index int
	ip    netip.Addr
}

func (r *Reconciler) applyNeighbors(ctx context.Context, links map[string]int, want []calc.Neighbor, res *NeighborResult) error {
	have, err := r.k.Neighbors()
	if err != nil {
		return err
	}
	current := map[neighKey]Neighbor{}
	for _, h := range have {
		current[neighKey{h.LinkIndex, h.IP}] = h
	}
	var errs []error
	owned := map[int]bool{}
	if i, ok := links[calc.VXLANDevice]; ok {
		owned[i] = true
	}
	wanted := map[neighKey]bool{}
	for _, w := range want {
		i, ok := links[w.Dev]
		if !ok {
			if r.isWorkload(w.Dev) {
				res.Skipped++
			} else {
				errs = append(errs, fmt.Errorf("neighbour %s on %s: interface does not exist", w.IP, w.Dev))
			}
			continue
		}
		owned[i] = true
		k := neighKey{i, w.IP}
		wanted[k] = true
		if h, ok := current[k]; ok && h.Permanent && bytes.Equal(h.MAC, w.MAC) {
			res.Neighbors++
			continue
		}
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if err := r.k.SetNeighbor(i, w.IP, w.MAC); err != nil {
			errs = append(errs, fmt.Errorf("set neighbour %s lladdr %s dev %s: %w", w.IP, w.MAC, w.Dev, err))
			continue
		}
		r.log.Debug("neighbour set", "dev", w.Dev, "ip", w.IP.String(), "mac", w.MAC.String())
		res.Neighbors++
		res.Changes++
	}
	for _, h := range have {
		k := neighKey{h.LinkIndex, h.IP}
		if !h.Permanent || !owned[h.LinkIndex] || wanted[k] {
			continue
		}
		if err := r.k.DelNeighbor(h.LinkIndex, h.IP); err != nil {
			errs = append(errs, fmt.Errorf("delete stale neighbour %s ifindex %d: %w", h.IP, h.LinkIndex, err))
			continue
		}
		r.log.Debug("stale neighbour deleted", "ifindex", h.LinkIndex, "ip", h.IP.String())
		res.Changes++
	}
	return errors.Join(errs...)
}
