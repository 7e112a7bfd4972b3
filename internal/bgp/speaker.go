package bgp

import (
	"context"
	"net/netip"
	"time"
)

// Speaker holds a node's BGP sessions. Its methods are safe for concurrent
// use.
type Speaker interface {
	// SetPeers makes the sessions exactly peers (keyed by Address): new
	// ones are added, gone ones removed, changed ones replaced; sessions
	// whose Peer is unchanged are not touched.
	SetPeers(ctx context.Context, peers []Peer) error
	// SetRoutes makes the originated routes exactly routes (keyed by
	// Prefix), announcing the new and withdrawing the gone.
	SetRoutes(ctx context.Context, routes []Route) error
	// Learned is the best path for each prefix learned from a peer. A
	// peer that went silent (its hold timer expired) has its routes left
	// out at once: it is gone, not restarting.
	Learned() []Learned
	// Status is the state of each configured session, by address.
	Status() []PeerStatus
	// Changed receives a value (coalesced, never blocking the speaker)
	// whenever Learned or Status may have changed.
	Changed() <-chan struct{}
	// Close stops every session and the speaker.
	Close() error
}

// Global is the speaker-wide configuration.
type Global struct {
	// ASN is the node's AS number.
	ASN uint32
	// RouterID is the BGP identifier (the node's IPv4 address).
	RouterID netip.Addr
	// ListenPort is the port to accept sessions on: 0 means 179, -1 means
	// not listening (every session is then active).
	ListenPort int
	// ListenAddresses restricts listening (BGPConfiguration bindMode
	// NodeIP); empty means every address.
	ListenAddresses []netip.Addr
	// IPv6 makes the speaker hold IPv6 unicast routes beside IPv4 ones
	// (the node has an IPv6 address: Calico's bird6). Without it the RIBs
	// hold IPv4 only, which spares the memory of the IPv6 tables.
	IPv6 bool
}

// Peer is one session the speaker must hold.
type Peer struct {
	// Name is Calico's protocol name (Mesh_10_0_0_2, Global_..., Node_...,
	// with _port_<n> when a port is set): what node status shows.
	Name    string
	Address netip.Addr
	// Port is the peer's BGP port (0: 179).
	Port uint16
	// ASN is the peer's AS; LocalASN overrides the speaker's AS for this
	// session when non-zero.
	ASN      uint32
	LocalASN uint32
	// SourceAddress is the local address of the session (invalid: any).
	SourceAddress netip.Addr
	// Passive waits for the peer to connect (Calico's lexical rule).
	Passive bool
	// Password enables TCP MD5 with this secret. Never logged.
	Password string `json:"-"`
	// RestartTime is the graceful-restart time announced to the peer
	// (0: DefaultRestartTime).
	RestartTime time.Duration
	// KeepaliveTime and HoldTime (0: DefaultKeepalive, DefaultHoldTime).
	KeepaliveTime time.Duration
	HoldTime      time.Duration
	// RRClient makes the peer a route-reflector client of this node, in
	// cluster RRClusterID.
	RRClient    bool
	RRClusterID string
	// TTLSecurity enables GTSM: the peer may be at most this many hops
	// away (0: off).
	TTLSecurity int
	// Multihop lets an eBGP session cross routers (BIRD's "multihop", which
	// Calico sets on every peer).
	Multihop bool
	// BFD turns on BFD for the session (fast failure detection).
	BFD bool
	// Import and Export are the session's filters (BGPFilters), tried
	// before the defaults; changing them resets no session.
	Import []FilterRule
	Export []FilterRule
	// NextHopKeep (keepOriginalNextHop, nextHopMode Keep) sends routes
	// with the next hop they came with, even to eBGP peers; NextHopSelf
	// (nextHopMode Self) with this node's address. Neither resets a
	// session when it changes.
	NextHopKeep bool
	NextHopSelf bool
}

// Route is a prefix this node originates.
type Route struct {
	Prefix netip.Prefix
	// NextHop is the address peers reach it through (the node's address).
	NextHop netip.Addr
	// LocalPref is the LOCAL_PREF sent to iBGP peers (0: BGP's default).
	LocalPref uint32
	// Communities ("aa:nn") and LargeCommunities ("aa:nn:mm") to attach.
	Communities      []string
	LargeCommunities []string
}

// Learned is a best path learned from a peer.
type Learned struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
	// Peer is the session it was learned on.
	Peer netip.Addr
	// External is true for a path learned over eBGP.
	External bool
	// Stale marks a path kept during the peer's graceful restart.
	Stale bool
}

// PeerStatus is one session's state as node status shows it.
type PeerStatus struct {
	Name    string
	Address netip.Addr
	Passive bool
	// State is the BGP FSM state: Idle, Connect, Active, OpenSent,
	// OpenConfirm or Established.
	State string
	// Since is when the session entered State.
	Since time.Time
	// Info is why a session is not Established (the last connection
	// error or notification), empty otherwise.
	Info string
	// EndOfRIB is true once the peer has sent End-of-RIB on the current
	// session: everything it has is then in Learned.
	EndOfRIB bool
}

// BGP FSM state names.
const (
	StateIdle        = "Idle"
	StateConnect     = "Connect"
	StateActive      = "Active"
	StateOpenSent    = "OpenSent"
	StateOpenConfirm = "OpenConfirm"
	StateEstablished = "Established"
)

// Defaults: timers fast enough that a silently dead peer is noticed in
// seconds (BIRD's 240 s hold took minutes, bgp-convergence.md §4), and
// Calico's graceful-restart time.
const (
	DefaultKeepalive   = 3 * time.Second
	DefaultHoldTime    = 9 * time.Second
	DefaultRestartTime = 120 * time.Second
	// ConnectRetry is the dial retry interval: GoBGP clamps it to 2 s; its
	// 120 s default strands a late joiner (gobgp-v4.md).
	ConnectRetry = 1 * time.Second
)
