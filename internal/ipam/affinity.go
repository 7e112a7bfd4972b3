package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// releaseAffinity ends host's affinity to a block read at sb: an empty
// block is deleted with its affinity; a block still in use keeps its
// addresses, loses its affinity and so becomes borrowable. One transaction.
func (m *IPAM) releaseAffinity(ctx context.Context, host string, sb storedBlock) error {
	cidr := sb.Prefix()
	ops := []datastore.Op{{Type: datastore.OpDelete, Key: AffinityKey(host, cidr)}}
	if sb.Empty() {
		ops = append(ops, datastore.Op{Type: datastore.OpDelete, Key: BlockKey(cidr), Rev: sb.rev})
	} else {
		sb.Affinity, sb.AffinityClaimTime = nil, nil
		sb.SequenceNumber++
		ops = append(ops, datastore.Op{Type: datastore.OpUpdate, Key: BlockKey(cidr), Value: mustJSON(sb.Block), Rev: sb.rev})
	}
	_, err := m.s.Txn(ctx, ops...)
	return err
}

// ReleaseHostAffinities ends every affinity of a host (for a node that is
// gone). Addresses in use stay allocated.
func (m *IPAM) ReleaseHostAffinities(ctx context.Context, host string) error {
	for _, fam := range []string{"ipv4", "ipv6"} {
		cidrs, err := m.hostBlocks(ctx, host, fam)
		if err != nil {
			return err
		}
		for _, cidr := range cidrs {
			if err := m.retryOnBlock(ctx, cidr, func(sb storedBlock) error { return m.releaseAffinity(ctx, host, sb) }); err != nil {
				return fmt.Errorf("release affinity of %s to %s: %w", host, cidr, err)
			}
		}
	}
	return nil
}

// retryOnBlock reads a block and runs f on it, again while f's write
// conflicts. A missing block: only the affinity key is removed by f's
// caller's next run, so it is treated as done.
func (m *IPAM) retryOnBlock(ctx context.Context, cidr netip.Prefix, f func(storedBlock) error) error {
	for attempt := 0; attempt < maxRetries; attempt++ {
		sb, err := m.getBlock(ctx, cidr)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		err = f(sb)
		if !errors.Is(err, datastore.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("block %s: gave up after %d conflicting writes", cidr, maxRetries)
}

// EmptyBlockReleaser gives back a host's blocks that have stayed empty for
// a grace period, keeping at least one block for the host. Calico never
// gives an emptied block back; a node that once ran many pods keeps its
// blocks forever and the pool fragments. Call Sync periodically (the node
// agent does); it remembers when it first saw each block empty, and a
// block that was used in between starts its grace period again.
type EmptyBlockReleaser struct {
	IPAM  *IPAM
	Host  string
	Grace time.Duration

	seen map[netip.Prefix]emptySince
}

type emptySince struct {
	at  time.Time
	seq uint64
}

// Sync releases the blocks whose grace period is over and returns them.
func (r *EmptyBlockReleaser) Sync(ctx context.Context) ([]netip.Prefix, error) {
	if r.seen == nil {
		r.seen = map[netip.Prefix]emptySince{}
	}
	now := r.IPAM.now()
	var released []netip.Prefix
	for _, fam := range []string{"ipv4", "ipv6"} {
		cidrs, err := r.IPAM.hostBlocks(ctx, r.Host, fam)
		if err != nil {
			return released, err
		}
		var empty []storedBlock
		for _, cidr := range cidrs {
			sb, err := r.IPAM.getBlock(ctx, cidr)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return released, err
			}
			if !sb.Empty() {
				delete(r.seen, cidr)
				continue
			}
			if s, ok := r.seen[cidr]; !ok || s.seq != sb.SequenceNumber {
				r.seen[cidr] = emptySince{at: now, seq: sb.SequenceNumber}
			}
			empty = append(empty, sb)
		}
		keep := len(empty) == len(cidrs) // every block empty: keep the first
		for _, sb := range empty {
			cidr := sb.Prefix()
			if keep {
				keep = false
				continue
			}
			if now.Sub(r.seen[cidr].at) < r.Grace {
				continue
			}
			err := r.IPAM.releaseAffinity(ctx, r.Host, sb)
			if errors.Is(err, datastore.ErrConflict) || errors.Is(err, datastore.ErrNotFound) {
				continue // used or changed meanwhile: look again next time
			}
			if err != nil {
				return released, fmt.Errorf("release empty block %s: %w", cidr, err)
			}
			delete(r.seen, cidr)
			released = append(released, cidr)
			r.IPAM.log.Info("gave back an empty block", "host", r.Host, "block", cidr)
		}
	}
	return released, nil
}
