package node

import (
	"context"
	"time"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane"
)

// applyMode is what a sync writes to the dataplane.
type applyMode int

const (
	// applyNothing: nothing the dataplane holds changed since a clean sync.
	applyNothing applyMode = iota
	// applyDelta: the one pending delta (possibly empty, when only the
	// policy program was rebuilt), on top of a clean sync; the dataplane
	// may refuse it, and then it is applyFull.
	applyDelta
	// applyFull: the whole desired state (Dataplane.Apply).
	applyFull
	// applyResync: the whole state, the kernel read afresh (Resync).
	applyResync
)

func (m applyMode) String() string {
	return [...]string{"nothing", "delta", "full", "resync"}[m]
}

// syncState is what the agent remembers between syncs to choose the
// next one's applyMode: what changed since the last sync that applied,
// and whether that sync was clean.
type syncState struct {
	pend pending
	// clean says that the last sync did all it was asked: the dataplane
	// wrote everything (nothing skipped or deferred) and the tunnel
	// addresses are in place. Until one is, every sync is full.
	clean bool
}

// pending accumulates what the view reported changed.
type pending struct {
	policy, remote, bgp, tunnel bool
	// deltas counts the takes whose delta changed the dataplane; with one,
	// delta is it.
	deltas int
	delta  calc.Delta
}

func (p *pending) add(t taken) {
	if t.delta.Dataplane() {
		p.deltas++
		p.delta = t.delta
	}
	p.policy = p.policy || t.dirt.policy
	p.remote = p.remote || t.dirt.remote
	p.bgp = p.bgp || t.dirt.bgp || t.delta.BGP
	p.tunnel = p.tunnel || t.delta.Tunnel
}

// mode is the applyMode of the next sync: resync when asked; full after a
// sync that was not clean, when deltas of two takes are pending (the
// first is not in the second), or with a BGP speaker and no delta of the
// Engine's (syncBGP turns a delta into the change of the routes installed,
// learned ones included); a delta when one changed the
// dataplane or the policy program is to be rebuilt (the dataplane takes
// an unchanged program with an empty delta at no cost); nothing
// otherwise. BGP work without a speaker, or a tunnel change alone, write
// nothing to the dataplane.
func (s *syncState) mode(resync, rebuildPolicy, speaker bool) applyMode {
	p := s.pend
	switch {
	case resync:
		return applyResync
	case !s.clean || p.deltas > 1:
		return applyFull
	case speaker && p.deltas == 0 && (rebuildPolicy || p.bgp):
		return applyFull
	case p.deltas == 1 || rebuildPolicy:
		return applyDelta
	default:
		return applyNothing
	}
}

// deltaApplier is a Dataplane that can apply a known change in
// proportion to it (dataplane.Dataplane.TryDelta): without writing
// anything, it says when it cannot.
type deltaApplier interface {
	TryDelta(ctx context.Context, d calc.Desired, delta calc.Delta) (st dataplane.Stats, ok bool, err error)
}

// tryDelta applies delta on top of the last apply and reports it as
// applyDesired does; d may be without its lists. took is false (nothing
// written, nothing reported) when the dataplane cannot take the delta.
func (a *Agent) tryDelta(ctx context.Context, d calc.Desired, delta calc.Delta, waiting []string, start time.Time, rev int64) (took bool, err error) {
	da, ok := a.k.Dataplane.(deltaApplier)
	if !ok {
		return false, nil
	}
	a.reportProblems(d.Problems)
	stats, took, err := da.TryDelta(ctx, d, delta)
	if !took {
		return false, nil
	}
	return true, a.applied(d, stats, err, waiting, start, rev)
}

// applyDesired writes d to the kernel (Resync when full re-reads it first;
// a delta when delta, non-nil, is the change since the last Apply and
// the dataplane can take it) and reports the outcome in the log, metrics
// and health; waiting names what else keeps the node from being ready.
func (a *Agent) applyDesired(ctx context.Context, d calc.Desired, delta *calc.Delta, waiting []string, full bool, start time.Time, rev int64) error {
	if err := a.writeMTU(d.PodMTU); err != nil {
		return err
	}
	if delta != nil && !full {
		if took, err := a.tryDelta(ctx, d, *delta, waiting, start, rev); took {
			return err
		}
	}
	a.reportProblems(d.Problems)
	apply := a.k.Dataplane.Apply
	if full {
		apply = a.k.Dataplane.Resync
	}
	stats, err := apply(ctx, d)
	return a.applied(d, stats, err, waiting, start, rev)
}

// applied records the outcome of a write to the dataplane.
func (a *Agent) applied(d calc.Desired, stats dataplane.Stats, err error, waiting []string, start time.Time, rev int64) error {
	a.sync.clean = err == nil && stats.RoutesSkipped == 0 && stats.SysctlDeferred == 0
	a.m.applySeconds.Observe(time.Since(start).Seconds())
	a.m.record(stats)
	for _, c := range stats.Conflicts {
		a.log.Warn("route left alone: another owner holds its destination", "conflict", c)
	}
	a.health.setReady(err == nil && len(waiting) == 0, append(d.Problems, waiting...), err)
	if err != nil {
		a.m.errors.WithLabelValues("dataplane").Inc()
		return err
	}
	a.m.inSync.Set(1)
	a.released.Do(releaseMemory)
	if hook := a.onApplied; hook != nil {
		hook(rev)
	}
	return nil
}
