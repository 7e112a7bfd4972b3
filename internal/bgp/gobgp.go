package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// GoBGP is the Speaker, on an embedded GoBGP server.
type GoBGP struct {
	s       *server.BgpServer
	log     *slog.Logger
	reasons *reasons
	stop    context.CancelFunc
	changed chan struct{}
	asn     uint32

	mu      sync.Mutex // guards what follows
	peers   map[netip.Addr]Peer
	routes  map[netip.Prefix]Route
	learned map[netip.Prefix]Learned
	status  map[netip.Addr]*PeerStatus
	reflect bool // the export policy lets iBGP routes through
	filters filterPolicies
	closed  bool
}

var _ Speaker = (*GoBGP)(nil)

// Start starts a speaker with no sessions and no routes. log receives
// GoBGP's messages at log's own level (nil: discarded).
func Start(ctx context.Context, g Global, log *slog.Logger) (*GoBGP, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !g.RouterID.Is4() {
		return nil, fmt.Errorf("start BGP speaker: router ID %q: must be an IPv4 address", g.RouterID)
	}
	rs := &reasons{last: map[string]string{}, silent: map[string]bool{}}
	level := new(slog.LevelVar)
	level.Set(slog.LevelDebug) // reasonHandler filters by log's level itself
	s := server.NewBgpServer(server.LoggerOption(slog.New(&reasonHandler{inner: log.Handler(), sink: rs}), level))
	go s.Serve()
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: apiGlobal(g)}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start BGP speaker (AS %d, router ID %s, port %d): %w", g.ASN, g.RouterID, g.ListenPort, err)
	}
	sp := &GoBGP{s: s, log: log, reasons: rs, changed: make(chan struct{}, 1), asn: g.ASN,
		peers: map[netip.Addr]Peer{}, routes: map[netip.Prefix]Route{},
		learned: map[netip.Prefix]Learned{}, status: map[netip.Addr]*PeerStatus{}}
	if err := sp.initPolicies(ctx); err != nil {
		sp.hardStop()
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	sp.stop = cancel
	err := s.WatchEvent(wctx, server.WatchEventMessageCallbacks{
		OnBestPath: sp.onBest, OnPeerUpdate: sp.onPeer, OnPathEor: sp.onEOR,
	}, server.WatchBestPath(false), server.WatchPeer(), server.WatchEor(false))
	if err != nil {
		cancel()
		sp.hardStop()
		return nil, fmt.Errorf("start BGP speaker: watch events: %w", err)
	}
	return sp, nil
}

// GoBGP's numbers for ipv4-unicast and ipv6-unicast in Global.Families
// (its oc.AfiSafiTypeToIntMap).
const (
	familyIPv4Unicast = 0
	familyIPv6Unicast = 1
)

func apiGlobal(g Global) *api.Global {
	port := int32(g.ListenPort)
	if port == 0 {
		port = 179
	}
	// The families the speaker's RIBs hold: GoBGP makes a table (2048
	// shards, ~200 KiB) per family in its global and route-server RIBs,
	// and for every family it knows when none is named (11 MiB).
	out := &api.Global{Asn: g.ASN, RouterId: g.RouterID.String(), ListenPort: port, Families: []uint32{familyIPv4Unicast}}
	if g.IPv6 {
		out.Families = append(out.Families, familyIPv6Unicast)
	}
	for _, a := range g.ListenAddresses {
		out.ListenAddresses = append(out.ListenAddresses, a.String())
	}
	return out
}

// Close stops the speaker without notifying peers that negotiated graceful
// restart: their TCP connections drop and they keep this node's routes for
// the restart time, so an agent restarted within it changes nothing on
// them. To withdraw everything first, call SetPeers with no peers.
func (g *GoBGP) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	g.mu.Unlock()
	g.stop()
	err := g.s.StopBgp(context.Background(), &api.StopBgpRequest{AllowGracefulRestart: true})
	if err != nil {
		return fmt.Errorf("stop BGP speaker: %w", err)
	}
	return nil
}

func (g *GoBGP) hardStop() { g.s.Stop() }

