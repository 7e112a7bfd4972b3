package calc

import (
	"net/netip"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
)

// BGPInput is what the BGP calculation reads beyond Input.
type BGPInput struct {
	Configs []*v3.BGPConfiguration
	Peers   []*v3.BGPPeer
	Filters []*v3.BGPFilter
}

// Calico's BGP defaults (calico-reference.md §2.3).
const (
	DefaultASN        = 64512
	DefaultListenPort = 179
	// DefaultRoutePriority is the normal route priority (kernel metric)
	// of BGPConfiguration ipv4NormalRoutePriority.
	DefaultRoutePriority = 1024
	maxRoutePriority     = 2147483646
	// maxLocalPref is what Calico's BIRD subtracts a route's priority
	// from to make its LOCAL_PREF (BIRD's largest int).
	maxLocalPref = 2147483647
)

// BGP peer types as `node status` prints them.
const (
	PeerTypeMesh   = "node-to-node mesh"
	PeerTypeGlobal = "global"
	PeerTypeNode   = "node specific"
	// PeerTypeLocalWorkload is a session to a workload on this node
	// (BGPPeer localWorkloadSelector). calicoctl's node status leaves
	// these rows out; tortie shows them under this type.
	PeerTypeLocalWorkload = "local workload"
)

// BGPPeer is one session the node's speaker must hold.
type BGPPeer struct {
	// Name is the protocol name BIRD would give it (Mesh_10_0_0_2,
	// Global_..., Node_..., with _port_<n> when a port is set).
	Name    string
	Type    string // PeerTypeMesh, PeerTypeGlobal, PeerTypeNode or PeerTypeLocalWorkload
	Address netip.Addr
	Port    uint16 // 0: 179
	ASN     uint32
	// LocalASN is the AS this node speaks in on the session.
	LocalASN      uint32
	SourceAddress netip.Addr // invalid: none
	Passive       bool
	// Password is where the TCP MD5 secret comes from (nil: none); the
	// node resolves it.
	Password      *v3.SecretKeySelector
	RestartTime   time.Duration // 0: the speaker's default
	KeepaliveTime time.Duration // 0: the speaker's default
	RRClient      bool
	RRClusterID   string
	TTLSecurity   int
	// NextHopKeep and NextHopSelf are nextHopMode Keep and Self.
	NextHopKeep bool
	NextHopSelf bool
	// Filters names the BGPFilters applied, in order; Import and Export
	// are their rules, resolved for this session.
	Filters []string
	Import  []BGPFilterRule
	Export  []BGPFilterRule
	// Node is the peer's node name when the peer is a Calico node.
	Node string
	// Workload is the peer's WorkloadEndpoint (namespace/name) when the
	// peer is a workload on this node (PeerTypeLocalWorkload).
	Workload string
}

// BGPRoute is a prefix the node originates.
type BGPRoute struct {
	Prefix netip.Prefix
	// LocalPref is the LOCAL_PREF it is sent with to iBGP peers:
	// 2147483647 minus its priority (the normal one), as Calico's BIRD
	// sets it, so that a peer reads the priority back.
	LocalPref        uint32
	Communities      []string // aa:nn
	LargeCommunities []string // aa:nn:mm
}

// BGPDesired is what the node's BGP speaker must hold.
type BGPDesired struct {
	// Enabled is false when the node cannot speak BGP (no IPv4 address:
	// the router ID; or a backend other than bird).
	Enabled  bool
	ASN      uint32
	RouterID netip.Addr
	// IPv6Address is the node's IPv6 address (bgp.ipv6Address): the next
	// hop of its IPv6 routes and the source of its IPv6 sessions. Invalid:
	// the node speaks IPv4 only.
	IPv6Address     netip.Addr
	ListenPort      int
	ListenAddresses []netip.Addr
	Peers           []BGPPeer
	Routes          []BGPRoute
	// FastPath is the sessions to Calico nodes whose blocks the datastore
	// may stand in for (InstallLearned's direct peers): no BGPFilter
	// applies on either side.
	FastPath []netip.Addr
	// Problems are conditions that keep part of it from working.
	Problems []string
}
