package bgp

import (
	"context"
	"net/netip"
	"slices"
	"sort"
	"sync"
)

// Fake is an in-memory Speaker for unit tests of the code that drives one:
// it holds what it was told, logs each session added and removed, and
// lets the test play the peers (Learn, Forget, SetState).
type Fake struct {
	mu      sync.Mutex
	peers   map[netip.Addr]Peer
	routes  map[netip.Prefix]Route
	learned map[netip.Prefix]Learned
	status  map[netip.Addr]PeerStatus
	changed chan struct{}
	// Ops logs "add <name>", "delete <name>", "announce <prefix>" and
	// "withdraw <prefix>" in the order applied.
	Ops    []string
	Closed bool
}

var _ Speaker = (*Fake)(nil)

// NewFake returns a Fake with no sessions.
func NewFake() *Fake {
	return &Fake{peers: map[netip.Addr]Peer{}, routes: map[netip.Prefix]Route{},
		learned: map[netip.Prefix]Learned{}, status: map[netip.Addr]PeerStatus{},
		changed: make(chan struct{}, 1)}
}

// SetPeers implements Speaker.
func (f *Fake) SetPeers(_ context.Context, peers []Peer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := diffPeers(f.peers, peers)
	for _, p := range d.Delete {
		f.Ops = append(f.Ops, "delete "+p.Name)
		delete(f.peers, p.Address)
		delete(f.status, p.Address)
	}
	for _, p := range d.Replace {
		f.Ops = append(f.Ops, "delete "+f.peers[p.Address].Name, "add "+p.Name)
		f.peers[p.Address] = p
	}
	for _, p := range d.Add {
		f.Ops = append(f.Ops, "add "+p.Name)
		f.peers[p.Address] = p
		f.status[p.Address] = PeerStatus{Name: p.Name, Address: p.Address, Passive: p.Passive, State: StateIdle}
	}
	for _, p := range peers {
		f.peers[p.Address] = p // filters change without a reset
	}
	return nil
}

// SetRoutes implements Speaker.
func (f *Fake) SetRoutes(_ context.Context, routes []Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := diffRoutes(f.routes, routes)
	for _, r := range d.Withdraw {
		f.Ops = append(f.Ops, "withdraw "+r.Prefix.String())
		delete(f.routes, r.Prefix)
	}
	for _, r := range d.Announce {
		f.Ops = append(f.Ops, "announce "+r.Prefix.String())
		f.routes[r.Prefix] = r
	}
	return nil
}

// Peers is the sessions held, by address.
func (f *Fake) Peers() []Peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Peer, 0, len(f.peers))
	for _, p := range f.peers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address.Less(out[j].Address) })
	return out
}

// Routes is the routes originated, by prefix.
func (f *Fake) Routes() []Route {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Route, 0, len(f.routes))
	for _, r := range f.routes {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return prefixLess(out[i].Prefix, out[j].Prefix) })
	return out
}

// Learn plays a peer announcing a best path.
func (f *Fake) Learn(l Learned) {
	f.mu.Lock()
	f.learned[l.Prefix] = l
	f.mu.Unlock()
	f.notify()
}

// Forget plays a peer withdrawing a prefix.
func (f *Fake) Forget(p netip.Prefix) {
	f.mu.Lock()
	delete(f.learned, p)
	f.mu.Unlock()
	f.notify()
}

// SetState plays a session changing state.
func (f *Fake) SetState(a netip.Addr, s PeerStatus) {
	f.mu.Lock()
	old := f.status[a]
	s.Name, s.Address, s.Passive = old.Name, a, old.Passive
	f.status[a] = s
	f.mu.Unlock()
	f.notify()
}

// Learned implements Speaker.
func (f *Fake) Learned() []Learned {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Learned, 0, len(f.learned))
	for _, l := range f.learned {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return prefixLess(out[i].Prefix, out[j].Prefix) })
	return out
}

// Status implements Speaker.
func (f *Fake) Status() []PeerStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]PeerStatus, 0, len(f.status))
	for _, s := range f.status {
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y PeerStatus) int { return x.Address.Compare(y.Address) })
	return out
}

// Changed implements Speaker.
func (f *Fake) Changed() <-chan struct{} { return f.changed }

func (f *Fake) notify() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// Close implements Speaker.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Closed = true
	return nil
}
