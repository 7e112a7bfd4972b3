// Package storetest is the conformance suite every datastore.Store backend
// must pass: the same tests run against the in-memory store and etcd, so
// logic tested on one behaves the same on the other.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/tortienet/tortie/internal/datastore"
)

// Harness is one backend under test.
type Harness struct {
	Store datastore.Store
	// Compact compacts the backend's history before revision rev, as etcd
	// does: a later Watch with afterRev+1 < rev fails with ErrCompacted.
	// Nil when the backend cannot be made to forget on demand (Kubernetes
	// with its watch cache serves old revisions from memory): the tests
	// that need it are skipped.
	Compact func(ctx context.Context, rev int64) error
	// NoCreateRevision: the backend does not know the revision a key was
	// created at (Kubernetes keeps none): KV.CreateRevision must be 0.
	NoCreateRevision bool
	// SequentialTxn: Txn checks every condition first and is
	// all-or-nothing when it returns, but applies its ops one by one (the
	// Kubernetes datastore has no multi-object transaction), so the keys
	// get distinct revisions; it returns the highest.
	SequentialTxn bool
}

// Run runs the suite. newHarness is called once per subtest; it may return
// a fresh store or share one between subtests (subtests run one after the
// other and each works under its own unique key prefix), and is responsible
// for closing what it creates (t.Cleanup).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness, prefix string)
	}{
		{"GetMissing", testGetMissing},
		{"CreateGet", testCreateGet},
		{"CreateTwice", testCreateTwice},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"ListPrefix", testListPrefix},
		{"CASRace", testCASRace},
		{"WatchReplay", testWatchReplay(true)},
		{"WatchReplayNoPrev", testWatchReplay(false)},
		{"WatchCancel", testWatchCancel},
		{"WatchCompacted", testWatchCompacted},
		{"ListWatch", testListWatch(false)},
		{"ListWatchPrev", testListWatch(true)},
		{"Txn", testTxn},
		{"ListPages", testListPages},
		{"ListWatchStream", testListWatchStream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newHarness(t), "/storetest/"+uuid.NewString()+"/")
		})
	}
}

// ctxFor returns a context for one test's operations, bounded by Timeout.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// ops runs Store calls for a test, failing it on any error.
type ops struct {
	t   *testing.T
	ctx context.Context
	s   datastore.Store
}

func newOps(t *testing.T, s datastore.Store) ops { return ops{t: t, ctx: ctxFor(t), s: s} }

func (o ops) check(what, key string, err error) {
	o.t.Helper()
	if err != nil {
		o.t.Fatalf("%s %s: %v", what, key, err)
	}
}

func (o ops) create(key, value string) int64 {
	o.t.Helper()
	rev, err := o.s.Create(o.ctx, key, []byte(value))
	o.check("create", key, err)
	return rev
}

func (o ops) update(key, value string, rev int64) int64 {
	o.t.Helper()
	rev, err := o.s.Update(o.ctx, key, []byte(value), rev)
	o.check("update", key, err)
	return rev
}

func (o ops) del(key string, rev int64) datastore.KV {
	o.t.Helper()
	kv, err := o.s.Delete(o.ctx, key, rev)
	o.check("delete", key, err)
	return kv
}

func (o ops) get(key string) datastore.KV {
	o.t.Helper()
	kv, err := o.s.Get(o.ctx, key)
	o.check("get", key, err)
	return kv
}

