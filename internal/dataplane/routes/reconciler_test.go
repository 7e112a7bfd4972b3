package routes

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/dataplane/links"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// rig is a reconciler over a Fake, with the links table the dataplane
// would own: apply begins a round, as each dataplane Apply does.
type rig struct {
	*Reconciler
	links *links.Table
}

func newRig(f *Fake, now func() time.Time) *rig {
	t := links.NewTable(f)
	return &rig{Reconciler: New(Config{Kernel: f, Links: t, Now: now}), links: t}
}

func (r *rig) Apply(ctx context.Context, want []calc.Route) (Result, error) {
	r.links.Begin()
	return r.Reconciler.Apply(ctx, want)
}

func newTest() (*Fake, *rig, *clock) {
	f := NewFake()
	f.Interfaces["eth0"] = Link{Index: 2, Up: true}
	f.Interfaces["vxlan.calico"] = Link{Index: 3, Up: true}
	f.Interfaces["cali0000000001"] = Link{Index: 10, Up: true}
	f.Interfaces["cali0000000002"] = Link{Index: 11, Up: false}
	c := &clock{t: time.Unix(1000, 0)}
	return f, newRig(f, c.now), c
}

// wanted is a typical node: a local block, a remote VXLAN block, a
// same-subnet remote block, and local workloads (one interface down, one
// missing).
func wanted() []calc.Route {
	return []calc.Route{
		{Dst: pfx("10.244.1.0/26"), Type: calc.Blackhole},
		{Dst: pfx("10.244.2.0/26"), Dev: "vxlan.calico", Gw: addr("10.244.2.1"), OnLink: true},
		{Dst: pfx("10.244.3.0/26"), Dev: "eth0", Gw: addr("192.168.0.3")},
		{Dst: pfx("10.244.1.5/32"), Dev: "cali0000000001", Workload: true},
		{Dst: pfx("10.244.1.6/32"), Dev: "cali0000000002", Workload: true},
		{Dst: pfx("10.244.1.7/32"), Dev: "cali0000000003", Workload: true},
	}
}

func TestApplyFromEmptyThenIdempotent(t *testing.T) {
	f, r, _ := newTest()
	res, err := r.Apply(context.Background(), wanted())
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 4 || res.Programmed != 4 || res.Skipped != 2 || res.Deleted != 0 {
		t.Fatalf("result = %+v, want 4 written/programmed, 2 skipped", res)
	}
	want := []string{
		"blackhole 10.244.1.0/26 proto 80",
		"10.244.2.0/26 via 10.244.2.1 ifindex 3 onlink proto 80",
		"10.244.3.0/26 via 192.168.0.3 ifindex 2 proto 80",
		"10.244.1.5/32 ifindex 10 scope link proto 80",
	}
	for i, w := range want {
		if got := f.Table[i].String(); got != w {
			t.Errorf("route %d = %q, want %q", i, got, w)
		}
	}
	f.Writes = nil
	res, err = r.Apply(context.Background(), wanted())
	if err != nil || len(f.Writes) != 0 || res.Programmed != 4 {
		t.Fatalf("second apply: writes %v, result %+v, err %v; want no writes", f.Writes, res, err)
	}
	// A restart is a new reconciler on the same table: still nothing to do.
	_, err = newRig(f, nil).Apply(context.Background(), wanted())
	if err != nil || len(f.Writes) != 0 {
		t.Fatalf("restart: writes %v, err %v; want none", f.Writes, err)
	}
}

