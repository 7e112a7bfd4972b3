package bgp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

func seconds(d, def time.Duration) uint64 {
	if d <= 0 {
		d = def
	}
	return uint64((d + time.Second - 1) / time.Second)
}

// apiPeer is GoBGP's form of a Peer.
func apiPeer(p Peer) *api.Peer {
	fam := familyOf(p.Address)
	out := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.ASN, LocalAsn: p.LocalASN,
			AuthPassword: p.Password, Description: p.Name},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:           seconds(ConnectRetry, ConnectRetry),
			HoldTime:               seconds(p.HoldTime, DefaultHoldTime),
			KeepaliveInterval:      seconds(p.KeepaliveTime, DefaultKeepalive),
			IdleHoldTimeAfterReset: 1,
		}},
		Transport: &api.Transport{PassiveMode: p.Passive, RemotePort: uint32(p.Port)},
		GracefulRestart: &api.GracefulRestart{Enabled: true,
			RestartTime: uint32(seconds(p.RestartTime, DefaultRestartTime))},
		AfiSafis: []*api.AfiSafi{{
			Config:            &api.AfiSafiConfig{Family: fam, Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}},
		}},
	}
	if p.SourceAddress.IsValid() {
		out.Transport.LocalAddress = p.SourceAddress.String()
	}
	if p.RRClient {
		out.RouteReflector = &api.RouteReflector{RouteReflectorClient: true, RouteReflectorClusterId: p.RRClusterID}
	}
	if p.TTLSecurity > 0 {
		out.TtlSecurity = &api.TtlSecurity{Enabled: true, TtlMin: uint32(256 - min(p.TTLSecurity, 255))}
	} else if p.Multihop {
		out.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: 255}
	}
	if p.BFD {
		out.Bfd = &api.BfdPeerConfig{Enabled: true, DesiredMinimumTxInterval: 100000,
			RequiredMinimumReceive: 100000, DetectionMultiplier: 3}
	}
	return out
}

func familyOf(a netip.Addr) *api.Family {
	if a.Is4() {
		return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
}

// apiPath is GoBGP's form of an originated route.
func apiPath(r Route) (*apiutil.Path, error) {
	nlri, err := bgp.NewIPAddrPrefix(r.Prefix)
	if err != nil {
		return nil, err
	}
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	fam := bgp.RF_IPv4_UC
	if r.Prefix.Addr().Is4() {
		nh, err := bgp.NewPathAttributeNextHop(nextHopOr(r.NextHop, netip.IPv4Unspecified()))
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nh)
	} else {
		fam = bgp.RF_IPv6_UC
		mp, err := bgp.NewPathAttributeMpReachNLRI(fam, []bgp.PathNLRI{{NLRI: nlri}}, nextHopOr(r.NextHop, netip.IPv6Unspecified()))
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, mp)
	}
	if r.LocalPref != 0 { // GoBGP drops it towards eBGP peers
		attrs = append(attrs, bgp.NewPathAttributeLocalPref(r.LocalPref))
	}
	comm, large, err := communities(r)
	if err != nil {
		return nil, err
	}
	if len(comm) > 0 {
		attrs = append(attrs, bgp.NewPathAttributeCommunities(comm))
	}
	if len(large) > 0 {
		attrs = append(attrs, bgp.NewPathAttributeLargeCommunities(large))
	}
	return &apiutil.Path{Family: fam, Nlri: nlri, Attrs: attrs}, nil
}

func nextHopOr(a, def netip.Addr) netip.Addr {
	if a.IsValid() {
		return a
	}
	return def
}

func communities(r Route) ([]uint32, []*bgp.LargeCommunity, error) {
	var std []uint32
	for _, c := range r.Communities {
		a, b, ok := strings.Cut(c, ":")
		x, err1 := strconv.ParseUint(a, 10, 16)
		y, err2 := strconv.ParseUint(b, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return nil, nil, fmt.Errorf("community %q: must be aa:nn", c)
		}
		std = append(std, uint32(x)<<16|uint32(y))
	}
	var large []*bgp.LargeCommunity
	for _, c := range r.LargeCommunities {
		l, err := bgp.ParseLargeCommunity(c)
		if err != nil {
			return nil, nil, fmt.Errorf("large community %q: %w", c, err)
		}
		large = append(large, l)
	}
	return std, large, nil
}

// learnedOf is a best path from a peer in our form; ok is false for a
// path this node originated.
func learnedOf(p *apiutil.Path) (Learned, bool) {
	if !p.PeerAddress.IsValid() {
		return Learned{}, false
	}
	var pfx netip.Prefix
	switch n := p.Nlri.(type) {
	case *bgp.IPAddrPrefix:
		pfx = n.Prefix
	default:
		return Learned{}, false
	}
	l := Learned{Prefix: pfx, Peer: p.PeerAddress, Stale: p.Stale}
	for _, a := range p.Attrs {
		switch a := a.(type) {
		case *bgp.PathAttributeNextHop:
			l.NextHop = a.Value
		case *bgp.PathAttributeMpReachNLRI:
			l.NextHop = a.Nexthop
		}
	}
	return l, true
}

// stateName is the FSM state as BIRD and calicoctl spell it.
func stateName(s bgp.FSMState) string {
	switch s {
	case bgp.BGP_FSM_CONNECT:
		return StateConnect
	case bgp.BGP_FSM_ACTIVE:
		return StateActive
	case bgp.BGP_FSM_OPENSENT:
		return StateOpenSent
	case bgp.BGP_FSM_OPENCONFIRM:
		return StateOpenConfirm
	case bgp.BGP_FSM_ESTABLISHED:
		return StateEstablished
	}
	return StateIdle
}

// disconnectText says why a session went down, as BIRD would.
func disconnectText(r api.PeerState_DisconnectReason, msg string) string {
	var s string
	switch r {
	case api.PeerState_DISCONNECT_REASON_HOLD_TIMER_EXPIRED:
		s = "Hold timer expired"
	case api.PeerState_DISCONNECT_REASON_NOTIFICATION_SENT:
		s = "Error: notification sent"
	case api.PeerState_DISCONNECT_REASON_NOTIFICATION_RECEIVED:
		s = "Received: notification"
	case api.PeerState_DISCONNECT_REASON_READ_FAILED, api.PeerState_DISCONNECT_REASON_WRITE_FAILED:
		s = "Socket: connection closed"
	case api.PeerState_DISCONNECT_REASON_GRACEFUL_RESTART:
		s = "Graceful restart"
	default:
		return "" // the FSM's own transitions (idle hold, connect retry) say nothing
	}
	if msg != "" {
		return s + ": " + msg
	}
	return s
}
