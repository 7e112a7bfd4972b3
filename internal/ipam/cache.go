package ipam

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// WithCache makes the IPAM remember what it reads, for a long-lived
// allocator such as the node agent: the blocks it has seen with their
// revisions, and for up to ttl the pools, reservations, node labels,
// configuration and each host's block list. Every write is still
// compare-and-swap on the revision it read, so a stale block costs one
// retry, never a wrong allocation; a change to pools or reservations is
// seen within ttl. Without it (one-shot callers such as the CNI plugin)
// everything is read fresh.
func WithCache(ttl time.Duration) Option {
	return func(m *IPAM) {
		m.cache = &cache{ttl: ttl, blocks: map[netip.Prefix]cachedBlock{}, snaps: map[string]cachedSnap{}, hosts: map[string]cachedHost{}}
	}
}

type cache struct {
	ttl    time.Duration
	mu     sync.Mutex
	blocks map[netip.Prefix]cachedBlock
	snaps  map[string]cachedSnap
	hosts  map[string]cachedHost
	// batchers queue concurrent allocations per host (batch.go).
	batchers map[string]*batcher
}

type cachedBlock struct {
	storedBlock
	at time.Time
}

type cachedSnap struct {
	s  *snapshot
	at time.Time
}

type cachedHost struct {
	cidrs []netip.Prefix
	at    time.Time
}

func hostKey(host, fam string) string { return fam + "/" + host }

// block returns a private copy of the cached block.
func (c *cache) block(cidr netip.Prefix) (storedBlock, bool) {
	if c == nil {
		return storedBlock{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.blocks[cidr]
	if !ok {
		return storedBlock{}, false
	}
	return storedBlock{b.clone(), b.rev}, true
}

// fresh reports whether the cached copy of a block was read or written
// less than ttl ago.
func (c *cache) fresh(cidr netip.Prefix, now time.Time) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.blocks[cidr]
	return ok && now.Sub(b.at) < c.ttl
}

// putBlock remembers a block as stored at rev, seen at now (nil: forget
// it). Older revisions never replace newer ones.
func (c *cache) putBlock(cidr netip.Prefix, b *Block, rev int64, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b == nil {
		delete(c.blocks, cidr)
		return
	}
	if old, ok := c.blocks[cidr]; ok && old.rev > rev {
		return
	}
	c.blocks[cidr] = cachedBlock{storedBlock{b.clone(), rev}, now}
}

func (c *cache) snapshot(host string, now time.Time) *snapshot {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.snaps[host]; ok && now.Sub(s.at) < c.ttl {
		return s.s
	}
	return nil
}

func (c *cache) putSnapshot(host string, s *snapshot, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snaps[host] = cachedSnap{s, now}
}

func (c *cache) hostBlocks(host, fam string, now time.Time) ([]netip.Prefix, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.hosts[hostKey(host, fam)]
	if !ok || now.Sub(h.at) >= c.ttl {
		return nil, false
	}
	return slices.Clone(h.cidrs), true
}

func (c *cache) putHostBlocks(host, fam string, cidrs []netip.Prefix, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hosts[hostKey(host, fam)] = cachedHost{slices.Clone(cidrs), now}
}

// forgetHost drops a host's block list so that the next read is fresh.
func (c *cache) forgetHost(host, fam string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.hosts, hostKey(host, fam))
}

// clone is a deep copy of the parts of a block that allocation changes.
func (b *Block) clone() *Block {
	n := *b
	n.Allocations = make([]*int, len(b.Allocations))
	for i, p := range b.Allocations {
		if p != nil {
			v := *p
			n.Allocations[i] = &v
		}
	}
	n.Unallocated = slices.Clone(b.Unallocated)
	n.Attributes = slices.Clone(b.Attributes)
	n.SequenceNumberForAllocation = maps.Clone(b.SequenceNumberForAllocation)
	return &n
}

// cachedOrRead returns the cached block, or reads it.
func (m *IPAM) cachedOrRead(ctx context.Context, cidr netip.Prefix) (storedBlock, error) {
	if b, ok := m.cache.block(cidr); ok {
		return b, nil
	}
	return m.getBlock(ctx, cidr)
}
