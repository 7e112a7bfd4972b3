package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tortienet/tortie/internal/bgp"
	"github.com/tortienet/tortie/internal/bgp/bgpstatus"
	"github.com/tortienet/tortie/internal/calc"
)

// StartSpeaker starts a BGP speaker (bgp.Start in production, a fake in
// tests).
type StartSpeaker func(ctx context.Context, g bgp.Global, log *slog.Logger) (bgp.Speaker, error)

// bgpSyncTimeout bounds how long a restarted agent keeps the datastore's
// routes for the pools BGP owns while waiting for every peer's End-of-RIB.
const bgpSyncTimeout = 30 * time.Second

// speakerRunner keeps the node's speaker in step with calc.BGP.
type speakerRunner struct {
	start      StartSpeaker
	secretsDir string
	log        *slog.Logger

	mu      sync.Mutex
	sp      bgp.Speaker
	global  bgp.Global
	started time.Time
	fast    map[netip.Addr]bool // calc's FastPath of the last apply
	// complete latches once the speaker has learned everything after its
	// start: a session that drops later does not bring the datastore's
	// routes back for every pool.
	complete bool
	wake     chan struct{} // the speaker's changes, and the end of the grace
	stopWake chan struct{}
}

// apply makes the speaker hold d: started, restarted when its global
// settings change, stopped when BGP is off; peers and routes applied as a
// difference.
func (r *speakerRunner) apply(ctx context.Context, d calc.BGPDesired) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fast = map[netip.Addr]bool{}
	for _, a := range d.FastPath {
		r.fast[a] = true
	}
	if !d.Enabled {
		r.stopLocked()
		return nil
	}
	g := bgp.Global{ASN: d.ASN, RouterID: d.RouterID, ListenPort: d.ListenPort, ListenAddresses: d.ListenAddresses,
		IPv6: d.IPv6Address.IsValid()}
	if r.sp != nil && fmt.Sprint(g) != fmt.Sprint(r.global) {
		r.log.Info("BGP global settings changed: restarting the speaker", "asn", g.ASN, "routerID", g.RouterID, "port", g.ListenPort)
		r.stopLocked()
	}
	if r.sp == nil {
		sp, err := r.start(ctx, g, r.log.With("component", "bgp"))
		if err != nil {
			return err
		}
		r.sp, r.global, r.started, r.complete = sp, g, time.Now(), false
		r.wake, r.stopWake = make(chan struct{}, 1), make(chan struct{})
		go forwardChanges(sp.Changed(), r.wake, r.stopWake)
	}
	routes := make([]bgp.Route, 0, len(d.Routes))
	for _, rt := range d.Routes {
		nh := d.RouterID
		if rt.Prefix.Addr().Is6() {
			nh = d.IPv6Address
		}
		routes = append(routes, bgp.Route{Prefix: rt.Prefix, NextHop: nh, LocalPref: rt.LocalPref,
			Communities: rt.Communities, LargeCommunities: rt.LargeCommunities})
	}
	peers := make([]bgp.Peer, 0, len(d.Peers))
	var errs []error
	for _, p := range d.Peers {
		bp, err := r.peer(p)
		if err != nil {
			errs = append(errs, err)
		}
		peers = append(peers, bp)
	}
	if err := r.sp.SetRoutes(ctx, routes); err != nil {
		errs = append(errs, err)
	}
	if err := r.sp.SetPeers(ctx, peers); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// forwardChanges passes the speaker's change notifications on, and one
// more when the restart grace (bgpSyncTimeout) ends, so that the learned
// routes take over then even if no peer sends anything.
func forwardChanges(from <-chan struct{}, to chan struct{}, stop <-chan struct{}) {
	grace := time.NewTimer(bgpSyncTimeout)
	defer grace.Stop()
	for {
		select {
		case <-stop:
			return
		case <-from:
		case <-grace.C:
		}
		select {
		case to <- struct{}{}:
		default:
		}
	}
}

func (r *speakerRunner) stopLocked() {
	if r.stopWake != nil {
		close(r.stopWake)
		r.stopWake, r.wake = nil, nil
	}
	if r.sp != nil {
		if err := r.sp.Close(); err != nil {
			r.log.Warn("stopping the BGP speaker", "error", err)
		}
		r.sp = nil
	}
}

