package storetest

import (
	"errors"
	"testing"

	"github.com/tortienet/tortie/internal/datastore"
)

// testTxn: all ops of a transaction apply at one revision, or none do, and
// the error names the key whose condition failed.
func testTxn(t *testing.T, h Harness, prefix string) {
	o := newOps(t, h.Store)
	a, b, c := prefix+"a", prefix+"b", prefix+"c"
	revA := o.create(a, "a1")
	o.create(c, "c1")

	rev, err := h.Store.Txn(o.ctx,
		datastore.Op{Type: datastore.OpUpdate, Key: a, Value: []byte("a2"), Rev: revA},
		datastore.Op{Type: datastore.OpCreate, Key: b, Value: []byte("b1")},
		datastore.Op{Type: datastore.OpDelete, Key: c},
	)
	if err != nil {
		t.Fatalf("txn: %v", err)
	}
	for key, want := range map[string]string{a: "a2", b: "b1"} {
		kv, err := h.Store.Get(o.ctx, key)
		badRev := kv.Revision != rev
		if h.SequentialTxn {
			badRev = kv.Revision > rev
		}
		if err != nil || string(kv.Value) != want || badRev {
			t.Errorf("after txn %s = %q at %d (%v), want %q at %d", key, kv.Value, kv.Revision, err, want, rev)
		}
	}
	if _, err := h.Store.Get(o.ctx, c); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("deleted key %s: err = %v, want ErrNotFound", c, err)
	}

	failures := []struct {
		name string
		ops  []datastore.Op
		want error
	}{
		{"stale update", []datastore.Op{
			{Type: datastore.OpCreate, Key: c, Value: []byte("c2")},
			{Type: datastore.OpUpdate, Key: a, Value: []byte("a3"), Rev: revA},
		}, datastore.ErrConflict},
		{"create existing", []datastore.Op{
			{Type: datastore.OpCreate, Key: c, Value: []byte("c2")},
			{Type: datastore.OpCreate, Key: b, Value: []byte("b2")},
		}, datastore.ErrAlreadyExists},
		{"delete missing", []datastore.Op{
			{Type: datastore.OpCreate, Key: c, Value: []byte("c2")},
			{Type: datastore.OpDelete, Key: prefix + "missing"},
		}, datastore.ErrNotFound},
	}
	for _, f := range failures {
		_, err := h.Store.Txn(o.ctx, f.ops...)
		if !errors.Is(err, f.want) {
			t.Errorf("%s: err = %v, want %v", f.name, err, f.want)
		}
		var ke *datastore.KeyError
		if !errors.As(err, &ke) || ke.Key != f.ops[1].Key {
			t.Errorf("%s: error %v does not name key %s", f.name, err, f.ops[1].Key)
		}
		if _, err := h.Store.Get(o.ctx, c); !errors.Is(err, datastore.ErrNotFound) {
			t.Errorf("%s: a failed txn wrote %s", f.name, c)
		}
	}
}
