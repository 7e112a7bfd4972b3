package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tortienet/tortie/internal/datastore"
)

var _ datastore.Pager = (*Store)(nil)

// rangeChunk is how many keys each range read of the paged fallback asks
// for. etcd counts, on every limited range, all the keys left to the end
// of the range, so n keys read k at a time cost about n²/2k: with 10,000
// a 220,000-key listing costs twice one unlimited range, where pages of
// 500 cost ten times as much.
const rangeChunk = 10000

// ListPages implements datastore.Pager. On etcd 3.7 and later it is one
// RangeStream: the server reads the range at one revision in chunks of
// about a megabyte and sends each as it is read, counting nothing. On an
// older server (RangeStream unimplemented) it falls back to range reads
// of rangeChunk keys, the first at the current revision and the rest at
// that revision, each from just after the last key read. Either way fn
// gets the keys in pages of at most pageSize.
func (s *Store) ListPages(ctx context.Context, prefix string, pageSize int, fn func([]datastore.KV) error) (int64, error) {
	if pageSize <= 0 {
		pageSize = datastore.DefaultPageSize
	}
	if !s.noStream.Load() {
		rev, err := s.listStream(ctx, prefix, pageSize, fn)
		if status.Code(err) != codes.Unimplemented {
			return rev, err
		}
		s.noStream.Store(true)
	}
	return s.listRanges(ctx, prefix, pageSize, fn)
}

// listStream reads prefix with one RangeStream. A server without
// RangeStream fails it before fn is called, with codes.Unimplemented.
func (s *Store) listStream(ctx context.Context, prefix string, pageSize int, fn func([]datastore.KV) error) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream if fn fails
	ch, err := s.cli.GetStream(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("etcd list %s: %w", prefix, err)
	}
	for resp := range ch {
		if err := resp.Err(); err != nil {
			return 0, listErr(prefix, err)
		}
		if err := deliver(resp.Kvs, pageSize, fn); err != nil {
			return 0, err
		}
		if resp.Header != nil { // the last chunk
			return resp.Header.Revision, nil
		}
	}
	return 0, fmt.Errorf("etcd list %s: the stream ended without its last chunk", prefix)
}

// listRanges reads prefix with range reads of rangeChunk keys at one
// revision.
func (s *Store) listRanges(ctx context.Context, prefix string, pageSize int, fn func([]datastore.KV) error) (int64, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	from, rev, chunk := prefix, int64(0), s.chunk
	if chunk == 0 {
		chunk = rangeChunk
	}
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(chunk)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, from, opts...)
		if err != nil {
			return 0, listErr(prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		if err := deliver(resp.Kvs, pageSize, fn); err != nil {
			return 0, err
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// deliver hands kvs to fn in pages of at most pageSize.
func deliver(kvs []*mvccpb.KeyValue, pageSize int, fn func([]datastore.KV) error) error {
	for len(kvs) > 0 {
		n := min(pageSize, len(kvs))
		page := make([]datastore.KV, n)
		for i, kv := range kvs[:n] {
			page[i] = kvOf(kv)
		}
		if err := fn(page); err != nil {
			return err
		}
		kvs = kvs[n:]
	}
	return nil
}

func listErr(prefix string, err error) error {
	if errors.Is(err, rpctypes.ErrCompacted) {
		err = fmt.Errorf("%w (%w)", datastore.ErrCompacted, err)
	}
	return fmt.Errorf("etcd list %s: %w", prefix, err)
}