// peer is the speaker's form of a calc peer, with its password read.
func (r *speakerRunner) peer(p calc.BGPPeer) (bgp.Peer, error) {
	bp := bgp.Peer{Name: p.Name, Address: p.Address, Port: p.Port, ASN: p.ASN, LocalASN: p.LocalASN,
		SourceAddress: p.SourceAddress, Passive: p.Passive, RestartTime: p.RestartTime,
		KeepaliveTime: p.KeepaliveTime, RRClient: p.RRClient, RRClusterID: p.RRClusterID,
		TTLSecurity: p.TTLSecurity, Multihop: true,
		Import: filterRules(p.Import), Export: filterRules(p.Export),
		NextHopKeep: p.NextHopKeep, NextHopSelf: p.NextHopSelf}
	if p.KeepaliveTime > 0 {
		bp.HoldTime = 3 * p.KeepaliveTime
	}
	if p.Password == nil {
		return bp, nil
	}
	pw, err := r.password(p.Password.Name, p.Password.Key)
	if err != nil {
		// Without its password the session could only fail: hold it
		// with a password nobody has, so that it shows in node status.
		bp.Password = "\x00unreadable"
		return bp, fmt.Errorf("BGP peer %s: password: %w", p.Name, err)
	}
	bp.Password = pw
	return bp, nil
}

func filterRules(rs []calc.BGPFilterRule) []bgp.FilterRule {
	var out []bgp.FilterRule
	for _, r := range rs {
		fr := bgp.FilterRule{Invert: r.Invert, Accept: r.Accept, LocalPref: r.LocalPref}
		switch r.Source {
		case calc.BGPSourceLocal:
			fr.Source = bgp.SourceLocal
		case calc.BGPSourceRemote:
			fr.Source = bgp.SourceRemote
		}
		for _, p := range r.Prefixes {
			fr.Prefixes = append(fr.Prefixes, bgp.PrefixRange{Prefix: p.Prefix, Min: p.Min, Max: p.Max})
		}
		out = append(out, fr)
	}
	return out
}