// TestIPv6Routes: the first wanted IPv6 route makes the table be read
// back with its IPv6 routes; the CNI plugin's /128 is adopted, IPv6 routes
// are written with the kernel's default metric and no scope, and a second
// Apply (or a restart) writes nothing.
func TestIPv6Routes(t *testing.T) {
	f, r, _ := newTest()
	cni := Route{Dst: pfx("fd00:1::5/128"), Type: TypeUnicast, LinkIndex: 10, Priority: MetricIPv6, Protocol: conventions.ProtocolCNI}
	kernel := Route{Dst: pfx("fe80::/64"), Type: TypeUnicast, LinkIndex: 10, Priority: 256, Protocol: protocolKernel}
	f.Table = []Route{cni, kernel}
	if _, err := r.Apply(context.Background(), wanted()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Reads, []string{"links", "routes+v6"}) {
		t.Fatalf("the first apply read %v; want the IPv6 table read once", f.Reads)
	}
	f.Reads = nil
	r.Forget()
	if _, err := r.Apply(context.Background(), wanted()); err != nil || !slices.Equal(f.Reads, []string{"links", "routes"}) {
		t.Fatalf("an IPv4-only apply read %v (%v); want no IPv6 dump", f.Reads, err)
	}
	want := append(wanted(),
		calc.Route{Dst: pfx("fd00:1::/122"), Type: calc.Blackhole},
		calc.Route{Dst: pfx("fd00:1::5/128"), Dev: "cali0000000001", Workload: true},
		calc.Route{Dst: pfx("fd00:2::/122"), Dev: "eth0", Gw: addr("fd00:ff::3")})
	f.Reads, f.Writes = nil, nil
	res, err := r.Apply(context.Background(), want)
	if err != nil || !res.Read || res.Programmed != 7 {
		t.Fatalf("first IPv6 apply: %+v %v", res, err)
	}
	if !slices.Contains(f.Reads, "routes+v6") {
		t.Fatalf("reads %v; want the IPv6 table read", f.Reads)
	}
	wantWrites := []string{
		"add blackhole fd00:1::/122 proto 80 metric 1024",
		"add fd00:2::/122 via fd00:ff::3 ifindex 2 proto 80 metric 1024",
	}
	if !slices.Equal(f.Writes, wantWrites) {
		t.Fatalf("writes %q; want %q", f.Writes, wantWrites)
	}
	if !slices.Contains(f.Table, cni) || !slices.Contains(f.Table, kernel) {
		t.Fatalf("table %v: the CNI plugin's and the kernel's IPv6 routes must stay", f.Table)
	}
	f.Writes = nil
	if _, err := newRig(f, nil).Apply(context.Background(), want); err != nil || len(f.Writes) != 0 {
		t.Fatalf("restart: writes %v, err %v; want none", f.Writes, err)
	}
}

// A restart that wants no IPv6 route any more removes the IPv6 routes of
// ours a previous run left, once, and then reads IPv4 alone.
func TestStaleIPv6RoutesAfterRestart(t *testing.T) {
	f, r, _ := newTest()
	old := Route{Dst: pfx("fd00:1::40/122"), Type: TypeUnicast, LinkIndex: 2, Gw: addr("fd00:ff::2"), Priority: MetricIPv6, Protocol: conventions.ProtocolAgent}
	f.Table = []Route{old}
	if res, err := r.Apply(context.Background(), wanted()); err != nil || res.Deleted != 1 || slices.Contains(f.Table, old) {
		t.Fatalf("restart: %+v %v, table %v; want the stale IPv6 route deleted", res, err, f.Table)
	}
}

func TestAdoptsCNIAndWorkloadRoutes(t *testing.T) {
	f, r, _ := newTest()
	f.Table = []Route{
		{Dst: pfx("10.244.1.5/32"), Type: TypeUnicast, LinkIndex: 10, Scope: ScopeLink, Protocol: conventions.ProtocolCNI},
		{Dst: pfx("10.244.1.9/32"), Type: TypeUnicast, LinkIndex: 10, Scope: ScopeLink, Protocol: 3}, // Calico's CNI: proto boot
	}
	want := []calc.Route{
		{Dst: pfx("10.244.1.5/32"), Dev: "cali0000000001", Workload: true},
		{Dst: pfx("10.244.1.9/32"), Dev: "cali0000000001", Workload: true},
	}
	res, err := r.Apply(context.Background(), want)
	if err != nil || len(f.Writes) != 0 || res.Programmed != 2 {
		t.Fatalf("writes %v, result %+v, err %v; want the routes adopted as they are", f.Writes, res, err)
	}
}

