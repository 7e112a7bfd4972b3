package ipam

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// claimBlock makes a new block affine to host in one of the pools and
// returns its CIDR. The affinity and the block are created in one
// transaction, so there is never an affinity without its block. When every
// block of the pools exists, it reclaims an empty block that another host
// claimed more than reclaimAge ago. errNoFreeBlocks when there is none.
func (m *IPAM) claimBlock(ctx context.Context, host string, pools []pool, reserved func(netip.Addr) bool) (netip.Prefix, error) {
	fam := family(pools[0].cidr)
	keys, _, err := m.s.ListKeys(ctx, BlockPrefix(fam))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list %s blocks: %w", fam, err)
	}
	taken := make(map[netip.Prefix]bool, len(keys))
	for _, kv := range keys {
		if p, err := parseCIDRName(kv.Key[len(BlockPrefix(fam)):]); err == nil {
			taken[p] = true
		}
	}
	for _, p := range pools {
		for cidr := range blockCandidates(p, host) {
			if taken[cidr] || fullyReserved(cidr, reserved) {
				continue
			}
			err := m.createAffineBlock(ctx, host, cidr)
			if err == nil {
				m.cache.forgetHost(host, fam)
				m.log.Info("claimed block", "host", host, "block", cidr)
				return cidr, nil
			}
			if !errors.Is(err, datastore.ErrAlreadyExists) {
				return netip.Prefix{}, err
			}
		}
	}
	blocks, err := m.listBlocks(ctx, fam)
	if err != nil {
		return netip.Prefix{}, err
	}
	existing := make(map[netip.Prefix]storedBlock, len(blocks))
	for _, b := range blocks {
		existing[b.Prefix()] = b
	}
	for _, p := range pools {
		for cidr := range blockCandidates(p, host) {
			b, ok := existing[cidr]
			if !ok || !b.Empty() || b.Host() == host || !m.oldEnough(b.Block) {
				continue
			}
			if err := m.reclaim(ctx, host, b); err == nil {
				m.cache.forgetHost(host, fam)
				m.cache.forgetHost(b.Host(), fam)
				m.cache.putBlock(cidr, nil, 0, m.now())
				m.log.Info("reclaimed an empty block", "host", host, "block", cidr, "from", b.Host())
				return cidr, nil
			} else if !errors.Is(err, datastore.ErrConflict) && !errors.Is(err, datastore.ErrAlreadyExists) && !errors.Is(err, datastore.ErrNotFound) {
				return netip.Prefix{}, err
			}
		}
	}
	return netip.Prefix{}, errNoFreeBlocks
}

func (m *IPAM) createAffineBlock(ctx context.Context, host string, cidr netip.Prefix) error {
	_, err := m.s.Txn(ctx,
		datastore.Op{Type: datastore.OpCreate, Key: AffinityKey(host, cidr), Value: mustJSON(Affinity{State: StateConfirmed})},
		datastore.Op{Type: datastore.OpCreate, Key: BlockKey(cidr), Value: mustJSON(newBlock(cidr, host, m.now()))})
	if err != nil && !errors.Is(err, datastore.ErrAlreadyExists) {
		return fmt.Errorf("claim block %s for %s: %w", cidr, host, err)
	}
	return err
}

func (m *IPAM) oldEnough(b *Block) bool {
	return b.AffinityClaimTime == nil || m.now().Sub(*b.AffinityClaimTime) >= m.reclaimAge
}

// reclaim moves an empty block's affinity to host: the block (at the
// revision it was read empty), the old affinity and the new one change in
// one transaction.
func (m *IPAM) reclaim(ctx context.Context, host string, b storedBlock) error {
	cidr := b.Prefix()
	old := b.Host()
	fresh := newBlock(cidr, host, m.now())
	fresh.SequenceNumber = b.SequenceNumber + 1
	ops := []datastore.Op{
		{Type: datastore.OpUpdate, Key: BlockKey(cidr), Value: mustJSON(fresh), Rev: b.rev},
		{Type: datastore.OpCreate, Key: AffinityKey(host, cidr), Value: mustJSON(Affinity{State: StateConfirmed})},
	}
	if old != "" {
		if _, err := m.s.Get(ctx, AffinityKey(old, cidr)); err == nil {
			ops = append(ops, datastore.Op{Type: datastore.OpDelete, Key: AffinityKey(old, cidr)})
		}
	}
	_, err := m.s.Txn(ctx, ops...)
	return err
}

// fullyReserved reports whether every address of cidr is reserved.
func fullyReserved(cidr netip.Prefix, reserved func(netip.Addr) bool) bool {
	if reserved == nil {
		return false
	}
	return reserved(cidr.Addr()) && reserved(lastAddr(cidr)) && reservedAll(cidr, reserved)
}

func reservedAll(cidr netip.Prefix, reserved func(netip.Addr) bool) bool {
	b := newBlock(cidr, "", zeroTime)
	for ord := range b.Allocations {
		if !reserved(b.Addr(ord)) {
			return false
		}
	}
	return true
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	hostBits := len(b)*8 - p.Bits()
	for i := len(b) - 1; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		b[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// borrow offers take() the existing blocks of the pools that are not
// affine to host and have room, in an order seeded by the host name, until
// take reports it has enough.
func (m *IPAM) borrow(ctx context.Context, pools []pool, fam, host string, reserved func(netip.Addr) bool, take func(netip.Prefix) (bool, error)) error {
	blocks, err := m.listBlocks(ctx, fam)
	if err != nil {
		return err
	}
	var cands []netip.Prefix
	for _, b := range blocks {
		if b.Host() != host && !b.Deleted && inPools(pools, b.Prefix()) && b.Free(reserved) > 0 {
			cands = append(cands, b.Prefix())
		}
	}
	r := rand.New(rand.NewPCG(uint64(fnv32(host)), 0))
	r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for _, cidr := range cands {
		done, err := take(cidr)
		if err != nil || done {
			return err
		}
		m.log.Info("borrowed addresses from another host's block", "host", host, "block", cidr)
	}
	return nil
}

var zeroTime time.Time
