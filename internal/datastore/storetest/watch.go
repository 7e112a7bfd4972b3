package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// testWatchReplay watches from a past revision: the changes made after it
// are replayed in order (deletes included, siblings excluded), then live
// changes follow. With prev, the watch asks for previous values and every
// event carries the right one; without, none carries any.
func testWatchReplay(prev bool) func(t *testing.T, h Harness, p string) {
	return func(t *testing.T, h Harness, p string) {
		watchReplay(t, h, p, prev)
	}
}

func watchReplay(t *testing.T, h Harness, p string, prev bool) {
	o := newOps(t, h.Store)
	from := o.create(p+"before", "x")
	r1 := o.create(p+"w/a", "a1")
	o.create(p+"sibling", "s")
	r2 := o.update(p+"w/a", "a2", r1)
	r3 := o.create(p+"w/b", "b1")
	o.del(p+"w/a", 0) // returns the old value, not the delete's revision

	var ch <-chan datastore.Event
	if prev {
		ch = o.watch(p+"w/", from, datastore.WithPrevValues())
	} else {
		ch = o.watch(p+"w/", from)
	}
	want := func(ev datastore.Event, typ datastore.EventType, key, value, prevValue string, rev int64) {
		t.Helper()
		wantEvent(t, ev, typ, key, value, prevOf(prev, prevValue), rev)
		if !prev && ev.PrevValue != nil {
			t.Fatalf("event %+v carries previous value %q; the watch did not ask for it", ev, ev.PrevValue)
		}
	}
	want(nextEvent(t, ch), datastore.EventPut, p+"w/a", "a1", "", r1)
	want(nextEvent(t, ch), datastore.EventPut, p+"w/a", "a2", "a1", r2)
	want(nextEvent(t, ch), datastore.EventPut, p+"w/b", "b1", "", r3)
	ev := nextEvent(t, ch)
	want(ev, datastore.EventDelete, p+"w/a", "", "a2", ev.KV.Revision)
	if ev.KV.Revision <= r3 {
		t.Fatalf("delete event at revision %d, not after the previous event's %d", ev.KV.Revision, r3)
	}

	r5 := o.create(p+"w/c", "c1")
	ev = nextEvent(t, ch)
	want(ev, datastore.EventPut, p+"w/c", "c1", "", r5)
	if want := r5; ev.KV.CreateRevision != want && !(h.NoCreateRevision && ev.KV.CreateRevision == 0) {
		t.Fatalf("live event create revision %d, want %d", ev.KV.CreateRevision, r5)
	}
}

// testWatchCancel: ending the context closes the channel.
func testWatchCancel(t *testing.T, h Harness, p string) {
	o := newOps(t, h.Store)
	_, rev, err := h.Store.List(o.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(o.ctx)
	ch, err := h.Store.Watch(ctx, p, rev)
	if err != nil {
		t.Fatal(err)
	}
	o.create(p+"k", "v")
	nextEvent(t, ch)
	cancel()
	waitClosed(t, ch)
}

// testWatchCompacted: a watch from before the compaction point fails with
// ErrCompacted and closes; one from the compaction point works.
func testWatchCompacted(t *testing.T, h Harness, p string) {
	if h.Compact == nil {
		t.Skip("the backend cannot compact on demand")
	}
	o := newOps(t, h.Store)
	from := o.create(p+"a", "1")
	o.update(p+"a", "2", 0)
	o.create(p+"b", "1")
	rev := o.update(p+"a", "3", 0)
	if err := h.Compact(o.ctx, rev); err != nil {
		t.Fatalf("compact at %d: %v", rev, err)
	}

	ch := o.watch(p, from)
	ev := nextEvent(t, ch)
	if ev.Type != datastore.EventError || !errors.Is(ev.Err, datastore.ErrCompacted) {
		t.Fatalf("watch from compacted revision %d: got %+v, want EventError wrapping ErrCompacted", from, ev)
	}
	waitClosed(t, ch)

	ch = o.watch(p, rev)
	r := o.create(p+"c", "1")
	wantEvent(t, nextEvent(t, ch), datastore.EventPut, p+"c", "1", "", r)
}

// nextEvent returns the next event from ch, failing on close or timeout.
func nextEvent(t *testing.T, ch <-chan datastore.Event) datastore.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed, want an event")
		}
		return ev
	case <-time.After(Timeout):
		t.Fatalf("no watch event within %v", Timeout)
	}
	return datastore.Event{}
}

// waitClosed fails unless ch closes within Timeout (draining it).
func waitClosed(t *testing.T, ch <-chan datastore.Event) {
	t.Helper()
	deadline := time.After(Timeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("watch channel not closed within %v", Timeout)
		}
	}
}

// prevOf is the previous value an event of a watch that asked for
// previous values (prev) or not carries: want, or none.
func prevOf(prev bool, want string) string {
	if prev {
		return want
	}
	return ""
}

func wantEvent(t *testing.T, ev datastore.Event, typ datastore.EventType, key, value, prev string, rev int64) {
	t.Helper()
	if ev.Type != typ || ev.KV.Key != key || ev.KV.Revision != rev ||
		(typ == datastore.EventPut && string(ev.KV.Value) != value) || !bytes.Equal(ev.PrevValue, []byte(prev)) {
		t.Fatalf("got event %+v (value %q, prev %q), want type %d key %s value %q prev %q rev %d",
			ev, ev.KV.Value, ev.PrevValue, typ, key, value, prev, rev)
	}
}
