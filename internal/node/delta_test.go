package node

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane"
)

// deltaDataplane records whether each write was an Apply or an ApplyDelta.
type deltaDataplane struct {
	fakeDataplane
	calls []string
}

func (f *deltaDataplane) Apply(ctx context.Context, d calc.Desired) (dataplane.Stats, error) {
	f.calls = append(f.calls, "apply")
	return f.fakeDataplane.Apply(ctx, d)
}

func (f *deltaDataplane) ApplyDelta(ctx context.Context, d calc.Desired, delta calc.Delta) (dataplane.Stats, error) {
	f.calls = append(f.calls, "delta")
	return f.fakeDataplane.Apply(ctx, d)
}

// TestDeltaPassedOnlyAfterAnApply: the Engine's delta reaches the
// dataplane only when the last Apply wrote all and it is the one change
// since; two takes' deltas, or none applied before, mean an Apply.
func TestDeltaPassedOnlyAfterAnApply(t *testing.T) {
	f := &deltaDataplane{}
	a := New(Config{NodeName: "n1", StateDir: t.TempDir()}, Kernel{Dataplane: f}, slog.New(slog.DiscardHandler))
	route := calc.Route{Dst: netip.MustParsePrefix("10.244.2.0/26"), Type: calc.Blackhole}
	one := calc.Delta{AddedRoutes: []calc.Route{route}}
	ctx := context.Background()
	apply := func(p pending) {
		if err := a.applyDesired(ctx, calc.Desired{PodMTU: 1440}, a.deltaOf(p, false), nil, false, time.Now(), 1); err != nil {
			t.Fatal(err)
		}
	}
	var p pending
	p.add(taken{delta: one})
	apply(p) // nothing applied before
	p = pending{}
	p.add(taken{delta: one})
	apply(p) // one change after a good Apply
	p = pending{}
	p.add(taken{delta: one})
	p.add(taken{delta: one})
	apply(p) // two takes: the first's delta is not in the second
	if a.deltaOf(pending{deltas: 1}, true) != nil {
		t.Fatal("a full sync was given a delta")
	}
	want := []string{"apply", "delta", "apply"}
	if len(f.calls) != len(want) || f.calls[0] != want[0] || f.calls[1] != want[1] || f.calls[2] != want[2] {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
}
