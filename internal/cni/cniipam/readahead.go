package cniipam

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// maxReadAheadBlocks bounds how many of the node's blocks are read ahead.
const maxReadAheadBlocks = 4

// readAhead is a Store that, when made, starts at once the reads a
// one-shot allocation makes one after another (the IPAM configuration, pools, reservations and node; the node's affinities and
// then their blocks) and answers the first read of each key or prefix from
// them. Every later read, and any read of a key written in between, goes
// to the store. A read answered ahead is what the store held a moment
// before the allocator asked, as if it had asked earlier: the allocator's
// writes are all compare-and-swap on the revisions it read, so a value
// that changed in between costs a retry (which reads afresh), never a
// wrong allocation. It lives for one Add: a release before it (a half-made
// attachment torn down) is not hidden by an older read.
type readAhead struct {
	datastore.Store
	mu    sync.Mutex
	gets  map[string]*pendingRead
	lists map[string]*pendingRead
}

type pendingRead struct {
	done chan struct{}
	kv   datastore.KV
	kvs  []datastore.KV
	rev  int64
	err  error
}

// newReadAhead starts the reads of an allocation on node in the given
// families ("ipv4", "ipv6"). The handle is not among them: allocations
// take it to be new (AutoAssignArgs.NewHandle).
func newReadAhead(ctx context.Context, s datastore.Store, node string, fams []string) *readAhead {
	r := &readAhead{Store: s, gets: map[string]*pendingRead{}, lists: map[string]*pendingRead{}}
	r.get(ctx, ipam.ConfigKey)
	for _, kind := range []string{"IPPool", "IPReservation"} {
		ki, _ := v3.LookupKind(kind)
		r.list(ctx, datastore.ResourceListPrefix(ki.Plural, ""), nil)
	}
	nodeKind, _ := v3.LookupKind("Node")
	r.get(ctx, datastore.ResourceKey(nodeKind.Plural, "", node))
	for _, fam := range fams {
		prefix := ipam.AffinityPrefix(node, fam)
		r.list(ctx, prefix, func(kvs []datastore.KV) {
			n := 0
			for _, kv := range kvs {
				var a ipam.Affinity
				if json.Unmarshal(kv.Value, &a) != nil || a.State != ipam.StateConfirmed || a.Deleted || n == maxReadAheadBlocks {
					continue
				}
				r.get(ctx, ipam.BlockPrefix(fam)+strings.TrimPrefix(kv.Key, prefix))
				n++
			}
		})
	}
	return r
}

// get starts reading key, unless a read of it is pending.
func (r *readAhead) get(ctx context.Context, key string) {
	p := &pendingRead{done: make(chan struct{})}
	r.mu.Lock()
	if _, ok := r.gets[key]; ok {
		r.mu.Unlock()
		return
	}
	r.gets[key] = p
	r.mu.Unlock()
	go func() {
		p.kv, p.err = r.Store.Get(ctx, key)
		close(p.done)
	}()
}

// list starts listing prefix; then, when it succeeds, runs next on the
// listing (before the listing is handed out).
func (r *readAhead) list(ctx context.Context, prefix string, next func([]datastore.KV)) {
	p := &pendingRead{done: make(chan struct{})}
	r.mu.Lock()
	r.lists[prefix] = p
	r.mu.Unlock()
	go func() {
		p.kvs, p.rev, p.err = r.Store.List(ctx, prefix)
		if p.err == nil && next != nil {
			next(p.kvs)
		}
		close(p.done)
	}()
}

// take removes and returns the pending read of key in m, if any.
func (r *readAhead) take(m map[string]*pendingRead, key string) *pendingRead {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := m[key]
	delete(m, key)
	return p
}

// forget drops what was read ahead of a key about to be written.
func (r *readAhead) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.gets, key)
	for prefix := range r.lists {
		if strings.HasPrefix(key, prefix) {
			delete(r.lists, prefix)
		}
	}
}

func (r *readAhead) Get(ctx context.Context, key string) (datastore.KV, error) {
	if p := r.take(r.gets, key); p != nil {
		select {
		case <-p.done:
			return p.kv, p.err
		case <-ctx.Done():
			return datastore.KV{}, ctx.Err()
		}
	}
	return r.Store.Get(ctx, key)
}

func (r *readAhead) List(ctx context.Context, prefix string) ([]datastore.KV, int64, error) {
	if p := r.take(r.lists, prefix); p != nil {
		select {
		case <-p.done:
			return p.kvs, p.rev, p.err
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	return r.Store.List(ctx, prefix)
}

func (r *readAhead) Create(ctx context.Context, key string, value []byte) (int64, error) {
	r.forget(key)
	return r.Store.Create(ctx, key, value)
}

func (r *readAhead) Update(ctx context.Context, key string, value []byte, rev int64) (int64, error) {
	r.forget(key)
	return r.Store.Update(ctx, key, value, rev)
}

func (r *readAhead) Delete(ctx context.Context, key string, rev int64) (datastore.KV, error) {
	r.forget(key)
	return r.Store.Delete(ctx, key, rev)
}

func (r *readAhead) Txn(ctx context.Context, ops ...datastore.Op) (int64, error) {
	for _, op := range ops {
		r.forget(op.Key)
	}
	return r.Store.Txn(ctx, ops...)
}

// Close leaves the store open: it belongs to the caller.
func (r *readAhead) Close() error { return nil }
