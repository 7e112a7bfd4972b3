package v3

// BGPFilter holds import and export rules for the routes of the BGP peers
// that name it (cluster-scoped).
type BGPFilter struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       BGPFilterSpec `json:"spec"`
}

// BGPFilterSpec lists the rules per address family and direction; the
// first rule that matches a route decides.
type BGPFilterSpec struct {
	ExportV4 []BGPFilterRule `json:"exportV4,omitempty"`
	ImportV4 []BGPFilterRule `json:"importV4,omitempty"`
	ExportV6 []BGPFilterRule `json:"exportV6,omitempty"`
	ImportV6 []BGPFilterRule `json:"importV6,omitempty"`
}

// BGPFilterRule matches routes by CIDR, prefix length, source, interface
// and peer type, and accepts or rejects them.
type BGPFilterRule struct {
	CIDR          string                 `json:"cidr,omitempty"`
	PrefixLength  *BGPFilterPrefixLength `json:"prefixLength,omitempty"`
	Source        string                 `json:"source,omitempty"`
	Interface     string                 `json:"interface,omitempty"`
	MatchOperator string                 `json:"matchOperator,omitempty"`
	Action        string                 `json:"action"`
	PeerType      string                 `json:"peerType,omitempty"`
	Priority      *int                   `json:"priority,omitempty"`
}

// BGPFilterPrefixLength bounds the prefix length of matched routes.
type BGPFilterPrefixLength struct {
	Min *int32 `json:"min,omitempty"`
	Max *int32 `json:"max,omitempty"`
}

// CalicoNodeStatus asks a node agent to report its status every
// updatePeriodSeconds (cluster-scoped); the agent writes status.
type CalicoNodeStatus struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       CalicoNodeStatusSpec   `json:"spec"`
	Status     CalicoNodeStatusStatus `json:"status"`
}

// CalicoNodeStatusSpec names the node and what to report.
type CalicoNodeStatusSpec struct {
	Node string `json:"node,omitempty"`
	// Classes are Agent, BGP and Routes.
	Classes             []string `json:"classes,omitempty"`
	UpdatePeriodSeconds *uint32  `json:"updatePeriodSeconds,omitempty"`
}

// CalicoNodeStatusStatus is what the node agent reports.
type CalicoNodeStatusStatus struct {
	LastUpdated string             `json:"lastUpdated,omitempty"`
	Agent       CalicoNodeAgent    `json:"agent,omitempty"`
	BGP         CalicoNodeBGP      `json:"bgp,omitempty"`
	Routes      CalicoNodeBGPRoute `json:"routes,omitempty"`
}

// CalicoNodeAgent is the state of the BGP daemons.
type CalicoNodeAgent struct {
	BIRDV4 BGPDaemonStatus `json:"birdV4,omitempty"`
	BIRDV6 BGPDaemonStatus `json:"birdV6,omitempty"`
}

// BGPDaemonStatus is the state of one BGP daemon.
type BGPDaemonStatus struct {
	State                   string `json:"state,omitempty"`
	Version                 string `json:"version,omitempty"`
	RouterID                string `json:"routerID,omitempty"`
	LastBootTime            string `json:"lastBootTime,omitempty"`
	LastReconfigurationTime string `json:"lastReconfigurationTime,omitempty"`
}

// CalicoNodeBGP counts and lists the BGP sessions.
type CalicoNodeBGP struct {
	NumberEstablishedV4    int              `json:"numberEstablishedV4"`
	NumberEstablishedV6    int              `json:"numberEstablishedV6"`
	NumberNotEstablishedV4 int              `json:"numberNotEstablishedV4"`
	NumberNotEstablishedV6 int              `json:"numberNotEstablishedV6"`
	PeersV4                []CalicoNodePeer `json:"peersV4,omitempty"`
	PeersV6                []CalicoNodePeer `json:"peersV6,omitempty"`
}

// CalicoNodePeer is one BGP session.
type CalicoNodePeer struct {
	PeerIP string `json:"peerIP,omitempty"`
	Type   string `json:"type,omitempty"`
	State  string `json:"state,omitempty"`
	Since  string `json:"since,omitempty"`
}

// CalicoNodeBGPRoute lists the routes the node holds.
type CalicoNodeBGPRoute struct {
	RoutesV4 []CalicoNodeRoute `json:"routesV4,omitempty"`
	RoutesV6 []CalicoNodeRoute `json:"routesV6,omitempty"`
}

// CalicoNodeRoute is one route.
type CalicoNodeRoute struct {
	Type        string                `json:"type,omitempty"`
	Destination string                `json:"destination,omitempty"`
	Gateway     string                `json:"gateway,omitempty"`
	Interface   string                `json:"interface,omitempty"`
	LearnedFrom CalicoNodeRouteSource `json:"learnedFrom,omitempty"`
}

// CalicoNodeRouteSource says where a route came from.
type CalicoNodeRouteSource struct {
	SourceType string `json:"sourceType,omitempty"`
	PeerIP     string `json:"peerIP,omitempty"`
}
