package kdd_test

import (
	"context"
	"os"
	"testing"

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
