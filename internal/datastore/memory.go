package datastore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// errMemoryClosed is returned by a Memory after Close.
var errMemoryClosed = errors.New("memory datastore is closed")

// Memory is an in-memory Store for unit tests of logic built on the Store.
// It follows etcd's revision model: the store revision starts at 1 and every
// write adds 1; each key carries its create and modification revisions; every
// change is kept in a history that watches replay from, until Compact drops it.
// The history grows without bound unless Compact is called.
type Memory struct {
	mu        sync.Mutex
	rev       int64 // the store's current revision
	compacted int64 // history before this revision is gone (0: nothing compacted)
	data      map[string]KV
	history   []Event // every change, in revision order
	watchers  map[*memWatcher]struct{}
	closed    bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store at revision 1.
func NewMemory() *Memory {
	return &Memory{
		rev:      1,
		data:     make(map[string]KV),
		watchers: make(map[*memWatcher]struct{}),
	}
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return KV{}, fmt.Errorf("get %s: %w", key, errMemoryClosed)
	}
	kv, ok := m.data[key]
	if !ok {
		return KV{}, keyErr(key, ErrNotFound)
	}
	return cloneKV(kv), nil
}

// List implements Store.
func (m *Memory) List(_ context.Context, prefix string) ([]KV, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, 0, fmt.Errorf("list %s: %w", prefix, errMemoryClosed)
	}
	var kvs []KV
	for k, kv := range m.data {
		if strings.HasPrefix(k, prefix) {
			kvs = append(kvs, cloneKV(kv))
		}
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
	return kvs, m.rev, nil
}

// ListKeys implements Store.
func (m *Memory) ListKeys(ctx context.Context, prefix string) ([]KV, int64, error) {
	kvs, rev, err := m.List(ctx, prefix)
	for i := range kvs {
		kvs[i].Value = nil
	}
	return kvs, rev, err
}

// Create implements Store.
func (m *Memory) Create(_ context.Context, key string, value []byte) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, fmt.Errorf("create %s: %w", key, errMemoryClosed)
	}
	if _, ok := m.data[key]; ok {
		return 0, keyErr(key, ErrAlreadyExists)
	}
	m.rev++
	kv := KV{Key: key, Value: bytes.Clone(value), Revision: m.rev, CreateRevision: m.rev}
	m.data[key] = kv
	m.record(Event{Type: EventPut, KV: kv})
	return m.rev, nil
}

// Update implements Store.
func (m *Memory) Update(_ context.Context, key string, value []byte, rev int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, fmt.Errorf("update %s: %w", key, errMemoryClosed)
	}
	old, err := m.current(key, rev)
	if err != nil {
		return 0, err
	}
	m.rev++
	kv := KV{Key: key, Value: bytes.Clone(value), Revision: m.rev, CreateRevision: old.CreateRevision}
	m.data[key] = kv
	m.record(Event{Type: EventPut, KV: kv, PrevValue: old.Value})
	return m.rev, nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key string, rev int64) (KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return KV{}, fmt.Errorf("delete %s: %w", key, errMemoryClosed)
	}
	old, err := m.current(key, rev)
	if err != nil {
		return KV{}, err
	}
	m.rev++
	delete(m.data, key)
	m.record(Event{Type: EventDelete, KV: KV{Key: key, Revision: m.rev}, PrevValue: old.Value})
	return cloneKV(old), nil
}

// Txn implements Store.
func (m *Memory) Txn(_ context.Context, ops ...Op) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, fmt.Errorf("txn: %w", errMemoryClosed)
	}
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		if seen[op.Key] {
			return 0, fmt.Errorf("txn: duplicate key %s", op.Key)
		}
		seen[op.Key] = true
		var err error
		switch op.Type {
		case OpCreate:
			if _, ok := m.data[op.Key]; ok {
				err = keyErr(op.Key, ErrAlreadyExists)
			}
		case OpUpdate, OpDelete:
			_, err = m.current(op.Key, op.Rev)
		default:
			err = fmt.Errorf("txn %s: unknown op type %d", op.Key, op.Type)
		}
		if err != nil {
			return 0, err
		}
	}
	m.rev++
	for _, op := range ops {
		old, existed := m.data[op.Key]
		if op.Type == OpDelete {
			delete(m.data, op.Key)
			m.record(Event{Type: EventDelete, KV: KV{Key: op.Key, Revision: m.rev}, PrevValue: old.Value})
			continue
		}
		kv := KV{Key: op.Key, Value: bytes.Clone(op.Value), Revision: m.rev, CreateRevision: m.rev}
		var prev []byte
		if existed {
			kv.CreateRevision, prev = old.CreateRevision, old.Value
		}
		m.data[op.Key] = kv
		m.record(Event{Type: EventPut, KV: kv, PrevValue: prev})
	}
	return m.rev, nil
}

