package storetest

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// pagedFixture writes n keys <k>00.. under k and one sibling key outside
// it; it returns the keys' values.
func pagedFixture(o ops, k string, n int) map[string]string {
	want := map[string]string{}
	for i := range n {
		key, v := fmt.Sprintf("%s%02d", k, i), fmt.Sprintf("v%d", i)
		o.create(key, v)
		want[key] = v
	}
	o.create(k[:len(k)-1]+"-sibling", "not under the prefix")
	return want
}

// changeBetweenPages writes, under k, what a listing that already read
// its first page must not see: a new key, an update and a delete of keys
// on later pages. It returns the writes' effect on a view.
func changeBetweenPages(o ops, k string) map[string]*string {
	o.create(k+"99", "new")
	o.update(k+"05", "changed", 0)
	o.del(k+"06", 0)
	changed, added := "changed", "new"
	return map[string]*string{k + "99": &added, k + "05": &changed, k + "06": nil}
}

// testListPages: datastore.ListPages hands every key over, in key order,
// in pages of at most the size asked for, all as of the revision it
// returns: writes made between two pages are not in them, and a watch
// from that revision reports exactly those writes.
func testListPages(t *testing.T, h Harness, p string) {
	o := newOps(t, h.Store)
	k := p + "k/"
	want := pagedFixture(o, k, 7)
	var got []datastore.KV
	var later map[string]*string
	rev, err := datastore.ListPages(o.ctx, h.Store, k, 3, func(page []datastore.KV) error {
		if len(page) == 0 || len(page) > 3 {
			t.Errorf("page of %d keys, want 1 to 3", len(page))
		}
		if later == nil {
			later = changeBetweenPages(o, k)
		}
		got = append(got, page...)
		return nil
	})
	if err != nil {
		t.Fatalf("ListPages: %v", err)
	}
	seen := map[string]string{}
	for i, kv := range got {
		if i > 0 && got[i-1].Key >= kv.Key {
			t.Errorf("keys out of order: %s after %s", kv.Key, got[i-1].Key)
		}
		seen[kv.Key] = string(kv.Value)
	}
	if !maps.Equal(seen, want) {
		t.Fatalf("ListPages gave %v, want the state at its start %v", seen, want)
	}
	ch := o.watch(k, rev)
	for range len(later) {
		select {
		case ev := <-ch:
			v, ok := later[ev.KV.Key]
			switch {
			case !ok:
				t.Fatalf("watch from %d: unexpected %s %s", rev, ev.Type, ev.KV.Key)
			case v == nil && ev.Type != datastore.EventDelete, v != nil && (ev.Type != datastore.EventPut || string(ev.KV.Value) != *v):
				t.Fatalf("watch from %d: %s %s %q, want %v", rev, ev.Type, ev.KV.Key, ev.KV.Value, v)
			}
			delete(later, ev.KV.Key)
		case <-time.After(Timeout):
			t.Fatalf("watch from %d: writes between pages not reported: %v", rev, later)
		}
	}
}

// testListWatchStream: ListWatch streams its snapshot to a SyncStreamer
// (OnSyncBegin, pages no larger than WithPageSize, OnSyncEnd with the
// snapshot's revision) and then reports, as events, the writes made
// while it was being read.
func testListWatchStream(t *testing.T, h Harness, p string) {
	o := newOps(t, h.Store)
	k := p + "k/"
	want := pagedFixture(o, k, 7)
	rec := NewStreamRecorder()
	var later map[string]*string
	rec.Hook = func([]datastore.KV) {
		if later == nil {
			later = changeBetweenPages(o, k)
		}
	}
	ctx, stop := context.WithCancel(o.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		datastore.ListWatch(ctx, h.Store, k, rec, datastore.WithPageSize(2))
	}()
	defer func() { stop(); <-done }()

	if c := rec.Next(t); c.Stream != StreamBegin {
		t.Fatalf("first call %+v, want OnSyncBegin", c)
	}
	view := View{}
	for {
		c := rec.Next(t)
		if c.Stream == StreamEnd {
			break
		}
		if c.Stream != StreamPage || len(c.KVs) == 0 || len(c.KVs) > 2 {
			t.Fatalf("call %+v during the snapshot, want a page of 1 or 2 keys", c)
		}
		for _, kv := range c.KVs {
			view[kv.Key] = string(kv.Value)
		}
	}
	if !maps.Equal(view, View(want)) {
		t.Fatalf("streamed snapshot %v, want the state at its start %v", view, want)
	}
	for key, v := range later {
		if v == nil {
			delete(want, key)
		} else {
			want[key] = *v
		}
	}
	rec.WaitFor(t, view, want)
}