func (o ops) watch(prefix string, afterRev int64, opts ...datastore.WatchOption) <-chan datastore.Event {
	o.t.Helper()
	ch, err := o.s.Watch(o.ctx, prefix, afterRev, opts...)
	o.check("watch", prefix, err)
	return ch
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func wantKV(t *testing.T, h Harness, got datastore.KV, key, value string, rev, createRev int64) {
	t.Helper()
	if h.NoCreateRevision {
		createRev = 0
	}
	if got.Key != key || string(got.Value) != value || got.Revision != rev || got.CreateRevision != createRev {
		t.Fatalf("got KV{%s %q rev %d create %d}, want KV{%s %q rev %d create %d}",
			got.Key, got.Value, got.Revision, got.CreateRevision, key, value, rev, createRev)
	}
}

func testGetMissing(t *testing.T, h Harness, p string) {
	_, err := h.Store.Get(ctxFor(t), p+"missing")
	wantErr(t, "get missing key", err, datastore.ErrNotFound)
}

func testCreateGet(t *testing.T, h Harness, p string) {
	o := newOps(t, h.Store)
	rev := o.create(p+"k", "v1")
	wantKV(t, h, o.get(p+"k"), p+"k", "v1", rev, rev)
	rev2 := o.create(p+"k2", "v2")
	if rev2 <= rev {
		t.Fatalf("second create got revision %d, not above the first's %d", rev2, rev)
	}
}

func testCreateTwice(t *testing.T, h Harness, p string) {
	o := newOps(t, h.Store)
	ctx := o.ctx
	rev := o.create(p+"k", "v1")
	_, err := h.Store.Create(ctx, p+"k", []byte("v2"))
	wantErr(t, "second create", err, datastore.ErrAlreadyExists)
	wantKV(t, h, o.get(p+"k"), p+"k", "v1", rev, rev)
}

func testUpdate(t *testing.T, h Harness, p string) {
	o := newOps(t, h.Store)
	ctx, s, k := o.ctx, h.Store, p+"k"
	rev1 := o.create(k, "v1")
	rev2 := o.update(k, "v2", rev1)
	if rev2 <= rev1 {
		t.Fatalf("update got revision %d, not above %d", rev2, rev1)
	}
	wantKV(t, h, o.get(k), k, "v2", rev2, rev1)

	_, err := s.Update(ctx, k, []byte("stale"), rev1)
	wantErr(t, "update at a stale revision", err, datastore.ErrConflict)
	_, err = s.Update(ctx, p+"missing", []byte("x"), 0)
	wantErr(t, "update missing key, rev 0", err, datastore.ErrNotFound)
	_, err = s.Update(ctx, p+"missing", []byte("x"), rev2)
	wantErr(t, "update missing key, rev set", err, datastore.ErrNotFound)

	rev3 := o.update(k, "v3", 0)
	wantKV(t, h, o.get(k), k, "v3", rev3, rev1)
}

func testDelete(t *testing.T, h Harness, p string) {
	o := newOps(t, h.Store)
	ctx, s, k := o.ctx, h.Store, p+"k"
	rev1 := o.create(k, "v1")
	rev2 := o.update(k, "v2", 0)

	_, err := s.Delete(ctx, k, rev1)
	wantErr(t, "delete at a stale revision", err, datastore.ErrConflict)
	wantKV(t, h, o.del(k, rev2), k, "v2", rev2, rev1)
	_, err = s.Get(ctx, k)
	wantErr(t, "get deleted key", err, datastore.ErrNotFound)

	rev3 := o.create(k, "v3")
	wantKV(t, h, o.del(k, 0), k, "v3", rev3, rev3)
	_, err = s.Delete(ctx, k, 0)
	wantErr(t, "delete missing key, rev 0", err, datastore.ErrNotFound)
	_, err = s.Delete(ctx, k, rev3)
	wantErr(t, "delete missing key, rev set", err, datastore.ErrNotFound)
}

func testListPrefix(t *testing.T, h Harness, p string) {
	o := newOps(t, h.Store)
	ctx, s := o.ctx, h.Store
	revs := map[string]int64{}
	var last int64
	for _, k := range []string{"a/b/2", "a/bc/1", "a/b/1", "a/b", "a/b/3/deep"} {
		last = o.create(p+k, "v:"+k)
		revs[k] = last
	}
	kvs, rev, err := s.List(ctx, p+"a/b/")
	if err != nil {
		t.Fatal(err)
	}
	if rev < last {
		t.Fatalf("list revision %d is below the last write's %d", rev, last)
	}
	want := []string{"a/b/1", "a/b/2", "a/b/3/deep"}
	if len(kvs) != len(want) {
		t.Fatalf("list %sa/b/ returned %d keys (%v), want %v", p, len(kvs), kvs, want)
	}
	for i, k := range want {
		wantKV(t, h, kvs[i], p+k, "v:"+k, revs[k], revs[k])
	}
	keys, _, err := s.ListKeys(ctx, p+"a/b/")
	if err != nil || len(keys) != len(want) {
		t.Fatalf("list keys %sa/b/: %v (%v), want %v", p, keys, err, want)
	}
	for i, k := range want {
		if keys[i].Key != p+k || keys[i].Value != nil || keys[i].Revision != revs[k] {
			t.Errorf("list keys [%d] = %+v, want key %s, no value, revision %d", i, keys[i], p+k, revs[k])
		}
	}
	kvs, _, err = s.List(ctx, p+"nothing/")
	if err != nil || len(kvs) != 0 {
		t.Fatalf("list of an empty prefix: %v, %v; want nothing, no error", kvs, err)
	}
}

// testCASRace has workers increment one counter with read-modify-write
// loops; compare-and-swap must not lose an update.
func testCASRace(t *testing.T, h Harness, p string) {
	const workers, increments = 4, 15
	o := newOps(t, h.Store)
	ctx, s, k := o.ctx, h.Store, p+"counter"
	o.create(k, "0")
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range increments {
				if err := increment(ctx, s, k); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := string(o.get(k).Value); got != strconv.Itoa(workers*increments) {
		t.Fatalf("counter is %s after %d increments", got, workers*increments)
	}
}

func increment(ctx context.Context, s datastore.Store, k string) error {
	for {
		kv, err := s.Get(ctx, k)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(kv.Value))
		if err != nil {
			return fmt.Errorf("counter %s: %w", k, err)
		}
		_, err = s.Update(ctx, k, []byte(strconv.Itoa(n+1)), kv.Revision)
		if !errors.Is(err, datastore.ErrConflict) {
			return err
		}
	}
}
