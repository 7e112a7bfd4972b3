package datastore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		m := datastore.NewMemory()
		t.Cleanup(func() { m.Close() })
		return storetest.Harness{
			Store:   m,
			Compact: func(_ context.Context, rev int64) error { return m.Compact(rev) },
		}
	})
}

// A watcher nobody reads must not hold up writers.
func TestMemorySlowWatcherDoesNotBlockWriters(t *testing.T) {
	m := datastore.NewMemory()
	defer m.Close()
	ch, err := m.Watch(t.Context(), "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10000 {
			if _, err := m.Create(t.Context(), fmt.Sprintf("/k%d", i), nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(storetest.Timeout):
		t.Fatal("writers blocked by a watcher that is not read")
	}
	if ev := <-ch; ev.KV.Key != "/k0" {
		t.Fatalf("first event %+v, want /k0", ev)
	}
}

func TestMemoryCloseEndsWatches(t *testing.T) {
	m := datastore.NewMemory()
	ch, err := m.Watch(t.Context(), "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	ev, ok := <-ch
	if !ok || ev.Type != datastore.EventError {
		t.Fatalf("after Close got %+v (open %v), want an EventError", ev, ok)
	}
	if _, ok := <-ch; ok {
		t.Fatal("watch channel still open after Close's EventError")
	}
	if _, err := m.Get(t.Context(), "/k"); err == nil || errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("Get after Close: %v, want a closed-store error", err)
	}
}

func TestMemoryCompactBounds(t *testing.T) {
	m := datastore.NewMemory()
	rev, _ := m.Create(t.Context(), "/k", nil)
	if err := m.Compact(rev + 1); err == nil {
		t.Fatal("compaction in the future succeeded")
	}
	if err := m.Compact(rev); err != nil {
		t.Fatal(err)
	}
	if err := m.Compact(rev); !errors.Is(err, datastore.ErrCompacted) {
		t.Fatalf("second compaction at %d: %v, want ErrCompacted", rev, err)
	}
}
