package datastore_test

import (
	"context"
	"errors"
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
