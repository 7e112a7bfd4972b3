package dataplane

import (
	"slices"
	"testing"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
)

// TestApplyDeltaEqualsApply: a remote block added and one removed, as a
// delta, leave the kernel as Apply of the whole state does, with only the
// route writes; a delta that is not routes alone is an Apply.
func TestApplyDeltaEqualsApply(t *testing.T) {
	dd, fd := newFaked(t)
	df, ff := newFaked(t)
	want := desired()
	delta := calc.Delta{Full: true}
	if _, err := dd.ApplyDelta(ctx, want, delta); err != nil { // the first: an Apply
		t.Fatal(err)
	}
	if _, err := df.Apply(ctx, want); err != nil {
		t.Fatal(err)
	}
	// The first Apply defers the sysctl checks; the second does them.
	if st, err := dd.Apply(ctx, want); err != nil || st.SysctlDeferred > 0 {
		t.Fatalf("second Apply: %+v, %v", st, err)
	}
	add := calc.Route{Dst: pfx("10.244.3.0/26"), Dev: conventions.VXLANDevice, Gw: addr("10.244.2.0"), OnLink: true}
	borrowed := calc.Route{Dst: pfx("10.244.1.9/32"), Dev: conventions.VXLANDevice, Gw: addr("10.244.2.0"), OnLink: true}
	next := want
	next.Routes = append(slices.Clone(want.Routes[:1]), want.Routes[2], add, borrowed)
	delta = calc.Delta{AddedRoutes: []calc.Route{add, borrowed}, RemovedRoutes: []calc.Route{want.Routes[1]}}
	fd.routes.Reads, fd.linklayer.Reads = nil, nil
	st, err := dd.ApplyDelta(ctx, next, delta)
	if err != nil {
		t.Fatal(err)
	}
	if len(fd.routes.Reads)+len(fd.linklayer.Reads) > 1 { // one: the tunnel device's lookup
		t.Fatalf("the delta read more than the written routes' interface: %v %v", fd.routes.Reads, fd.linklayer.Reads)
	}
	full, err := df.Apply(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if got, exp := fd.routes.Text(), ff.routes.Text(); got != exp {
		t.Fatalf("after the delta:\n%s\nafter Apply:\n%s", got, exp)
	}
	if st.Routes != full.Routes || st.Changes != 3 || st.Devices != full.Devices || st.NATPools != full.NATPools {
		t.Fatalf("delta stats %+v, Apply's %+v", st, full)
	}
	// A workload's route is not a delta: Apply (the sysctls and all).
	next2 := next
	next2.Routes = slices.DeleteFunc(slices.Clone(next.Routes), func(r calc.Route) bool { return r.Workload })
	if !dd.deltaUsable(next, calc.Delta{AddedRoutes: []calc.Route{add}}) {
		t.Fatal("a remote route change should be a usable delta")
	}
	wl := calc.Delta{RemovedRoutes: []calc.Route{want.Routes[2]}}
	if dd.deltaUsable(next2, wl) || dd.deltaUsable(next, calc.Delta{NAT: true}) {
		t.Fatal("a workload route or NAT change was taken as a delta")
	}
	if _, err := dd.ApplyDelta(ctx, next2, wl); err != nil {
		t.Fatal(err)
	}
	if _, err := df.Apply(ctx, next2); err != nil {
		t.Fatal(err)
	}
	if got, exp := fd.routes.Text(), ff.routes.Text(); got != exp {
		t.Fatalf("after the fallback:\n%s\nafter Apply:\n%s", got, exp)
	}
}
