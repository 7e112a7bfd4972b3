package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// onBest records best-path changes: a path from a peer is learned; a
// withdrawal, or a best path that is now this node's own, forgets it.
func (g *GoBGP) onBest(paths []*apiutil.Path, _ time.Time) {
	g.mu.Lock()
	changed := false
	for _, p := range paths {
		l, fromPeer := learnedOf(p)
		if !fromPeer || p.Withdrawal {
			pfx, ok := prefixOf(p)
			if _, had := g.learned[pfx]; ok && had {
				delete(g.learned, pfx)
				changed = true
			}
			continue
		}
		peer, configured := g.peers[l.Peer]
		if !configured {
			continue // a late event for a session just deleted
		}
		local := g.asn
		if peer.LocalASN != 0 {
			local = peer.LocalASN
		}
		l.External = peer.ASN != local
		if g.learned[l.Prefix] != l {
			g.learned[l.Prefix] = l
			changed = true
		}
	}
	g.mu.Unlock()
	if changed {
		g.notify()
	}
}

// onPeer records a session's state changes.
func (g *GoBGP) onPeer(ev *apiutil.WatchEventMessage_PeerEvent, t time.Time) {
	if ev.Type != apiutil.PEER_EVENT_STATE && ev.Type != apiutil.PEER_EVENT_INIT {
		return
	}
	g.mu.Lock()
	st := g.status[ev.Peer.State.NeighborAddress]
	if st == nil {
		g.mu.Unlock()
		return
	}
	name := stateName(ev.Peer.State.SessionState)
	if name != st.State {
		st.State, st.Since, st.EndOfRIB = name, t, false
		if t.IsZero() {
			st.Since = time.Now()
		}
	}
	st.Info = ""
	if name == StateEstablished {
		g.reasons.set(st.Address.String(), "")
		g.reasons.setSilent(st.Address.String(), false)
	} else {
		st.Info = disconnectText(ev.Peer.State.DisconnectReason, ev.Peer.State.DisconnectMessage)
	}
	g.mu.Unlock()
	g.notify()
}

// onEOR records a peer's End-of-RIB.
func (g *GoBGP) onEOR(p *apiutil.Path, _ time.Time) {
	g.mu.Lock()
	st := g.status[p.PeerAddress]
	if st != nil {
		st.EndOfRIB = true
	}
	g.mu.Unlock()
	if st != nil {
		g.notify()
	}
}

func prefixOf(p *apiutil.Path) (pfx netip.Prefix, ok bool) {
	if n, isIP := p.Nlri.(*bgp.IPAddrPrefix); isIP {
		return n.Prefix, true
	}
	return netip.Prefix{}, false
}

// Export policies: a node sends its peers only the routes it originates;
// a route reflector also reflects what its iBGP peers send it. Nothing
// learned over eBGP is passed on, so a node is never a transit.
const (
	policyLocal   = "tortie-originated"
	policyReflect = "tortie-reflected"
)

func (g *GoBGP) initPolicies(ctx context.Context) error {
	accept := &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_ACCEPT}
	for _, p := range []*api.Policy{
		{Name: policyLocal, Statements: []*api.Statement{{Name: policyLocal,
			Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL}, Actions: accept}}},
		{Name: policyReflect, Statements: []*api.Statement{{Name: policyReflect,
			Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_INTERNAL}, Actions: accept}}},
	} {
		if err := g.s.AddPolicy(ctx, &api.AddPolicyRequest{Policy: p}); err != nil {
			return fmt.Errorf("BGP export policy %s: %w", p.Name, err)
		}
	}
	return g.s.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: g.exportAssignment(false)})
}

func (g *GoBGP) exportAssignment(reflect bool) *api.PolicyAssignment {
	var ps []*api.Policy
	for _, n := range g.filters.exports {
		ps = append(ps, &api.Policy{Name: n})
	}
	ps = append(ps, &api.Policy{Name: policyLocal})
	if reflect {
		ps = append(ps, &api.Policy{Name: policyReflect})
	}
	return &api.PolicyAssignment{Name: "global", Direction: api.PolicyDirection_POLICY_DIRECTION_EXPORT,
		Policies: ps, DefaultAction: api.RouteAction_ROUTE_ACTION_REJECT}
}

// setExport switches reflection on or off and re-sends to established
// peers what the new policy allows.
func (g *GoBGP) setExport(ctx context.Context, reflect bool) error {
	err := g.s.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: g.exportAssignment(reflect)})
	if err != nil {
		return fmt.Errorf("BGP export policy (reflect %v): %w", reflect, err)
	}
	g.reflect = reflect
	for a := range g.peers {
		_ = g.s.ResetPeer(ctx, &api.ResetPeerRequest{Address: a.String(), Soft: true,
			Direction: api.ResetPeerRequest_DIRECTION_OUT})
	}
	return nil
}