func TestReplacesWhatDiffers(t *testing.T) {
	f, r, _ := newTest()
	f.Table = []Route{
		{Dst: pfx("10.244.2.0/26"), Type: TypeUnicast, LinkIndex: 3, Gw: addr("10.244.2.99"), OnLink: true, Protocol: conventions.ProtocolAgent},
		// The CNI's route, but on the wrong interface: replaced with ours.
		{Dst: pfx("10.244.1.5/32"), Type: TypeUnicast, LinkIndex: 11, Scope: ScopeLink, Protocol: conventions.ProtocolCNI},
	}
	want := []calc.Route{
		{Dst: pfx("10.244.2.0/26"), Dev: "vxlan.calico", Gw: addr("10.244.2.1"), OnLink: true},
		{Dst: pfx("10.244.1.5/32"), Dev: "cali0000000001", Workload: true},
	}
	res, err := r.Apply(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 2 || res.Deleted != 0 || len(f.Table) != 2 {
		t.Fatalf("result %+v, table %v", res, f.Table)
	}
	if f.Table[0].Gw != addr("10.244.2.1") || f.Table[1].LinkIndex != 10 || f.Table[1].Protocol != conventions.ProtocolAgent {
		t.Fatalf("table after replace: %v", f.Table)
	}
}

func TestDeletesStale(t *testing.T) {
	f, r, c := newTest()
	own := Route{Dst: pfx("10.244.9.0/26"), Type: TypeUnicast, LinkIndex: 3, Gw: addr("10.244.9.1"), OnLink: true, Protocol: conventions.ProtocolAgent}
	ownMetric := Route{Dst: pfx("10.244.1.0/26"), Priority: 1024, Type: TypeBlackhole, Protocol: conventions.ProtocolAgent}
	cni := Route{Dst: pfx("10.244.1.8/32"), Type: TypeUnicast, LinkIndex: 10, Scope: ScopeLink, Protocol: conventions.ProtocolCNI}
	f.Table = []Route{own, ownMetric, cni}
	want := []calc.Route{{Dst: pfx("10.244.1.0/26"), Type: calc.Blackhole}}

	res, err := r.Apply(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 2 || res.Written != 1 {
		t.Fatalf("result %+v; want our two stale routes deleted and the blackhole written", res)
	}
	if !contains(f.Table, cni) {
		t.Fatalf("the CNI's route went before its grace period: %v", f.Table)
	}
	c.t = c.t.Add(DefaultGracePeriod - time.Second)
	if res, _ := r.Apply(context.Background(), want); res.Deleted != 0 {
		t.Fatalf("deleted %d within the grace period", res.Deleted)
	}
	c.t = c.t.Add(time.Second)
	if res, _ := r.Apply(context.Background(), want); res.Deleted != 1 || contains(f.Table, cni) {
		t.Fatalf("after the grace period: result %+v, table %v", res, f.Table)
	}
}

func TestGraceRestartsWhenWantedAgain(t *testing.T) {
	f, r, c := newTest()
	cni := Route{Dst: pfx("10.244.1.8/32"), Type: TypeUnicast, LinkIndex: 10, Scope: ScopeLink, Protocol: conventions.ProtocolCNI}
	f.Table = []Route{cni}
	wantIt := []calc.Route{{Dst: pfx("10.244.1.8/32"), Dev: "cali0000000001", Workload: true}}
	_, _ = r.Apply(context.Background(), nil) // unwanted: grace starts
	c.t = c.t.Add(DefaultGracePeriod)
	_, _ = r.Apply(context.Background(), wantIt) // wanted: grace forgotten
	if res, _ := r.Apply(context.Background(), nil); res.Deleted != 0 {
		t.Fatal("an adopted route was deleted without a fresh grace period")
	}
}

func TestForeignRoutesLeftAlone(t *testing.T) {
	f, r, _ := newTest()
	bird := Route{Dst: pfx("10.244.2.0/26"), Type: TypeUnicast, LinkIndex: 2, Gw: addr("192.168.0.2"), Protocol: 12}
	other := Route{Dst: pfx("0.0.0.0/0"), Type: TypeUnicast, LinkIndex: 2, Gw: addr("192.168.0.1"), Protocol: 4}
	kernel := Route{Dst: pfx("192.168.0.0/24"), Type: TypeUnicast, LinkIndex: 2, Scope: ScopeLink, Protocol: protocolKernel}
	kernelCali := Route{Dst: pfx("169.254.0.0/16"), Type: TypeUnicast, LinkIndex: 10, Scope: ScopeLink, Protocol: protocolKernel}
	// Ours at the conflicting destination, but different: tortie stands back.
	oursThere := Route{Dst: pfx("10.244.2.0/26"), Priority: 5, Type: TypeUnicast, LinkIndex: 3, Gw: addr("10.244.2.9"), OnLink: true, Protocol: conventions.ProtocolAgent}
	f.Table = []Route{bird, other, kernel, kernelCali, oursThere}
	want := []calc.Route{{Dst: pfx("10.244.2.0/26"), Dev: "vxlan.calico", Gw: addr("10.244.2.1"), OnLink: true}}

	res, err := r.Apply(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conflicts) != 1 || res.Written != 0 || res.Programmed != 0 {
		t.Fatalf("result %+v; want one conflict and no write", res)
	}
	if !strings.Contains(res.Conflicts[0].String(), "proto 12") {
		t.Errorf("conflict %q does not name the foreign route", res.Conflicts[0])
	}
	for _, fr := range []Route{bird, other, kernel, kernelCali} {
		if !contains(f.Table, fr) {
			t.Errorf("foreign route %s was touched", fr)
		}
	}
	if contains(f.Table, oursThere) {
		t.Error("our own route at the conflicting destination was kept")
	}
}

func TestMissingDeviceAndFailedWrites(t *testing.T) {
	f, r, _ := newTest()
	f.Fail = func(op string, rt Route) error {
		if rt.Dst == pfx("10.244.3.0/26") {
			return errors.New("boom")
		}
		return nil
	}
	want := []calc.Route{
		{Dst: pfx("10.244.2.0/26"), Dev: "tunl0", Gw: addr("192.168.0.2"), OnLink: true},
		{Dst: pfx("10.244.3.0/26"), Dev: "eth0", Gw: addr("192.168.0.3")},
		{Dst: pfx("10.244.1.0/26"), Type: calc.Blackhole},
	}
	res, err := r.Apply(context.Background(), want)
	if err == nil || !strings.Contains(err.Error(), "interface tunl0 does not exist") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v; want both failures reported", err)
	}
	if res.Programmed != 1 || !contains(f.Table, Route{Dst: pfx("10.244.1.0/26"), Type: TypeBlackhole, Protocol: conventions.ProtocolAgent}) {
		t.Fatalf("the good route was not programmed past the failures: %+v %v", res, f.Table)
	}
}

func TestCanceledContextStops(t *testing.T) {
	f, r, _ := newTest()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Apply(ctx, wanted())
	if !errors.Is(err, context.Canceled) || len(f.Writes) != 0 {
		t.Fatalf("err %v, writes %v", err, f.Writes)
	}
}

func contains(rs []Route, r Route) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func TestIncrementalApply(t *testing.T) {
	f, r, _ := newTest()
	if _, err := r.Apply(context.Background(), wanted()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Reads, []string{"links", "routes+v6"}) {
		t.Fatalf("first apply read %v; want one dump of each", f.Reads)
	}
	// A new pod: its interface is looked up by name, its route added.
	f.Interfaces["cali0000000004"] = Link{Index: 12, Up: true}
	want := append(wanted(), calc.Route{Dst: pfx("10.244.1.8/32"), Dev: "cali0000000004", Workload: true})
	steps := []struct {
		name          string
		want          []calc.Route
		reads, writes []string
	}{
		{"new pod", want,
			// cali0000000002 is down and cali0000000003 missing: looked up again.
			[]string{"link cali0000000002", "link cali0000000003", "link cali0000000004"},
			[]string{"add 10.244.1.8/32 ifindex 12 scope link proto 80"}},
		{"same again", want, []string{"link cali0000000002", "link cali0000000003"}, nil},
		{"pod gone", wanted(), []string{"link cali0000000002", "link cali0000000003"},
			[]string{"delete 10.244.1.8/32 ifindex 12 scope link proto 80"}},
	}
	for _, s := range steps {
		f.Reads, f.Writes = nil, nil
		res, err := r.Apply(context.Background(), s.want)
		if err != nil || res.Read {
			t.Fatalf("%s: %+v %v", s.name, res, err)
		}
		if !slices.Equal(f.Reads, s.reads) || !slices.Equal(f.Writes, s.writes) {
			t.Errorf("%s: reads %q writes %q; want reads %q writes %q", s.name, f.Reads, f.Writes, s.reads, s.writes)
		}
	}
	// With every interface there, a repeat Apply makes no kernel call.
	want = want[:4]
	if _, err := r.Apply(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	f.Reads, f.Writes = nil, nil
	if _, err := r.Apply(context.Background(), want); err != nil || len(f.Reads)+len(f.Writes) != 0 {
		t.Fatalf("repeat: reads %v writes %v err %v; want no kernel call", f.Reads, f.Writes, err)
	}
}

func TestIncrementalAdoptsCNIRoute(t *testing.T) {
	f, r, _ := newTest()
	if _, err := r.Apply(context.Background(), wanted()); err != nil {
		t.Fatal(err)
	}
	// The CNI plugin wires a pod behind the reconciler's back.
	f.Interfaces["cali0000000004"] = Link{Index: 12, Up: true}
	cni := Route{Dst: pfx("10.244.1.8/32"), Type: TypeUnicast, LinkIndex: 12, Scope: ScopeLink, Protocol: conventions.ProtocolCNI}
	f.Table = append(f.Table, cni)
	f.Reads, f.Writes = nil, nil
	res, err := r.Apply(context.Background(), append(wanted(), calc.Route{Dst: pfx("10.244.1.8/32"), Dev: "cali0000000004", Workload: true}))
	if err != nil || res.Written != 0 || res.Programmed != 5 || !res.Read {
		t.Fatalf("%+v %v", res, err)
	}
	if !slices.Equal(f.Writes, []string{"add 10.244.1.8/32 ifindex 12 scope link proto 80"}) || !slices.Contains(f.Reads, "routes") || slices.Contains(f.Reads, "links") {
		t.Fatalf("reads %v writes %v; want the failed add, then the table (not the interfaces) read back", f.Reads, f.Writes)
	}
	if !contains(f.Table, cni) {
		t.Fatalf("the CNI's route was rewritten: %v", f.Table)
	}
}

func TestIncrementalInterfaceGone(t *testing.T) {
	f, r, _ := newTest()
	if _, err := r.Apply(context.Background(), wanted()); err != nil {
		t.Fatal(err)
	}
	// The interface is recreated between its lookup and the write.
	f.Interfaces["cali0000000004"] = Link{Index: 12, Up: true}
	f.Fail = func(op string, rt Route) error {
		if rt.LinkIndex == 12 {
			f.Interfaces["cali0000000004"] = Link{Index: 13, Up: true}
			return ErrNoDevice
		}
		return nil
	}
	f.Reads, f.Writes = nil, nil
	res, err := r.Apply(context.Background(), append(wanted(), calc.Route{Dst: pfx("10.244.1.8/32"), Dev: "cali0000000004", Workload: true}))
	if err != nil || res.Written != 1 {
		t.Fatalf("%+v %v, writes %v", res, err, f.Writes)
	}
	if !contains(f.Table, Route{Dst: pfx("10.244.1.8/32"), Type: TypeUnicast, LinkIndex: 13, Scope: ScopeLink, Protocol: conventions.ProtocolAgent}) {
		t.Fatalf("route not on the new interface: %v", f.Table)
	}
	if n := strings.Count(strings.Join(f.Reads, ","), "link cali0000000004"); n != 2 {
		t.Fatalf("reads %v; want the interface looked up again", f.Reads)
	}
}

func TestFailedWriteReadsNextTime(t *testing.T) {
	f, r, _ := newTest()
	if _, err := r.Apply(context.Background(), wanted()); err != nil {
		t.Fatal(err)
	}
	f.Fail = func(string, Route) error { return errors.New("boom") }
	want := append(wanted(), calc.Route{Dst: pfx("10.244.4.0/26"), Dev: "eth0", Gw: addr("192.168.0.4")})
	if _, err := r.Apply(context.Background(), want); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
	f.Fail, f.Reads, f.Writes = nil, nil, nil
	res, err := r.Apply(context.Background(), want)
	if err != nil || !res.Read || res.Written != 1 {
		t.Fatalf("after a failure: %+v %v", res, err)
	}
	if f.Reads[0] != "links" || f.Reads[1] != "routes" {
		t.Fatalf("reads %v; want a full read", f.Reads)
	}
}
