package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// AssignIPArgs asks for one specific address.
type AssignIPArgs struct {
	IP          netip.Addr
	HandleID    string
	Attrs       map[string]string
	Hostname    string
	IntendedUse v3.IPPoolAllowedUse
}

// AssignIP allocates a specific address: its pool must allow the use; its
// block is claimed for the host when it does not exist yet, otherwise the
// address is taken wherever its block belongs. It fails if the address is
// in use or reserved.
func (m *IPAM) AssignIP(ctx context.Context, a AssignIPArgs) error {
	if a.HandleID == "" || a.Hostname == "" || !a.IP.IsValid() {
		return fmt.Errorf("assign %s: address, handle (%q) and hostname (%q) are required", a.IP, a.HandleID, a.Hostname)
	}
	if a.IntendedUse == "" {
		a.IntendedUse = v3.AllowedUseWorkload
	}
	snap, err := m.readSnapshot(ctx, a.Hostname)
	if err != nil {
		return err
	}
	if snap.reserved != nil && snap.reserved(a.IP) {
		return fmt.Errorf("assign %s: the address is reserved by an IPReservation", a.IP)
	}
	var owner *pool
	for _, p := range parsePools(snap.pools) {
		if p.cidr.Contains(a.IP) {
			owner = &p
			break
		}
	}
	if owner == nil {
		return fmt.Errorf("assign %s: the address is not in any IP pool", a.IP)
	}
	if !owner.Spec.HasAllowedUse(a.IntendedUse) {
		return fmt.Errorf("assign %s: IP pool %s does not allow use %s", a.IP, owner.Name, a.IntendedUse)
	}
	cidr := netip.PrefixFrom(a.IP, owner.Spec.BlockSize).Masked()
	hs := &handleState{id: a.HandleID}
	attrs := m.stamp(a.Attrs)
	for attempt := 0; attempt < maxRetries; attempt++ {
		sb, err := m.getBlock(ctx, cidr)
		if isNotFound(err) {
			if err := m.createAffineBlock(ctx, a.Hostname, cidr); err != nil && !errors.Is(err, datastore.ErrAlreadyExists) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if snap.cfg.StrictAffinity && sb.Host() != a.Hostname {
			return fmt.Errorf("assign %s: block %s belongs to %q and strict affinity is enabled", a.IP, cidr, sb.Host())
		}
		if err := sb.assign(a.IP, a.HandleID, attrs); err != nil {
			return fmt.Errorf("assign %s: %w", a.IP, err)
		}
		sb.SequenceNumber++
		hop, next := hs.op(cidr, 1)
		rev, err := m.s.Txn(ctx, hop, datastore.Op{Type: datastore.OpUpdate, Key: BlockKey(cidr), Value: mustJSON(sb.Block), Rev: sb.rev})
		switch {
		case err == nil:
			hs.applied(next, rev)
			return nil
		case keyOf(err) == HandleKey(hs.id):
			if err := hs.load(ctx, m.s); err != nil {
				return err
			}
		case errors.Is(err, datastore.ErrConflict) || errors.Is(err, datastore.ErrNotFound):
		default:
			return fmt.Errorf("assign %s: %w", a.IP, err)
		}
	}
	return fmt.Errorf("assign %s: gave up after %d conflicting writes", a.IP, maxRetries)
}

func parsePools(ps []*v3.IPPool) []pool {
	var out []pool
	for _, p := range ps {
		if c, err := netip.ParsePrefix(p.Spec.CIDR); err == nil {
			out = append(out, pool{p, c})
		}
	}
	return out
}

// Allocation describes who holds an address.
type Allocation struct {
	Address        netip.Addr
	Block          netip.Prefix
	BlockHost      string
	HandleID       string
	Attrs          map[string]string
	SequenceNumber uint64
}

// GetAllocation reads who holds an address; ok is false when it is free or
// in no block.
func (m *IPAM) GetAllocation(ctx context.Context, a netip.Addr) (Allocation, bool, error) {
	fam := "ipv4"
	if a.Is6() {
		fam = "ipv6"
	}
	blocks, err := m.listBlocks(ctx, fam)
	if err != nil {
		return Allocation{}, false, err
	}
	for _, b := range blocks {
		ord, in := b.Ordinal(a)
		if !in {
			continue
		}
		owner, held := b.Owner(ord)
		if !held {
			return Allocation{}, false, nil
		}
		return Allocation{Address: a, Block: b.Prefix(), BlockHost: b.Host(), HandleID: owner.HandleID,
			Attrs: owner.ActiveOwnerAttrs, SequenceNumber: b.SequenceNumberForAllocation[fmt.Sprint(ord)]}, true, nil
	}
	return Allocation{}, false, nil
}
