package ipam

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"

	"github.com/tortienet/tortie/internal/datastore"
)

// storedBlock is a block with the revision it was read at.
type storedBlock struct {
	*Block
	rev int64
}

// getBlock reads one block (error wraps datastore.ErrNotFound if absent).
func (m *IPAM) getBlock(ctx context.Context, cidr netip.Prefix) (storedBlock, error) {
	kv, err := m.s.Get(ctx, BlockKey(cidr))
	if err != nil {
		if isNotFound(err) {
			m.cache.putBlock(cidr, nil, 0, m.now())
		}
		return storedBlock{}, err
	}
	b, err := decodeBlock(kv)
	if err == nil {
		m.cache.putBlock(cidr, b.Block, b.rev, m.now())
	}
	return b, err
}

func decodeBlock(kv datastore.KV) (storedBlock, error) {
	var b Block
	if err := json.Unmarshal(kv.Value, &b); err != nil {
		return storedBlock{}, fmt.Errorf("decode block %s: %w", kv.Key, err)
	}
	if b.SequenceNumberForAllocation == nil {
		b.SequenceNumberForAllocation = map[string]uint64{}
	}
	return storedBlock{&b, kv.Revision}, nil
}

// listBlocks reads every block of a family ("ipv4" or "ipv6").
func (m *IPAM) listBlocks(ctx context.Context, fam string) ([]storedBlock, error) {
	kvs, _, err := m.s.List(ctx, BlockPrefix(fam))
	if err != nil {
		return nil, fmt.Errorf("list %s blocks: %w", fam, err)
	}
	out := make([]storedBlock, 0, len(kvs))
	for _, kv := range kvs {
		b, err := decodeBlock(kv)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// ListBlocks reads every block of both families.
func (m *IPAM) ListBlocks(ctx context.Context) ([]*Block, error) {
	var out []*Block
	for _, fam := range []string{"ipv4", "ipv6"} {
		bs, err := m.listBlocks(ctx, fam)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			out = append(out, b.Block)
		}
	}
	return out, nil
}

// hostBlocks lists the CIDRs of the host's confirmed affinities, sorted.
func (m *IPAM) hostBlocks(ctx context.Context, host, fam string) ([]netip.Prefix, error) {
	if cidrs, ok := m.cache.hostBlocks(host, fam, m.now()); ok {
		return cidrs, nil
	}
	kvs, _, err := m.s.List(ctx, AffinityPrefix(host, fam))
	if err != nil {
		return nil, fmt.Errorf("list affinities of %s: %w", host, err)
	}
	var out []netip.Prefix
	for _, kv := range kvs {
		_, cidr, ok := parseAffinityKey(kv.Key)
		if !ok {
			continue
		}
		var a Affinity
		if json.Unmarshal(kv.Value, &a) != nil || a.State != StateConfirmed || a.Deleted {
			continue
		}
		out = append(out, cidr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr().Less(out[j].Addr()) })
	m.cache.putHostBlocks(host, fam, out, m.now())
	return out, nil
}

// AffinityRecord is one host's claim on one block.
type AffinityRecord struct {
	Host  string
	CIDR  netip.Prefix
	State string
}

// ListAffinities reads every block affinity.
func (m *IPAM) ListAffinities(ctx context.Context) ([]AffinityRecord, error) {
	kvs, _, err := m.s.List(ctx, HostPrefix())
	if err != nil {
		return nil, fmt.Errorf("list affinities: %w", err)
	}
	var out []AffinityRecord
	for _, kv := range kvs {
		host, cidr, ok := parseAffinityKey(kv.Key)
		if !ok {
			continue
		}
		var a Affinity
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return nil, fmt.Errorf("decode affinity %s: %w", kv.Key, err)
		}
		out = append(out, AffinityRecord{Host: host, CIDR: cidr, State: a.State})
	}
	return out, nil
}

// handleState tracks one handle across the writes of one operation, so
// that a new handle costs no read: the first write assumes it does not
// exist yet and learns otherwise from the transaction's failure.
type handleState struct {
	id string
	// mustBeNew: finding that the handle exists ends the request
	// (AutoAssignArgs.NewHandle).
	mustBeNew bool
	known     bool // h and rev reflect the store
	exists    bool
	h         Handle
	rev       int64
}

func (hs *handleState) load(ctx context.Context, s datastore.Store) error {
	kv, err := s.Get(ctx, HandleKey(hs.id))
	hs.known = true
	if isNotFound(err) {
		hs.exists, hs.h, hs.rev = false, Handle{}, 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("read handle %s: %w", hs.id, err)
	}
	var h Handle
	if err := json.Unmarshal(kv.Value, &h); err != nil {
		return fmt.Errorf("decode handle %s: %w", hs.id, err)
	}
	hs.exists, hs.h, hs.rev = true, h, kv.Revision
	return nil
}

// op returns the write that adds delta addresses in block cidr to the
// handle (delta may be negative), and the handle as it would be after it.
func (hs *handleState) op(cidr netip.Prefix, delta int) (datastore.Op, Handle) {
	next := Handle{Block: map[string]int{}}
	if hs.exists {
		for k, v := range hs.h.Block {
			next.Block[k] = v
		}
	}
	if n := next.Block[cidr.String()] + delta; n > 0 {
		next.Block[cidr.String()] = n
	} else {
		delete(next.Block, cidr.String())
	}
	key := HandleKey(hs.id)
	switch {
	case !hs.exists:
		return datastore.Op{Type: datastore.OpCreate, Key: key, Value: mustJSON(next)}, next
	case len(next.Block) == 0:
		return datastore.Op{Type: datastore.OpDelete, Key: key, Rev: hs.rev}, next
	default:
		return datastore.Op{Type: datastore.OpUpdate, Key: key, Value: mustJSON(next), Rev: hs.rev}, next
	}
}

// applied records that the op from op() was written at rev.
func (hs *handleState) applied(next Handle, rev int64) {
	hs.known, hs.exists, hs.h, hs.rev = true, len(next.Block) > 0, next, rev
}
