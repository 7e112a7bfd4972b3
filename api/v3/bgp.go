package v3

// BGPPeer configures BGP sessions from Calico nodes to other speakers
// (cluster-scoped).
type BGPPeer struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       BGPPeerSpec `json:"spec"`
}

// BGPPeerSpec is the desired state of a BGPPeer.
type BGPPeerSpec struct {
	// Node is the one node the peering is on. With neither Node nor
	// NodeSelector the peering applies to every node.
	Node string `json:"node,omitempty"`
	// NodeSelector picks the local nodes the peering applies to.
	NodeSelector string `json:"nodeSelector,omitempty"`
	// PeerIP is "IP", "IPv4:port" or "[IPv6]:port".
	PeerIP string `json:"peerIP,omitempty"`
	// ASNumber is the remote AS; empty when PeerSelector is set.
	ASNumber ASNumber `json:"asNumber,omitempty"`
	// LocalASNumber overrides the local AS for this peering.
	LocalASNumber *ASNumber `json:"localASNumber,omitempty"`
	// PeerSelector peers with the Calico nodes it selects.
	PeerSelector string `json:"peerSelector,omitempty"`
	// KeepOriginalNextHop is the deprecated form of NextHopMode Keep.
	KeepOriginalNextHop bool `json:"keepOriginalNextHop,omitempty"`
	// NextHopMode is Auto, Self or Keep.
	NextHopMode          string       `json:"nextHopMode,omitempty"`
	Password             *BGPPassword `json:"password,omitempty"`
	SourceAddress        string       `json:"sourceAddress,omitempty"`
	FailureDetectionMode string       `json:"failureDetectionMode,omitempty"`
	RestartMode          string       `json:"restartMode,omitempty"`
	// MaxRestartTime is the graceful-restart time (BIRD default 120s).
	MaxRestartTime           *Duration `json:"maxRestartTime,omitempty"`
	BIRDGatewayMode          string    `json:"birdGatewayMode,omitempty"`
	NumAllowedLocalASNumbers *int32    `json:"numAllowedLocalASNumbers,omitempty"`
	// TTLSecurity enables GTSM with this many hops (0-255).
	TTLSecurity   *int      `json:"ttlSecurity,omitempty"`
	KeepaliveTime *Duration `json:"keepaliveTime,omitempty"`
	// ReachableBy is a gateway to add a static route to PeerIP through.
	ReachableBy string `json:"reachableBy,omitempty"`
	// Filters names BGPFilter resources, applied in order.
	Filters []string `json:"filters,omitempty"`
	// LocalWorkloadSelector peers with local pods it selects.
	LocalWorkloadSelector string `json:"localWorkloadSelector,omitempty"`
	// ReversePeering is Auto (default) or Manual.
	ReversePeering string `json:"reversePeering,omitempty"`
}

// BGPPeer enum values.
const (
	NextHopModeAuto = "Auto"
	NextHopModeSelf = "Self"
	NextHopModeKeep = "Keep"

	SourceAddressUseNodeIP = "UseNodeIP"
	SourceAddressNone      = "None"

	ReversePeeringAuto   = "Auto"
	ReversePeeringManual = "Manual"
)

// BGPPassword says where a BGP MD5 password comes from.
type BGPPassword struct {
	SecretKeyRef *SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// SecretKeySelector names a key of a Kubernetes Secret in calico-node's
// namespace.
type SecretKeySelector struct {
	Name     string `json:"name,omitempty"`
	Key      string `json:"key"`
	Optional *bool  `json:"optional,omitempty"`
}

// BGPConfiguration holds cluster-wide ("default") or per-node
// ("node.<name>") BGP settings (cluster-scoped).
type BGPConfiguration struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       BGPConfigurationSpec `json:"spec"`
}

// BGPConfigurationSpec is the desired state of a BGPConfiguration.
type BGPConfigurationSpec struct {
	// LogSeverityScreen is the BIRD log level (Trace/Debug/Info/Warning/Error/Fatal).
	LogSeverityScreen string `json:"logSeverityScreen,omitempty"`
	// NodeToNodeMeshEnabled turns the full iBGP mesh on (default true).
	NodeToNodeMeshEnabled *bool `json:"nodeToNodeMeshEnabled,omitempty"`
	// ASNumber is the default node AS (default 64512).
	ASNumber               *ASNumber                    `json:"asNumber,omitempty"`
	ServiceLoadBalancerIPs []ServiceLoadBalancerIPBlock `json:"serviceLoadBalancerIPs,omitempty"`
	ServiceExternalIPs     []ServiceExternalIPBlock     `json:"serviceExternalIPs,omitempty"`
	ServiceClusterIPs      []ServiceClusterIPBlock      `json:"serviceClusterIPs,omitempty"`
	Communities            []Community                  `json:"communities,omitempty"`
	PrefixAdvertisements   []PrefixAdvertisement        `json:"prefixAdvertisements,omitempty"`
	// ListenPort is the BGP port (default 179; 0 means unset).
	ListenPort             int          `json:"listenPort,omitempty"`
	NodeMeshPassword       *BGPPassword `json:"nodeMeshPassword,omitempty"`
	NodeMeshMaxRestartTime *Duration    `json:"nodeMeshMaxRestartTime,omitempty"`
	// BindMode is None (listen everywhere) or NodeIP.
	BindMode                       string   `json:"bindMode,omitempty"`
	IgnoredInterfaces              []string `json:"ignoredInterfaces,omitempty"`
	LocalWorkloadPeeringIPV4       string   `json:"localWorkloadPeeringIPV4,omitempty"`
	LocalWorkloadPeeringIPV6       string   `json:"localWorkloadPeeringIPV6,omitempty"`
	ServiceLoadBalancerAggregation string   `json:"serviceLoadBalancerAggregation,omitempty"`
	// ProgramClusterRoutes is Enabled, Disabled, EnabledIPIPOnly or EnabledNoEncapOnly.
	ProgramClusterRoutes    string `json:"programClusterRoutes,omitempty"`
	IPv4NormalRoutePriority *int   `json:"ipv4NormalRoutePriority,omitempty"`
	IPv6NormalRoutePriority *int   `json:"ipv6NormalRoutePriority,omitempty"`
}

// ServiceLoadBalancerIPBlock is one LoadBalancer IP range to advertise.
type ServiceLoadBalancerIPBlock struct {
	CIDR string `json:"cidr,omitempty"`
}

// ServiceExternalIPBlock is one external IP range to advertise.
type ServiceExternalIPBlock struct {
	CIDR string `json:"cidr,omitempty"`
}

// ServiceClusterIPBlock is one service cluster IP range to advertise.
type ServiceClusterIPBlock struct {
	CIDR string `json:"cidr,omitempty"`
}

// Community names a BGP community value "aa:nn" (standard) or
// "aa:nn:mm" (large).
type Community struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// PrefixAdvertisement tags routes within CIDR with communities, each a
// name from BGPConfigurationSpec.Communities or a literal value.
type PrefixAdvertisement struct {
	CIDR        string   `json:"cidr,omitempty"`
	Communities []string `json:"communities,omitempty"`
}
