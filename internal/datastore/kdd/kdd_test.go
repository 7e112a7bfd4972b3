package kdd_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/datastore/kdd/kastest"
	"github.com/tortienet/tortie/internal/datastore/storetest"
)

var cluster *kastest.Cluster

func TestMain(m *testing.M) { os.Exit(kastest.Main(m, &cluster)) }

// open returns a Store as the administrator, its own keys in "default".
func open(t *testing.T) *kdd.Store {
	t.Helper()
	kastest.Need(t, cluster)
	s, err := cluster.Store("default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the Store suite against a real kube-apiserver.
func TestConformance(t *testing.T) {
	kastest.Need(t, cluster)
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		return storetest.Harness{
			Store:            open(t),
			Compact:          func(ctx context.Context, rev int64) error { return cluster.Compact(ctx, rev) },
			NoCreateRevision: true,
			SequentialTxn:    true,
		}
	})
}

// TestConformanceWatchCache runs the suite against an apiserver with its
// watch cache on, as in production: lists at a resourceVersion and
// watches are served from the cache, with bookmarks. (It keeps old
// revisions in memory, so the compaction tests do not apply.)
func TestConformanceWatchCache(t *testing.T) {
	kastest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, err := kastest.StartWith(ctx, kastest.Options{WatchCache: true})
	if err == nil {
		err = c.InstallCRDs(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		s, err := c.Store("default")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return storetest.Harness{Store: s, NoCreateRevision: true, SequentialTxn: true}
	})
}