// password reads secretKeyRef {name, key} in etcd mode: the file
// <secrets dir>/<name>/<key>, as a Secret volume lays it out.
func (r *speakerRunner) password(name, key string) (string, error) {
	if r.secretsDir == "" {
		return "", fmt.Errorf("secret %s key %s: no secrets directory is configured (TORTIE_BGP_SECRETS_DIR)", name, key)
	}
	if strings.Contains(name, "/") || strings.Contains(key, "/") {
		return "", fmt.Errorf("secret %q key %q: a name with a slash", name, key)
	}
	b, err := os.ReadFile(filepath.Join(r.secretsDir, name, key))
	if err != nil {
		return "", fmt.Errorf("secret %s key %s: %w", name, key, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// speakerState is one reading of the speaker, for a sync: what it
// learned, whether that is complete (every peer has sent End-of-RIB, or
// the restart grace has run out, once since the speaker started), the
// Established sessions whose blocks the datastore may stand in for
// (calc's FastPath), and the sessions that keep the node from being
// ready. One reading takes the sessions' status once, and covers every
// change the speaker signalled before it: it consumes the signal, so a
// sync of a datastore change that reads the speaker is not followed by
// another for the learned routes it already installed (as when node 1's
// announcement of a block arrives while the datastore's event of it is
// being synced).
type speakerState struct {
	learned     []calc.LearnedRoute
	complete    bool
	established []netip.Addr
	waiting     []string
}

func (r *speakerRunner) state() speakerState {
	r.mu.Lock()
	sp, started, done, fast, wake := r.sp, r.started, r.complete, r.fast, r.wake
	r.mu.Unlock()
	select {
	case <-wake: // what it signalled is read below (nil: no speaker)
	default:
	}
	if sp == nil {
		return speakerState{complete: true}
	}
	peers := sp.Status()
	st := speakerState{complete: done || time.Since(started) > bgpSyncTimeout}
	if !st.complete {
		st.complete = true
		for _, s := range peers {
			st.complete = st.complete && s.EndOfRIB
		}
	}
	if st.complete && !done {
		r.mu.Lock()
		if r.sp == sp {
			r.complete = true
		}
		r.mu.Unlock()
	}
	for _, s := range peers {
		if s.State == bgp.StateEstablished && fast[s.Address] {
			st.established = append(st.established, s.Address)
		}
	}
	st.waiting = notReady(statusOf(peers))
	learned := sp.Learned()
	st.learned = make([]calc.LearnedRoute, 0, len(learned))
	for _, l := range learned {
		st.learned = append(st.learned, calc.LearnedRoute{Prefix: l.Prefix, NextHop: l.NextHop})
	}
	return st
}

// install puts what the speaker learned into d, once complete.
func (st speakerState) install(in calc.Input, bin calc.BGPInput, d calc.Desired) calc.Desired {
	if !st.complete {
		return d
	}
	return calc.InstallLearned(in, bin, d, st.learned, st.established)
}

// changed is the speaker's change channel (nil, never ready, without one).
func (r *speakerRunner) changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wake // nil without a speaker
}

// status is what node status shows.
func (r *speakerRunner) status() bgpstatus.Status {
	r.mu.Lock()
	sp := r.sp
	r.mu.Unlock()
	if sp == nil {
		return bgpstatus.Status{}
	}
	return statusOf(sp.Status())
}

func statusOf(peers []bgp.PeerStatus) bgpstatus.Status {
	st := bgpstatus.Status{Running: true}
	for _, s := range peers {
		st.Peers = append(st.Peers, bgpstatus.Peer{Name: s.Name, Address: s.Address, Passive: s.Passive,
			State: s.State, Since: s.Since, Info: s.Info})
	}
	return st
}

// notReady names the sessions that keep the node from being ready:
// Calico's rule, every non-passive peer Established.
func notReady(st bgpstatus.Status) []string {
	var out []string
	for _, p := range st.Peers {
		// A workload's session (Local_Workload_) never holds the node back,
		// as calico-node's readiness counts only Global, Node and Mesh peers.
		if !p.Passive && p.State != bgp.StateEstablished && !strings.HasPrefix(p.Name, bgpstatus.LocalWorkloadPrefix) {
			s := fmt.Sprintf("BGP peer %s (%s) is not Established: %s", p.Name, p.Address, p.State)
			if p.Info != "" {
				s += " " + p.Info
			}
			out = append(out, s)
		}
	}
	return out
}

func (r *speakerRunner) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked()
}

// bgpChanged is ready when the speaker learned or lost something.
func (a *Agent) bgpChanged() <-chan struct{} {
	if a.bgp == nil {
		return nil
	}
	return a.bgp.changed()
}

// learnBase is what the last full sync computed before adding the learned
// routes: a change of the learned routes alone is applied on top of it,
// without computing the snapshot again.
type learnBase struct {
	in  calc.Input
	bin calc.BGPInput
	d   calc.Desired
	rev int64
	// applied is what the last sync wrote of what the learned routes
	// change (guarded by Agent.mu): a change of the learned routes that
	// changes none of it (a direct peer's block, already in from the
	// datastore) writes nothing.
	applied *learnedResult
}

// learnedResult is the part of a sync's result the learned routes change.
type learnedResult struct {
	routes   []calc.Route
	problems []string
	waiting  []string
}

func (r *learnedResult) same(d calc.Desired, waiting []string) bool {
	return r != nil && slices.Equal(r.routes, d.Routes) && slices.Equal(r.problems, d.Problems) &&
		slices.Equal(r.waiting, waiting)
}

// needBGP says whether the BGP calculation is to be redone: something it
// reads changed, or the last one could not be applied.
func (a *Agent) needBGP(changed bool) bool {
	return a.bgp != nil && (changed || a.bgpLast == nil || a.bgpLast.err != nil)
}

// bgpState is the last BGP calculation and how applying it went.
type bgpState struct {
	in  calc.Input
	bin calc.BGPInput
	bd  calc.BGPDesired
	err error
}

// syncBGP applies the BGP part of the snapshot to the speaker and puts
// what it learned into d (once it has re-learned everything after a
// start: until then the datastore's routes stand in, so a restart moves
// no route). It returns the sessions that keep the node from being ready,
// and delta (the Engine's change since the last apply, or nil) made the
// change of the routes d now holds, learned ones included, since the last
// sync handed the dataplane its routes (nil when that is not known).
// The calculation is redone when in is given (see needBGP).
func (a *Agent) syncBGP(ctx context.Context, d *calc.Desired, delta *calc.Delta, rev int64, env calc.Env, inp *calc.Input, bin calc.BGPInput) ([]string, *calc.Delta) {
	if a.bgp == nil {
		return nil, delta
	}
	st := a.bgpLast
	if inp != nil {
		in := *inp
		in.Backend, in.RouteUnencapsulated, in.ParentDevice = env.Backend, env.RouteUnencapsulated, env.ParentDevice
		st = &bgpState{in: in, bin: bin, bd: calc.BGP(in, bin)}
		if st.err = a.bgp.apply(ctx, st.bd); st.err != nil {
			a.m.errors.WithLabelValues("bgp").Inc()
			a.log.Warn("BGP speaker", "error", st.err)
		}
		a.bgpLast = st
	}
	if st.err != nil {
		d.Problems = append(d.Problems, st.err.Error())
	}
	d.Problems = append(d.Problems, st.bd.Problems...)
	// d's routes are the Engine's, never changed in place: no copy needed.
	base := &learnBase{in: st.in, bin: st.bin, d: *d, rev: rev}
	base.d.Problems = slices.Clone(d.Problems)
	a.mu.Lock()
	was := a.learnBase
	a.learnBase = base
	a.mu.Unlock()
	sst := a.bgp.state()
	*d = sst.install(st.in, st.bin, *d)
	waiting := sst.waiting
	// What the full sync is about to write (the learned routes' part): set
	// here, before the write, so a failed write is retried by the next
	// change of the learned routes only if that changes something. The
	// periodic resync repairs the rest.
	a.mu.Lock()
	base.applied = &learnedResult{routes: slices.Clone(d.Routes), problems: slices.Clone(d.Problems), waiting: waiting}
	if delta != nil {
		delta = installedDelta(*delta, was, d.Routes)
	}
	a.mu.Unlock()
	return waiting, delta
}

// installedDelta is delta with its routes replaced by the change from the
// routes the last sync (was) handed the dataplane to now; nil when was is
// not known. Guarded by Agent.mu.
func installedDelta(delta calc.Delta, was *learnBase, now []calc.Route) *calc.Delta {
	if was == nil || was.applied == nil {
		return nil
	}
	delta.AddedRoutes, delta.RemovedRoutes = diffInstalled(was.applied.routes, now)
	return &delta
}

// diffInstalled is the change from the routes was to now, each with one
// route per destination: a route whose destination stays but changes is
// both removed and added.
func diffInstalled(was, now []calc.Route) (added, removed []calc.Route) {
	old := make(map[netip.Prefix]calc.Route, len(was))
	for _, r := range was {
		old[r.Dst] = r
	}
	for _, r := range now {
		o, ok := old[r.Dst]
		if ok && o == r {
			delete(old, r.Dst)
			continue
		}
		if ok {
			removed = append(removed, o)
			delete(old, r.Dst)
		}
		added = append(added, r)
	}
	for _, r := range was {
		if _, ok := old[r.Dst]; ok {
			removed = append(removed, r)
		}
	}
	return added, removed
}

// syncLearned applies a change of the learned routes (or of the sessions)
// alone: the last full sync's result with the routes learned now. This is
// the path a route announced by a peer takes to the kernel.
func (a *Agent) syncLearned(ctx context.Context) error {
	a.mu.Lock()
	base := a.learnBase
	a.mu.Unlock()
	if base == nil {
		return a.syncOnce(ctx, false)
	}
	start := time.Now()
	sst := a.bgp.state()
	d := sst.install(base.in, base.bin, base.d)
	waiting := sst.waiting
	a.mu.Lock()
	same := base.applied.same(d, waiting)
	a.mu.Unlock()
	if same {
		return nil // the kernel and the health already say this
	}
	var delta *calc.Delta
	if a.sync.clean {
		a.mu.Lock()
		delta = installedDelta(calc.Delta{}, base, d.Routes)
		a.mu.Unlock()
	}
	if err := a.applyDesired(ctx, d, delta, waiting, false, start, base.rev); err != nil {
		return err
	}
	a.mu.Lock()
	base.applied = &learnedResult{routes: d.Routes, problems: d.Problems, waiting: waiting}
	a.mu.Unlock()
	return nil
}
