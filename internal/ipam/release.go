package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"github.com/tortienet/tortie/internal/datastore"
)

// ReleaseOptions names one address to release. Handle, when set, must be
// the address's owner; SequenceNumber, when set, must be the one recorded
// when it was allocated, so that a stale release cannot free an address
// that has been handed to someone else since.
type ReleaseOptions struct {
	Address        netip.Addr
	Handle         string
	SequenceNumber uint64
}

// ReleaseIPs frees addresses and returns those that were not allocated.
func (m *IPAM) ReleaseIPs(ctx context.Context, opts ...ReleaseOptions) ([]netip.Addr, error) {
	byBlock, notInBlock, err := m.groupByBlock(ctx, opts)
	if err != nil {
		return nil, err
	}
	unallocated := notInBlock
	cidrs := make([]netip.Prefix, 0, len(byBlock))
	for c := range byBlock {
		cidrs = append(cidrs, c)
	}
	sort.Slice(cidrs, func(i, j int) bool { return cidrs[i].Addr().Less(cidrs[j].Addr()) })
	var errs []error
	for _, cidr := range cidrs {
		missing, err := m.releaseInBlock(ctx, cidr, byBlock[cidr])
		unallocated = append(unallocated, missing...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return unallocated, errors.Join(errs...)
}

// groupByBlock finds the block of every address.
func (m *IPAM) groupByBlock(ctx context.Context, opts []ReleaseOptions) (map[netip.Prefix][]ReleaseOptions, []netip.Addr, error) {
	out := map[netip.Prefix][]ReleaseOptions{}
	var missing []netip.Addr
	blocks := map[string][]storedBlock{}
	for _, o := range opts {
		fam := "ipv4"
		if o.Address.Is6() {
			fam = "ipv6"
		}
		if _, ok := blocks[fam]; !ok {
			bs, err := m.listBlocks(ctx, fam)
			if err != nil {
				return nil, nil, err
			}
			blocks[fam] = bs
		}
		found := false
		for _, b := range blocks[fam] {
			if p := b.Prefix(); p.Contains(o.Address) {
				out[p] = append(out[p], o)
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, o.Address)
		}
	}
	return out, missing, nil
}

// releaseInBlock frees addresses of one block and updates their handles in
// the same transaction.
func (m *IPAM) releaseInBlock(ctx context.Context, cidr netip.Prefix, opts []ReleaseOptions) ([]netip.Addr, error) {
	for attempt := 0; attempt < maxRetries; attempt++ {
		sb, err := m.getBlock(ctx, cidr)
		if isNotFound(err) {
			out := make([]netip.Addr, len(opts))
			for i, o := range opts {
				out[i] = o.Address
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var missing []netip.Addr
		freed := map[string]int{}
		for _, o := range opts {
			if ord, ok := sb.Ordinal(o.Address); ok && o.Handle != "" {
				if owner, held := sb.Owner(ord); held && owner.HandleID != o.Handle {
					return nil, fmt.Errorf("release %s: it is held by handle %q, not %q", o.Address, owner.HandleID, o.Handle)
				}
			}
			h, ok, err := sb.releaseAddr(o.Address, o.SequenceNumber)
			if err != nil {
				return nil, err
			}
			if !ok {
				missing = append(missing, o.Address)
				continue
			}
			freed[h]++
		}
		if len(freed) == 0 {
			return missing, nil
		}
		ops, err := m.releaseOps(ctx, sb, freed)
		if err != nil {
			return nil, err
		}
		rev, err := m.s.Txn(ctx, ops...)
		if err == nil {
			m.cache.putBlock(cidr, sb.Block, rev, m.now())
			if ops[0].Type == datastore.OpDelete {
				m.cache.putBlock(cidr, nil, 0, m.now())
			}
			return missing, nil
		}
		if !errors.Is(err, datastore.ErrConflict) && !errors.Is(err, datastore.ErrNotFound) && !errors.Is(err, datastore.ErrAlreadyExists) {
			return nil, fmt.Errorf("release in block %s: %w", cidr, err)
		}
	}
	return nil, fmt.Errorf("release in block %s: gave up after %d conflicting writes", cidr, maxRetries)
}

// releaseOps is the transaction that writes a block after releases and
// decrements each handle by the number of its addresses freed. A block
// that is left empty and affine to nobody is deleted.
func (m *IPAM) releaseOps(ctx context.Context, sb storedBlock, freed map[string]int) ([]datastore.Op, error) {
	cidr := sb.Prefix()
	sb.compactAttributes()
	sb.SequenceNumber++
	var ops []datastore.Op
	if sb.Empty() && sb.Affinity == nil {
		ops = append(ops, datastore.Op{Type: datastore.OpDelete, Key: BlockKey(cidr), Rev: sb.rev})
	} else {
		ops = append(ops, datastore.Op{Type: datastore.OpUpdate, Key: BlockKey(cidr), Value: mustJSON(sb.Block), Rev: sb.rev})
	}
	for _, id := range sortedKeys(freed) {
		if id == "" {
			continue
		}
		hs := &handleState{id: id}
		if err := hs.load(ctx, m.s); err != nil {
			return nil, err
		}
		if !hs.exists {
			continue // a leaked allocation whose handle is already gone
		}
		op, _ := hs.op(cidr, -freed[id])
		ops = append(ops, op)
	}
	return ops, nil
}

// ReleaseByHandle frees every address of a handle and deletes it. A handle
// that does not exist is not an error (CNI DEL is idempotent).
func (m *IPAM) ReleaseByHandle(ctx context.Context, handle string) ([]netip.Addr, error) {
	var released []netip.Addr
	for attempt := 0; attempt < maxRetries; attempt++ {
		hs := &handleState{id: handle}
		if err := hs.load(ctx, m.s); err != nil {
			return released, err
		}
		if !hs.exists {
			return released, nil
		}
		cidrs := make([]string, 0, len(hs.h.Block))
		for c := range hs.h.Block {
			cidrs = append(cidrs, c)
		}
		sort.Strings(cidrs)
		cidr, err := netip.ParsePrefix(cidrs[0])
		if err != nil {
			return released, fmt.Errorf("handle %s names block %q: %w", handle, cidrs[0], err)
		}
		sb, err := m.getBlock(ctx, cidr)
		var ops []datastore.Op
		var addrs []netip.Addr
		handleOp, _ := hs.op(cidr, -hs.h.Block[cidrs[0]])
		switch {
		case isNotFound(err):
			ops = []datastore.Op{handleOp}
		case err != nil:
			return released, err
		default:
			addrs = sb.releaseHandle(handle)
			sb.compactAttributes()
			sb.SequenceNumber++
			blockOp := datastore.Op{Type: datastore.OpUpdate, Key: BlockKey(cidr), Value: mustJSON(sb.Block), Rev: sb.rev}
			if sb.Empty() && sb.Affinity == nil {
				blockOp = datastore.Op{Type: datastore.OpDelete, Key: BlockKey(cidr), Rev: sb.rev}
			}
			ops = []datastore.Op{blockOp, handleOp}
		}
		rev, err := m.s.Txn(ctx, ops...)
		switch {
		case err == nil:
			released = append(released, addrs...)
			m.cache.putBlock(cidr, nil, 0, m.now())
			if sb.Block != nil && ops[0].Type == datastore.OpUpdate && ops[0].Key == BlockKey(cidr) {
				m.cache.putBlock(cidr, sb.Block, rev, m.now())
			}
		case errors.Is(err, datastore.ErrConflict) || errors.Is(err, datastore.ErrNotFound):
			// Someone else wrote the block or the handle: read again.
		default:
			return released, fmt.Errorf("release handle %s in block %s: %w", handle, cidr, err)
		}
	}
	return released, fmt.Errorf("release handle %s: gave up after %d attempts", handle, maxRetries)
}

// IPsByHandle lists the addresses a handle holds.
func (m *IPAM) IPsByHandle(ctx context.Context, handle string) ([]netip.Addr, error) {
	hs := &handleState{id: handle}
	if err := hs.load(ctx, m.s); err != nil {
		return nil, err
	}
	if !hs.exists {
		return nil, fmt.Errorf("handle %s: %w", handle, datastore.ErrNotFound)
	}
	var out []netip.Addr
	for _, c := range sortedKeys(hs.h.Block) {
		cidr, err := netip.ParsePrefix(c)
		if err != nil {
			continue
		}
		sb, err := m.getBlock(ctx, cidr)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sb.AddrsOf(handle)...)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Handles lists the handle IDs that start with prefix.
func (m *IPAM) Handles(ctx context.Context, prefix string) ([]string, error) {
	kvs, _, err := m.s.List(ctx, HandlePrefix()+prefix)
	if err != nil {
		return nil, fmt.Errorf("list handles: %w", err)
	}
	out := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, kv.Key[len(HandlePrefix()):])
	}
	return out, nil
}
