package datastore

import (
	"context"
)

// DefaultPageSize is the number of keys per page of a paginated listing
// when the caller does not choose: small enough that one page of
// WorkloadEndpoints is about a megabyte, large enough that a listing of
// 100,000 keys is a few hundred round trips.
const DefaultPageSize = 500

// Pager is an optional capability of a Store: listing a prefix in pages,
// every page read at the revision of the first. A large listing then
// never has to be held whole, neither in the server's response nor in
// the caller: each page can be decoded and dropped before the next is
// read.
type Pager interface {
	// ListPages calls fn with the keys under prefix in key order, at most
	// pageSize at a time (DefaultPageSize when pageSize <= 0), and returns
	// the revision every page was read at: the revision of the first
	// read, so a write made between two pages is not seen (a Watch from
	// the returned revision reports it). fn is never called with an empty
	// page and owns each page it gets. When fn returns an error,
	// ListPages stops and returns it. When the revision is compacted
	// before the last page is read, the error wraps ErrCompacted: the
	// caller starts over.
	ListPages(ctx context.Context, prefix string, pageSize int, fn func(page []KV) error) (rev int64, err error)
}

// ListPages lists prefix as Pager.ListPages does: with s's own ListPages
// when s is a Pager, otherwise with one List handed to fn in pages (the
// same contract, without the memory saving).
func ListPages(ctx context.Context, s Store, prefix string, pageSize int, fn func(page []KV) error) (int64, error) {
	if p, ok := s.(Pager); ok {
		return p.ListPages(ctx, prefix, pageSize, fn)
	}
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	kvs, rev, err := s.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	for len(kvs) > 0 {
		n := min(pageSize, len(kvs))
		if err := fn(kvs[:n:n]); err != nil {
			return 0, err
		}
		kvs = kvs[n:]
	}
	return rev, nil
}