// current returns the key's value if it exists and (rev != 0) is at rev.
func (m *Memory) current(key string, rev int64) (KV, error) {
	kv, ok := m.data[key]
	switch {
	case !ok:
		return KV{}, keyErr(key, ErrNotFound)
	case rev != 0 && kv.Revision != rev:
		return KV{}, keyErr(key, ErrConflict)
	}
	return kv, nil
}

// record appends ev to the history and hands it to every watcher.
// Called with m.mu held.
func (m *Memory) record(ev Event) {
	m.history = append(m.history, ev)
	for w := range m.watchers {
		w.push(ev)
	}
}

// Watch implements Store. Each watch has its own unbounded queue drained by
// its own goroutine, so a slow reader never blocks writers.
func (m *Memory) Watch(ctx context.Context, prefix string, afterRev int64, opts ...WatchOption) (<-chan Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("watch %s: %w", prefix, errMemoryClosed)
	}
	w := &memWatcher{prefix: prefix, afterRev: afterRev, prev: WatchOptionsOf(opts).PrevValues, wake: make(chan struct{}, 1)}
	out := make(chan Event)
	if afterRev+1 < m.compacted {
		w.fail(fmt.Errorf("watch %s from revision %d (compacted at %d): %w",
			prefix, afterRev, m.compacted, ErrCompacted))
		go w.run(ctx, out)
		return out, nil
	}
	first := sort.Search(len(m.history), func(i int) bool { return m.history[i].KV.Revision > afterRev })
	for _, ev := range m.history[first:] {
		w.push(ev)
	}
	m.watchers[w] = struct{}{}
	go func() {
		w.run(ctx, out)
		m.mu.Lock()
		delete(m.watchers, w)
		m.mu.Unlock()
	}()
	return out, nil
}

// Compact drops the history before revision rev, as etcd's compaction does:
// afterwards a Watch that would need a revision below rev (afterRev+1 < rev)
// gets an EventError with ErrCompacted. Current values are unaffected.
// rev must not exceed the current revision, and must be above the revision
// of any earlier compaction (ErrCompacted otherwise).
func (m *Memory) Compact(rev int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case rev > m.rev:
		return fmt.Errorf("compact at %d: revision is in the future (current %d)", rev, m.rev)
	case rev <= m.compacted:
		return fmt.Errorf("compact at %d (already compacted at %d): %w", rev, m.compacted, ErrCompacted)
	}
	keep := sort.Search(len(m.history), func(i int) bool { return m.history[i].KV.Revision >= rev })
	m.history = append([]Event(nil), m.history[keep:]...)
	m.compacted = rev
	return nil
}

// Revision returns the store's current revision.
func (m *Memory) Revision() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev
}

// Close implements Store: every open watch gets an EventError and closes,
// and later calls fail.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	for w := range m.watchers {
		w.fail(errMemoryClosed)
	}
	clear(m.watchers)
	return nil
}

func cloneKV(kv KV) KV {
	kv.Value = bytes.Clone(kv.Value)
	return kv
}

// memWatcher is one Watch: writers push into its queue under the store's
// lock; its run goroutine delivers the queue to the reader.
type memWatcher struct {
	prefix   string
	afterRev int64
	prev     bool          // events carry PrevValue
	wake     chan struct{} // capacity 1: "the queue has news"

	mu    sync.Mutex
	queue []Event
	done  bool // a terminal EventError is queued; nothing follows it
}

// push queues ev if it concerns this watch.
func (w *memWatcher) push(ev Event) {
	if ev.KV.Revision <= w.afterRev || !strings.HasPrefix(ev.KV.Key, w.prefix) {
		return
	}
	ev.KV = cloneKV(ev.KV)
	if w.prev {
		ev.PrevValue = bytes.Clone(ev.PrevValue)
	} else {
		ev.PrevValue = nil
	}
	w.enqueue(ev, false)
}

// fail queues a final EventError.
func (w *memWatcher) fail(err error) {
	w.enqueue(Event{Type: EventError, Err: err}, true)
}

func (w *memWatcher) enqueue(ev Event, last bool) {
	w.mu.Lock()
	if !w.done {
		w.queue = append(w.queue, ev)
		w.done = last
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run delivers queued events to out until ctx ends or the terminal event
// has been delivered, then closes out.
func (w *memWatcher) run(ctx context.Context, out chan<- Event) {
	defer close(out)
	for {
		w.mu.Lock()
		batch, done := w.queue, w.done
		w.queue = nil
		w.mu.Unlock()
		for _, ev := range batch {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
		if done {
			return
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			return
		}
	}
}