// Changed implements Speaker.
func (g *GoBGP) Changed() <-chan struct{} { return g.changed }

func (g *GoBGP) notify() {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

// SetPeers implements Speaker.
func (g *GoBGP) SetPeers(ctx context.Context, peers []Peer) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("BGP speaker is closed")
	}
	reflect := false
	for _, p := range peers {
		reflect = reflect || p.RRClient
	}
	if reflect != g.reflect {
		if err := g.setExport(ctx, reflect); err != nil {
			return err
		}
	}
	var errs []error
	if err := g.setFilters(ctx, g.peers, peers); err != nil {
		errs = append(errs, err)
	}
	d := diffPeers(g.peers, peers)
	for _, p := range d.Delete {
		errs = append(errs, g.deletePeer(ctx, p))
	}
	for _, p := range d.Replace {
		errs = append(errs, g.deletePeer(ctx, g.peers[p.Address]), g.addPeer(ctx, p))
	}
	for _, p := range d.Add {
		errs = append(errs, g.addPeer(ctx, p))
	}
	for _, p := range peers {
		if _, ok := g.peers[p.Address]; ok {
			g.peers[p.Address] = p // the same session, perhaps with new filters
		}
	}
	if len(d.Delete)+len(d.Replace)+len(d.Add) > 0 {
		g.notify()
	}
	return errors.Join(errs...)
}

func (g *GoBGP) addPeer(ctx context.Context, p Peer) error {
	if err := g.s.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(p)}); err != nil {
		return fmt.Errorf("add BGP peer %s (%s): %w", p.Name, p.Address, err)
	}
	g.peers[p.Address] = p
	g.status[p.Address] = &PeerStatus{Name: p.Name, Address: p.Address, Passive: p.Passive,
		State: StateIdle, Since: time.Now()}
	return nil
}

func (g *GoBGP) deletePeer(ctx context.Context, p Peer) error {
	delete(g.peers, p.Address)
	delete(g.status, p.Address)
	for pfx, l := range g.learned {
		if l.Peer == p.Address {
			delete(g.learned, pfx)
		}
	}
	if err := g.s.DeletePeer(ctx, &api.DeletePeerRequest{Address: p.Address.String()}); err != nil {
		return fmt.Errorf("delete BGP peer %s (%s): %w", p.Name, p.Address, err)
	}
	return nil
}

// SetRoutes implements Speaker.
func (g *GoBGP) SetRoutes(ctx context.Context, routes []Route) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("BGP speaker is closed")
	}
	d := diffRoutes(g.routes, routes)
	var errs []error
	for _, r := range d.Withdraw {
		p, err := apiPath(r)
		if err == nil {
			err = g.s.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("withdraw %s: %w", r.Prefix, err))
			continue
		}
		delete(g.routes, r.Prefix)
	}
	var paths []*apiutil.Path
	for _, r := range d.Announce {
		p, err := apiPath(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("announce %s: %w", r.Prefix, err))
			continue
		}
		paths = append(paths, p)
		g.routes[r.Prefix] = r
	}
	if len(paths) > 0 {
		if _, err := g.s.AddPath(apiutil.AddPathRequest{Paths: paths}); err != nil {
			errs = append(errs, fmt.Errorf("announce %d routes: %w", len(paths), err))
		}
	}
	return errors.Join(errs...)
}

// Learned implements Speaker.
func (g *GoBGP) Learned() []Learned {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Learned, 0, len(g.learned))
	for _, l := range g.learned {
		if !g.reasons.isSilent(l.Peer.String()) {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return prefixLess(out[i].Prefix, out[j].Prefix) })
	return out
}

// Status implements Speaker.
func (g *GoBGP) Status() []PeerStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]PeerStatus, 0, len(g.status))
	for _, s := range g.status {
		c := *s
		if r := g.reasons.get(c.Address.String()); c.State != StateEstablished && r != "" {
			c.Info = r // the latest failure to connect
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address.Less(out[j].Address) })
	return out
}

func prefixLess(a, b netip.Prefix) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Bits() < b.Bits()
}
