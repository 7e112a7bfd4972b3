package links

import (
	"fmt"
	"slices"
	"testing"
)

// fake is an in-memory Kernel logging its reads.
type fake struct {
	links map[string]Link
	reads []string
}

func (f *fake) Links() ([]Link, error) {
	f.reads = append(f.reads, "links")
	var out []Link
	for n, l := range f.links {
		l.Name = n
		out = append(out, l)
	}
	return out, nil
}

func (f *fake) LinkByName(name string) (Link, bool, error) {
	f.reads = append(f.reads, "link "+name)
	l, ok := f.links[name]
	return l, ok, nil
}

func TestTable(t *testing.T) {
	f := &fake{links: map[string]Link{"eth0": {Index: 2, Up: true}, "cali1": {Index: 10}}}
	tb := NewTable(f)
	tb.Begin()
	for range 2 {
		if err := tb.Dump(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Refresh([]string{"eth0", "cali1"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.reads, []string{"links"}) {
		t.Fatalf("round 1 read %v; want one dump", f.reads)
	}
	if l, ok := tb.Get("eth0"); !ok || l.Index != 2 || !l.Up || tb.Name(10) != "cali1" {
		t.Fatalf("eth0 = %+v %v, name of 10 = %q", l, ok, tb.Name(10))
	}

	// A new round: interfaces change; only the names asked for are read,
	// each once.
	f.reads = nil
	delete(f.links, "cali1")
	f.links["cali1"] = Link{Index: 11, Up: true}
	f.links["cali2"] = Link{Index: 12, Up: true}
	tb.Begin()
	v := tb.Version()
	for range 2 {
		if err := tb.Refresh([]string{"cali1", "cali2", "cali3", "cali1"}); err != nil {
			t.Fatal(err)
		}
	}
	if tb.Version() == v {
		t.Fatal("the version did not change")
	}
	if want := []string{"link cali1", "link cali2", "link cali3"}; !slices.Equal(f.reads, want) {
		t.Fatalf("round 2 read %v, want %v", f.reads, want)
	}
	if l, _ := tb.Get("cali1"); l.Index != 11 || tb.Name(10) != "" || tb.Name(12) != "cali2" {
		t.Fatalf("after refresh: cali1 %+v, names %q %q", l, tb.Name(10), tb.Name(12))
	}
	if _, ok := tb.Get("cali3"); ok {
		t.Fatal("cali3 exists")
	}
	// Invalidate: read again in the same round.
	f.reads = nil
	v = tb.Version()
	tb.Invalidate([]string{"cali2"})
	if err := tb.Refresh([]string{"cali1", "cali2"}); err != nil || !slices.Equal(f.reads, []string{"link cali2"}) {
		t.Fatalf("after Invalidate: %v, reads %v", err, f.reads)
	}
	if tb.Version() != v {
		t.Fatal("the version changed, but cali2 did not")
	}

	// Too many names: one dump instead, and no more in this round.
	f.reads = nil
	var many []string
	for i := range MaxLookups + 1 {
		many = append(many, fmt.Sprintf("cali%d", 100+i))
	}
	tb.Begin()
	if err := tb.Refresh(many); err != nil {
		t.Fatal(err)
	}
	tb.Invalidate([]string{"cali1"})
	if err := tb.Refresh(many); err != nil {
		t.Fatal(err)
	}
	if err := tb.Dump(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"links"}; !slices.Equal(f.reads, want) || tb.Dumps != 2 {
		t.Fatalf("many names: read %v, %d dumps", f.reads, tb.Dumps)
	}
}
