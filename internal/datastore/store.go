// Package datastore defines tortie's storage contract: a key/value store with
// revisions, compare-and-swap writes and watches, shaped after etcd v3 so that
// the etcd backend is a thin translation and the in-memory backend (for unit
// tests of logic) behaves the same way. The conformance suite in storetest
// runs against every backend.
//
// Keys are etcd paths in Calico's layout (see keys.go); values are the JSON
// that Calico stores. Typed access (resources, IPAM objects) is layered on top
// in other packages.
package datastore

import (
	"context"
	"errors"
	"fmt"
)

// KV is one stored value. Revision is the store's modification revision of
// the key (etcd's ModRevision); CreateRevision is the revision it was created at.
type KV struct {
	Key            string
	Value          []byte
	Revision       int64
	CreateRevision int64
}

// EventType says what happened to a key in a watch.
type EventType int

const (
	// EventPut: the key was created or updated; KV holds the new value.
	EventPut EventType = iota + 1
	// EventDelete: the key was deleted; KV.Key is set, KV.Revision is the
	// revision of the delete (PrevValue holds the last value when the
	// watch asked for it, see WithPrevValues).
	EventDelete
	// EventError: the watch failed (Err says why: ErrCompacted, or the
	// backend's error); the channel is closed right after.
	EventError
)

// String returns "put", "delete" or "error".
func (t EventType) String() string {
	switch t {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventError:
		return "error"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change seen by a watch.
type Event struct {
	Type EventType
	KV   KV
	// PrevValue is the key's value before this change (nil when it did
	// not exist), and only in a watch made WithPrevValues: nil otherwise.
	PrevValue []byte
	Err       error
	// More says that more events the store delivered together (a
	// transaction's, say) follow at once: a handler may wait for the last
	// before acting on them. Stores that cannot tell leave it false.
	More bool
}

// WatchOption configures one Watch.
type WatchOption func(*WatchOptions)

// WatchOptions is what a Watch was asked for. Backends read it with
// WatchOptionsOf.
type WatchOptions struct {
	// PrevValues: each event carries the key's previous value. It costs
	// etcd a read of the previous revision per event per watcher (and the
	// Kubernetes backend a copy of every value watched), so a watch asks
	// for it only when it reads it.
	PrevValues bool
}

// WithPrevValues makes a watch's events carry PrevValue.
func WithPrevValues() WatchOption {
	return func(o *WatchOptions) { o.PrevValues = true }
}

// WatchOptionsOf is the options opts set.
func WatchOptionsOf(opts []WatchOption) WatchOptions {
	var o WatchOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// Store is the storage contract. All methods are safe for concurrent use.
type Store interface {
	// Get returns the key's value or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (KV, error)
	// List returns every key under prefix, sorted by key, and the store's
	// revision at which the listing was taken (to start a watch from).
	List(ctx context.Context, prefix string) ([]KV, int64, error)
	// ListKeys is List without the values (their Value is nil): cheap
	// when only the existence of keys matters.
	ListKeys(ctx context.Context, prefix string) ([]KV, int64, error)
	// Create writes the key only if it does not exist (ErrAlreadyExists
	// otherwise) and returns the new revision.
	Create(ctx context.Context, key string, value []byte) (int64, error)
	// Update writes the key only if its current revision equals rev
	// (ErrConflict otherwise; ErrNotFound if it does not exist). rev == 0
	// means: any revision, but the key must exist.
	Update(ctx context.Context, key string, value []byte, rev int64) (int64, error)
	// Delete removes the key if its current revision equals rev (rev == 0:
	// any revision) and returns the value it held. ErrNotFound, ErrConflict.
	Delete(ctx context.Context, key string, rev int64) (KV, error)
	// Watch streams changes of keys under prefix made after revision
	// afterRev, in revision order. If those revisions have been compacted,
	// it sends an EventError with ErrCompacted and closes. The channel is
	// closed when ctx ends. Events carry PrevValue only WithPrevValues.
	Watch(ctx context.Context, prefix string, afterRev int64, opts ...WatchOption) (<-chan Event, error)
	// Txn applies every op atomically at one new revision, or none of
	// them: when any op's condition fails it returns an error wrapping
	// ErrAlreadyExists, ErrNotFound or ErrConflict that names the key.
	// Keys must be distinct.
	Txn(ctx context.Context, ops ...Op) (int64, error)
	// Close releases the store's connections.
	Close() error
}

// OpType is the kind of write in a transaction.
type OpType int

const (
	// OpCreate writes a key that must not exist.
	OpCreate OpType = iota + 1
	// OpUpdate writes a key that must exist at Rev (any revision if 0).
	OpUpdate
	// OpDelete removes a key that must exist at Rev (any revision if 0).
	OpDelete
)

// Op is one conditional write of a transaction.
type Op struct {
	Type  OpType
	Key   string
	Value []byte
	Rev   int64
}

// Sentinel errors. Backends wrap them with the key: use errors.Is.
var (
	ErrNotFound      = errors.New("resource does not exist")
	ErrAlreadyExists = errors.New("resource already exists")
	ErrConflict      = errors.New("update conflict: the resource was changed by someone else")
	ErrCompacted     = errors.New("watch revision has been compacted")
)

// KeyError wraps a sentinel error with the key it concerns.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("%s: %v", e.Key, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

// keyErr is shorthand for backends.
func keyErr(key string, err error) error { return &KeyError{Key: key, Err: err} }

// NewKeyError is keyErr for backends in other packages.
func NewKeyError(key string, err error) error { return keyErr(key, err) }
