package routes

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/tortienet/tortie/internal/calc"
)

// diff is the change from old to new, as the Engine's Flush reports it.
func diff(old, new []calc.Route) (added, removed []calc.Route) {
	for _, n := range new {
		if !slices.Contains(old, n) {
			added = append(added, n)
		}
	}
	for _, o := range old {
		if !slices.Contains(new, o) {
			removed = append(removed, o)
		}
	}
	return added, removed
}

// randomRemote is a random set of remote routes: blocks over the tunnel,
// borrowed /32s, blackholes.
func randomRemote(rng *rand.Rand) []calc.Route {
	var out []calc.Route
	for i := range 40 {
		if rng.IntN(2) == 0 {
			continue
		}
		switch rng.IntN(3) {
		case 0:
			gw := netip.AddrFrom4([4]byte{10, 244, byte(i), byte(1 + rng.IntN(2))})
			out = append(out, calc.Route{Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, byte(i), 0}), 26),
				Dev: "vxlan.calico", Gw: gw, OnLink: true})
		case 1:
			out = append(out, calc.Route{Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 245, 0, byte(i)}), 32),
				Dev: "eth0", Gw: netip.AddrFrom4([4]byte{192, 168, 0, byte(1 + rng.IntN(3))})})
		default:
			out = append(out, calc.Route{Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 246, byte(i), 0}), 26),
				Type: calc.Blackhole})
		}
	}
	return out
}

// TestDeltaEqualsFullApply drives two kernels through the same random
// changes, one with ApplyDelta (Apply when it says the delta is unusable),
// the other with Apply: they must hold the same routes after each step.
func TestDeltaEqualsFullApply(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 3))
	fd, rd, _ := newTest()
	ff, rf, _ := newTest()
	var last []calc.Route
	deltas := 0
	for step := range 200 {
		want := randomRemote(rng)
		added, removed := diff(last, want)
		res, err := rd.ApplyDelta(ctx, added, removed)
		if step == 0 {
			if !errors.Is(err, ErrDeltaUnusable) {
				t.Fatalf("first ApplyDelta: %v, want ErrDeltaUnusable", err)
			}
		}
		if errors.Is(err, ErrDeltaUnusable) {
			res, err = rd.Apply(ctx, want)
		} else {
			deltas++
		}
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		full, err := rf.Apply(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		if got, exp := fd.Text(), ff.Text(); got != exp {
			t.Fatalf("step %d: delta kernel\n%s\nfull kernel\n%s", step, got, exp)
		}
		if res.Programmed != full.Programmed {
			t.Fatalf("step %d: Programmed %d, full Apply %d", step, res.Programmed, full.Programmed)
		}
		last = want
	}
	if deltas < 190 {
		t.Fatalf("only %d of 200 steps applied as a delta", deltas)
	}
}

// TestDeltaUnusableWritesNothing: a change meeting a foreign route, or
// one after a failed write, is refused whole.
func TestDeltaUnusableWritesNothing(t *testing.T) {
	ctx := context.Background()
	f, r, _ := newTest()
	base := []calc.Route{{Dst: pfx("10.244.2.0/26"), Dev: "vxlan.calico", Gw: addr("10.244.2.1"), OnLink: true}}
	if _, err := r.Apply(ctx, base); err != nil {
		t.Fatal(err)
	}
	foreign := Route{Dst: pfx("10.244.9.0/26"), Type: TypeUnicast, Protocol: 3, Scope: ScopeLink, LinkIndex: 2}
	if err := f.AddRoute(foreign); err != nil {
		t.Fatal(err)
	}
	r.Forget()
	if _, err := r.Apply(ctx, base); err != nil {
		t.Fatal(err)
	}
	before := f.Text()
	add := []calc.Route{
		{Dst: pfx("10.244.3.0/26"), Dev: "vxlan.calico", Gw: addr("10.244.3.1"), OnLink: true},
		{Dst: pfx("10.244.9.0/26"), Dev: "eth0"},
	}
	if _, err := r.ApplyDelta(ctx, add, nil); !errors.Is(err, ErrDeltaUnusable) {
		t.Fatalf("delta meeting a foreign route: %v, want ErrDeltaUnusable", err)
	}
	if got := f.Text(); got != before {
		t.Fatalf("refused delta wrote:\n%s\nwas\n%s", got, before)
	}
}

// TestDeltaNoLookup: a delta makes no read, the interfaces taken as last
// read; when one has gone since (recreated with another index), the write
// fails, ApplyDelta says the delta is unusable, and the Apply after it
// reads back and writes the route on the new interface.
func TestDeltaNoLookup(t *testing.T) {
	ctx := context.Background()
	f, r, _ := newTest()
	block := func(i byte) calc.Route {
		return calc.Route{Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, i, 0}), 26), Dev: "vxlan.calico",
			Gw: netip.AddrFrom4([4]byte{10, 244, i, 1}), OnLink: true}
	}
	want := []calc.Route{block(2)}
	if _, err := r.Apply(ctx, want); err != nil {
		t.Fatal(err)
	}
	f.Reads = nil
	if res, err := r.ApplyDelta(ctx, []calc.Route{block(3)}, nil); err != nil || res.Written != 1 || len(f.Reads) != 0 {
		t.Fatalf("delta: %+v %v, reads %v; want one write, no read", res, err, f.Reads)
	}
	want = append(want, block(3))
	f.Interfaces["vxlan.calico"] = Link{Index: 33, Up: true} // recreated: the kernel dropped its routes
	f.Table = slices.DeleteFunc(f.Table, func(rt Route) bool { return rt.LinkIndex == 3 })
	if _, err := r.ApplyDelta(ctx, []calc.Route{block(4)}, nil); !errors.Is(err, ErrDeltaUnusable) || !errors.Is(err, ErrNoDevice) {
		t.Fatalf("delta on a vanished interface: %v; want ErrDeltaUnusable and ErrNoDevice", err)
	}
	want = append(want, block(4))
	res, err := r.Apply(ctx, want)
	if err != nil || !res.Read || res.Written != 3 || res.Programmed != 3 {
		t.Fatalf("apply after it: %+v %v; want the table read back and the 3 routes written", res, err)
	}
	for _, rt := range f.Table {
		if rt.LinkIndex != 33 {
			t.Errorf("route on the old interface: %s", rt)
		}
	}
}
