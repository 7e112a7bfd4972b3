package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// gatedStore wraps a Store so that a test controls each Watch: every call
// is announced on calls and waits for its release; the test can later cut
// the returned channel, as a dropped connection would.
type gatedStore struct {
	datastore.Store
	calls chan *gatedWatch
}

type gatedWatch struct {
	afterRev int64
	release  chan struct{} // closed by the test: go on with the real Watch
	cut      chan struct{} // closed by the test: close the returned channel
}

func (g *gatedStore) Watch(ctx context.Context, prefix string, afterRev int64, opts ...datastore.WatchOption) (<-chan datastore.Event, error) {
	w := &gatedWatch{afterRev: afterRev, release: make(chan struct{}), cut: make(chan struct{})}
	select {
	case g.calls <- w:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-w.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	in, err := g.Store.Watch(ctx, prefix, afterRev, opts...)
	if err != nil {
		return nil, err
	}
	out := make(chan datastore.Event)
	go func() {
		defer close(out)
		for {
			select {
			case ev, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-w.cut:
					return
				case <-ctx.Done():
					return
				}
			case <-w.cut:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (g *gatedStore) nextWatch(t *testing.T) *gatedWatch {
	t.Helper()
	select {
	case w := <-g.calls:
		return w
	case <-time.After(Timeout):
		t.Fatalf("ListWatch did not call Watch within %v", Timeout)
		return nil
	}
}

// testListWatch: an initial snapshot, then events; after the watch channel
// is cut (a lost connection) and, while ListWatch resyncs, the history it
// would resume from is compacted away, a fresh snapshot with the current
// state; then events again.
// With prev, ListWatch asks for previous values (WithWatchOptions) and
// its events carry them; without, they carry none.
func testListWatch(prev bool) func(t *testing.T, h Harness, p string) {
	return func(t *testing.T, h Harness, p string) {
		listWatch(t, h, p, prev)
	}
}

func listWatch(t *testing.T, h Harness, p string, prev bool) {
	if h.Compact == nil {
		t.Skip("the backend cannot compact on demand")
	}
	o := newOps(t, h.Store)
	ctx, s, k := o.ctx, h.Store, p+"k/"
	o.create(k+"a", "a1")
	o.create(k+"b", "b1")
	o.create(p+"k-sibling", "not under the prefix")

	g := &gatedStore{Store: s, calls: make(chan *gatedWatch)}
	rec := NewRecorder()
	lwCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		opts := []datastore.ListWatchOption{datastore.WithBackoff(time.Millisecond, 10*time.Millisecond)}
		if prev {
			opts = append(opts, datastore.WithWatchOptions(datastore.WithPrevValues()))
		}
		datastore.ListWatch(lwCtx, g, k, rec, opts...)
	}()
	defer func() {
		stop()
		select {
		case <-done:
		case <-time.After(Timeout):
			t.Errorf("ListWatch did not return within %v of its context ending", Timeout)
		}
	}()

	// Initial snapshot, then events.
	w1 := g.nextWatch(t)
	close(w1.release)
	c := rec.Next(t)
	if !c.Sync || len(c.KVs) != 2 || c.KVs[0].Key != k+"a" || c.KVs[1].Key != k+"b" {
		t.Fatalf("first handler call %+v, want OnSync with %sa and %sb", c, k, k)
	}
	view := View{}
	view.Apply(c)
	ra2 := o.update(k+"a", "a2", 0)
	c = rec.Next(t)
	wantEvent(t, c.Event, datastore.EventPut, k+"a", "a2", prevOf(prev, "a1"), ra2)
	view.Apply(c)
	o.del(k+"b", 0)
	c = rec.Next(t)
	wantEvent(t, c.Event, datastore.EventDelete, k+"b", "", prevOf(prev, "b1"), c.Event.KV.Revision)
	if !prev && c.Event.PrevValue != nil {
		t.Fatalf("event %+v carries previous value %q; ListWatch did not ask for it", c.Event, c.Event.PrevValue)
	}
	view.Apply(c)

	// Cut the watch; hold ListWatch's next Watch while the state changes
	// and the revisions it would resume from are compacted.
	close(w1.cut)
	w2 := g.nextWatch(t)
	o.create(k+"c", "c1")
	last := o.update(k+"a", "a3", 0)
	if err := h.Compact(ctx, last); err != nil {
		t.Fatalf("compact at %d: %v", last, err)
	}
	close(w2.release)             // this watch fails: its start is compacted
	close(g.nextWatch(t).release) // the resync's watch
	calls := rec.WaitFor(t, view, map[string]string{k + "a": "a3", k + "c": "c1"})
	for _, c := range calls {
		if !c.Sync {
			t.Fatalf("after the cut, got event %+v; want only snapshots (the resumed watch was compacted)", c.Event)
		}
	}

	// Live again.
	rd := o.create(k+"d", "d1")
	wantEvent(t, rec.Next(t).Event, datastore.EventPut, k+"d", "d1", "", rd)
}
