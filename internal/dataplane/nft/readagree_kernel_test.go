package nft

import (
	"context"
	"reflect"
	"testing"

	"github.com/tortienet/tortie/internal/ns/nstest"
)

// readsAsLive checks, in node, that the table read in one nft run
// (tableSnapshot, parsed from real `nft -j -n list table` output) reads
// back as reading it object by object through knftables does: the same
// chains, rules' digests, sets and maps, and elements in canonical form.
func readsAsLive(t *testing.T, node *nstest.NS, w Wanted) {
	t.Helper()
	want, err := render(w, newRuns(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Do(func() error {
		real, err := NewNFTables()
		if err != nil {
			return err
		}
		ctx := context.Background()
		live, liveOK, liveErr := readFrom(ctx, liveReader{real}, want)
		r, ok, err := New(Config{NFT: real}).tableReader(ctx)
		if _, isSnap := r.(*tableSnapshot); err != nil || !ok || !isSnap {
			t.Fatalf("the kernel's table is not read in one run: %T %v %v", r, ok, err)
		}
		snap, snapOK, snapErr := readFrom(ctx, r, want)
		if liveErr != nil || snapErr != nil || liveOK != snapOK || !reflect.DeepEqual(live, snap) {
			t.Errorf("read in one run:\n%v %v %+v\nobject by object:\n%v %v %+v", snapOK, snapErr, snap, liveOK, liveErr, live)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A namespace without tortie's table: the one-run read says so (the table
// is then written whole).
func TestTableReadMissing(t *testing.T) {
	node := nstest.New(t, "trm")
	if err := node.Do(func() error {
		real, err := NewNFTables()
		if err != nil {
			return err
		}
		r, ok, err := New(Config{NFT: real}).tableReader(context.Background())
		if ok || err != nil || r != nil {
			t.Errorf("no table: %v %v %v, want not ok", r, ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
