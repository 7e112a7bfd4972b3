package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// Group commit. Concurrent allocations for the same host all want the
// same block, and compare-and-swap serialises them: each waits for the
// previous write to be committed, so sixteen callers get no further than
// one. A cached IPAM instead queues them per host; whoever finds no write
// in progress becomes the leader and writes every queued request that fits
// the host's current block in one transaction (the block plus each new
// handle). Requests that do not fit, or that the batch cannot serve, take
// the ordinary path.

// maxBatch bounds one transaction.
const maxBatch = 64

type batchRequest struct {
	a     AutoAssignArgs
	attrs map[string]string
	done  chan batchResult
}

type batchResult struct {
	ips    []netip.Prefix
	served bool // false: not written; the caller takes the ordinary path
	err    error
}

type batcher struct {
	mu      sync.Mutex
	queue   []*batchRequest
	leading bool
}

// batchable reports whether a request can share a batch: IPv4 only, no
// namespace selector input.
func batchable(a AutoAssignArgs) bool {
	return a.Num6 == 0 && a.Num4 > 0 && a.NamespaceLabels == nil
}

// sameBatch reports whether two requests may be written together.
func sameBatch(x, y AutoAssignArgs) bool {
	return x.Hostname == y.Hostname && x.IntendedUse == y.IntendedUse && x.MaxBlocksPerHost == y.MaxBlocksPerHost &&
		slices.Equal(x.IPv4Pools, y.IPv4Pools)
}

func (m *IPAM) batcherFor(host string) *batcher {
	m.cache.mu.Lock()
	defer m.cache.mu.Unlock()
	if m.cache.batchers == nil {
		m.cache.batchers = map[string]*batcher{}
	}
	b, ok := m.cache.batchers[host]
	if !ok {
		b = &batcher{}
		m.cache.batchers[host] = b
	}
	return b
}

// assignBatched queues a request and, if no one is writing for the host,
// writes batches until the queue is empty.
func (m *IPAM) assignBatched(ctx context.Context, a AutoAssignArgs, attrs map[string]string) batchResult {
	req := &batchRequest{a: a, attrs: attrs, done: make(chan batchResult, 1)}
	b := m.batcherFor(a.Hostname)
	b.mu.Lock()
	b.queue = append(b.queue, req)
	lead := !b.leading
	if lead {
		b.leading = true
	}
	b.mu.Unlock()
	if lead {
		for {
			b.mu.Lock()
			batch := b.queue[:min(len(b.queue), maxBatch)]
			b.queue = b.queue[len(batch):]
			if len(batch) == 0 {
				b.leading = false
				b.mu.Unlock()
				break
			}
			b.mu.Unlock()
			m.writeBatch(batch)
		}
	}
	select {
	case r := <-req.done:
		return r
	case <-ctx.Done():
		return batchResult{err: ctx.Err()}
	}
}

// writeBatch serves what it can of a batch from the host's affine blocks
// and sends every request its result.
func (m *IPAM) writeBatch(batch []*batchRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pending := batch
	for len(pending) > 0 {
		group := []*batchRequest{pending[0]}
		var rest []*batchRequest
		for _, r := range pending[1:] {
			if sameBatch(r.a, group[0].a) {
				group = append(group, r)
			} else {
				rest = append(rest, r)
			}
		}
		m.writeGroup(ctx, group)
		pending = rest
	}
}

func (m *IPAM) writeGroup(ctx context.Context, group []*batchRequest) {
	a := group[0].a
	fail := func(rs []*batchRequest, err error) {
		for _, r := range rs {
			r.done <- batchResult{err: err}
		}
	}
	snap, err := m.readSnapshot(ctx, a.Hostname)
	if err != nil {
		fail(group, err)
		return
	}
	pools, err := selectPools(snap.pools, false, a.IPv4Pools, snap.nodeLabels, nil, a.IntendedUse)
	if err != nil || len(pools) == 0 {
		for _, r := range group {
			r.done <- batchResult{served: false} // the ordinary path reports it
		}
		return
	}
	affine, err := m.hostBlocks(ctx, a.Hostname, "ipv4")
	if err != nil {
		fail(group, err)
		return
	}
	remaining := group
	for _, cidr := range affine {
		if len(remaining) == 0 || !inPools(pools, cidr) {
			continue
		}
		remaining = m.writeGroupInBlock(ctx, cidr, a.Hostname, remaining, snap.reserved)
	}
	for _, r := range remaining {
		r.done <- batchResult{served: false}
	}
}

// writeGroupInBlock allocates, in one transaction, every request of group
// (in order) that fits in the block, and returns the others.
func (m *IPAM) writeGroupInBlock(ctx context.Context, cidr netip.Prefix, host string, group []*batchRequest, reserved func(netip.Addr) bool) []*batchRequest {
	for attempt := 0; attempt < maxRetries; attempt++ {
		sb, err := m.cachedOrRead(ctx, cidr)
		if attempt > 0 || err != nil {
			sb, err = m.getBlock(ctx, cidr)
		}
		if err != nil || sb.Deleted || sb.Host() != host {
			return group
		}
		free := sb.Free(reserved)
		var fits, rest []*batchRequest
		for _, r := range group {
			if r.a.Num4 <= free {
				free -= r.a.Num4
				fits = append(fits, r)
			} else {
				rest = append(rest, r)
			}
		}
		if len(fits) == 0 {
			return group
		}
		ips := make([][]netip.Addr, len(fits))
		var ops []datastore.Op // the handles, then the block: see txnOrder
		for i, r := range fits {
			ips[i] = sb.allocate(r.a.Num4, r.a.HandleID, r.attrs, reserved)
			h := Handle{Block: map[string]int{cidr.String(): len(ips[i])}}
			ops = append(ops, datastore.Op{Type: datastore.OpCreate, Key: HandleKey(r.a.HandleID), Value: mustJSON(h)})
		}
		sb.SequenceNumber++
		ops = append(ops, datastore.Op{Type: datastore.OpUpdate, Key: BlockKey(cidr), Value: mustJSON(sb.Block), Rev: sb.rev})
		rev, err := m.s.Txn(ctx, ops...)
		switch {
		case err == nil:
			m.cache.putBlock(cidr, sb.Block, rev, m.now())
			for i, r := range fits {
				out := make([]netip.Prefix, len(ips[i]))
				for j, ip := range ips[i] {
					out[j] = netip.PrefixFrom(ip, cidr.Bits())
				}
				r.done <- batchResult{ips: out, served: true}
			}
			return rest
		case errors.Is(err, datastore.ErrAlreadyExists):
			// A handle exists already (a repeated request): let each
			// request take the ordinary path, which handles that.
			return group
		case errors.Is(err, datastore.ErrConflict) || errors.Is(err, datastore.ErrNotFound):
			continue
		default:
			for _, r := range fits {
				r.done <- batchResult{err: fmt.Errorf("allocate in block %s: %w", cidr, err), served: true}
			}
			return rest
		}
	}
	return group
}
