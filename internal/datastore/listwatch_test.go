package datastore_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/storetest"
)

// flakyStore fails its first failures Lists.
type flakyStore struct {
	datastore.Store
	failures int32
	lists    atomic.Int32
}

func (f *flakyStore) List(ctx context.Context, prefix string) ([]datastore.KV, int64, error) {
	if f.lists.Add(1) <= f.failures {
		return nil, 0, errors.New("datastore unavailable")
	}
	return f.Store.List(ctx, prefix)
}

func TestListWatchRetriesFailedList(t *testing.T) {
	m := datastore.NewMemory()
	defer m.Close()
	if _, err := m.Create(t.Context(), "/p/a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	s := &flakyStore{Store: m, failures: 3}
	rec := storetest.NewRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var interrupts atomic.Int32
	go func() {
		defer close(done)
		datastore.ListWatch(ctx, s, "/p/", rec, datastore.WithBackoff(time.Millisecond, 4*time.Millisecond),
			datastore.WithOnInterrupt(func(error) { interrupts.Add(1) }))
	}()

	if c := rec.Next(t); !c.Sync || len(c.KVs) != 1 || c.KVs[0].Key != "/p/a" {
		t.Fatalf("first call %+v, want OnSync with /p/a", c)
	}
	if n := s.lists.Load(); n != 4 {
		t.Fatalf("%d Lists before the first OnSync, want 4 (3 failures)", n)
	}
	if n := interrupts.Load(); n != 3 {
		t.Errorf("OnInterrupt called %d times, want once per failed List (3)", n)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(storetest.Timeout):
		t.Fatal("ListWatch did not return after its context ended")
	}
}

// brokenPager fails its first listing after the first page.
type brokenPager struct {
	datastore.Store
	calls atomic.Int32
}

func (b *brokenPager) ListPages(ctx context.Context, prefix string, size int, fn func([]datastore.KV) error) (int64, error) {
	first := b.calls.Add(1) == 1
	pages := 0
	return datastore.ListPages(ctx, b.Store, prefix, size, func(page []datastore.KV) error {
		if pages++; first && pages == 2 {
			return errors.New("connection lost")
		}
		return fn(page)
	})
}

// TestListWatchStreamRestartsAfterPartialList: a listing that fails
// part-way ends without OnSyncEnd; the next starts again with
// OnSyncBegin and delivers the whole snapshot.
func TestListWatchStreamRestartsAfterPartialList(t *testing.T) {
	m := datastore.NewMemory()
	defer m.Close()
	for _, k := range []string{"/p/a", "/p/b", "/p/c"} {
		if _, err := m.Create(t.Context(), k, []byte("1")); err != nil {
			t.Fatal(err)
		}
	}
	rec := storetest.NewStreamRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		datastore.ListWatch(ctx, &brokenPager{Store: m}, "/p/", rec, datastore.WithPageSize(1),
			datastore.WithBackoff(time.Millisecond, time.Millisecond))
	}()
	defer func() { cancel(); <-done }()
	var got []storetest.StreamCall
	var keys []string
	for len(got) == 0 || got[len(got)-1] != storetest.StreamEnd {
		c := rec.Next(t)
		got = append(got, c.Stream)
		for _, kv := range c.KVs {
			keys = append(keys, kv.Key)
		}
	}
	B, P, E := storetest.StreamBegin, storetest.StreamPage, storetest.StreamEnd
	if want := []storetest.StreamCall{B, P, B, P, P, P, E}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v (a partial snapshot, then a whole one)", got, want)
	}
	if want := []string{"/p/a", "/p/a", "/p/b", "/p/c"}; !slices.Equal(keys, want) {
		t.Errorf("pages held %v, want %v", keys, want)
	}
}
