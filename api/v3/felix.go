package v3

// FelixConfiguration holds dataplane-agent settings (cluster-scoped):
// "default" is global, "node.<name>" is per node, and any other name
// applies to the nodes its spec.nodeSelector picks. Every field is
// optional; nil (or "") means "use the built-in default", and defaults are
// never written into the stored object.
type FelixConfiguration struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       FelixConfigurationSpec `json:"spec"`
}

// FelixConfigurationSpec is the desired state of a FelixConfiguration.
// Field order follows Calico's so that the stored JSON matches.
type FelixConfigurationSpec struct {
	UseInternalDataplaneDriver     *bool     `json:"useInternalDataplaneDriver,omitempty"`
	DataplaneDriver                string    `json:"dataplaneDriver,omitempty"`
	DataplaneWatchdogTimeout       *Duration `json:"dataplaneWatchdogTimeout,omitempty"`
	IPv6Support                    *bool     `json:"ipv6Support,omitempty"`
	RouteRefreshInterval           *Duration `json:"routeRefreshInterval,omitempty"`
	InterfaceRefreshInterval       *Duration `json:"interfaceRefreshInterval,omitempty"`
	IptablesRefreshInterval        *Duration `json:"iptablesRefreshInterval,omitempty"`
	IptablesPostWriteCheckInterval *Duration `json:"iptablesPostWriteCheckInterval,omitempty"`
	IptablesLockFilePath           string    `json:"iptablesLockFilePath,omitempty"`
	IptablesLockTimeout            *Duration `json:"iptablesLockTimeout,omitempty"`
	IptablesLockProbeInterval      *Duration `json:"iptablesLockProbeInterval,omitempty"`
	FeatureDetectOverride          string    `json:"featureDetectOverride,omitempty"`
	FeatureGates                   string    `json:"featureGates,omitempty"`
	IpsetsRefreshInterval          *Duration `json:"ipsetsRefreshInterval,omitempty"`
	MaxIpsetSize                   *int      `json:"maxIpsetSize,omitempty"`
	// IptablesBackend is Legacy, NFT or Auto.
	IptablesBackend    *string   `json:"iptablesBackend,omitempty"`
	XDPRefreshInterval *Duration `json:"xdpRefreshInterval,omitempty"`
	NetlinkTimeout     *Duration `json:"netlinkTimeout,omitempty"`
	MetadataAddr       string    `json:"metadataAddr,omitempty"`
	MetadataPort       *int      `json:"metadataPort,omitempty"`
	OpenstackRegion    string    `json:"openstackRegion,omitempty"`
	// InterfacePrefix names workload interfaces (default "cali"; a comma list).
	InterfacePrefix string `json:"interfacePrefix,omitempty"`
	// InterfaceExclude lists host interfaces to ignore (names or /regex/).
	InterfaceExclude string `json:"interfaceExclude,omitempty"`
	ChainInsertMode  string `json:"chainInsertMode,omitempty"`
	// DefaultEndpointToHostAction is Drop, Return or Accept.
	DefaultEndpointToHostAction string  `json:"defaultEndpointToHostAction,omitempty"`
	IptablesFilterAllowAction   string  `json:"iptablesFilterAllowAction,omitempty"`
	IptablesMangleAllowAction   string  `json:"iptablesMangleAllowAction,omitempty"`
	IptablesFilterDenyAction    string  `json:"iptablesFilterDenyAction,omitempty"`
	LogPrefix                   string  `json:"logPrefix,omitempty"`
	LogActionRateLimit          *string `json:"logActionRateLimit,omitempty"`
	LogActionRateLimitBurst     *int    `json:"logActionRateLimitBurst,omitempty"`
	LogFilePath                 string  `json:"logFilePath,omitempty"`
	LogSeverityFile             string  `json:"logSeverityFile,omitempty"`
	LogSeverityScreen           string  `json:"logSeverityScreen,omitempty"`
	LogSeveritySys              string  `json:"logSeveritySys,omitempty"`
	LogDebugFilenameRegex       string  `json:"logDebugFilenameRegex,omitempty"`
	// IPIPEnabled forces the IPIP device on or off; nil works it out from pools.
	IPIPEnabled *bool `json:"ipipEnabled,omitempty"`
	// IPIPMTU is the tunl0 MTU; 0 means host MTU - 20.
	IPIPMTU *int `json:"ipipMTU,omitempty"`
	// VXLANEnabled forces the VXLAN device on or off; nil works it out from pools.
	VXLANEnabled *bool `json:"vxlanEnabled,omitempty"`
	// VXLANMTU is the vxlan.calico MTU; 0 means host MTU - 50.
	VXLANMTU *int `json:"vxlanMTU,omitempty"`
	// VXLANMTUV6 is the vxlan-v6.calico MTU; 0 means host MTU - 70.
	VXLANMTUV6 *int `json:"vxlanMTUV6,omitempty"`
	// VXLANPort is the UDP port (default 4789).
	VXLANPort *int `json:"vxlanPort,omitempty"`
	// VXLANVNI is the VXLAN network identifier (default 4096).
	VXLANVNI                          *int                    `json:"vxlanVNI,omitempty"`
	AllowVXLANPacketsFromWorkloads    *bool                   `json:"allowVXLANPacketsFromWorkloads,omitempty"`
	AllowIPIPPacketsFromWorkloads     *bool                   `json:"allowIPIPPacketsFromWorkloads,omitempty"`
	ReportingInterval                 *Duration               `json:"reportingInterval,omitempty"`
	ReportingTTL                      *Duration               `json:"reportingTTL,omitempty"`
	EndpointReportingEnabled          *bool                   `json:"endpointReportingEnabled,omitempty"`
	EndpointReportingDelay            *Duration               `json:"endpointReportingDelay,omitempty"`
	EndpointStatusPathPrefix          string                  `json:"endpointStatusPathPrefix,omitempty"`
	IptablesMarkMask                  *uint32                 `json:"iptablesMarkMask,omitempty"`
	DisableConntrackInvalidCheck      *bool                   `json:"disableConntrackInvalidCheck,omitempty"`
	HealthEnabled                     *bool                   `json:"healthEnabled,omitempty"`
	HealthHost                        *string                 `json:"healthHost,omitempty"`
	HealthPort                        *int                    `json:"healthPort,omitempty"`
	HealthTimeoutOverrides            []HealthTimeoutOverride `json:"healthTimeoutOverrides,omitempty"`
	PrometheusMetricsEnabled          *bool                   `json:"prometheusMetricsEnabled,omitempty"`
	PrometheusMetricsHost             string                  `json:"prometheusMetricsHost,omitempty"`
	PrometheusMetricsPort             *int                    `json:"prometheusMetricsPort,omitempty"`
	PrometheusGoMetricsEnabled        *bool                   `json:"prometheusGoMetricsEnabled,omitempty"`
	PrometheusProcessMetricsEnabled   *bool                   `json:"prometheusProcessMetricsEnabled,omitempty"`
	PrometheusWireGuardMetricsEnabled *bool                   `json:"prometheusWireGuardMetricsEnabled,omitempty"`
	// FailsafeInboundHostPorts are always allowed into host endpoints.
	FailsafeInboundHostPorts *[]ProtoPort `json:"failsafeInboundHostPorts,omitempty"`
	// FailsafeOutboundHostPorts are always allowed out of host endpoints.
	FailsafeOutboundHostPorts  *[]ProtoPort `json:"failsafeOutboundHostPorts,omitempty"`
	KubeNodePortRanges         *[]Port      `json:"kubeNodePortRanges,omitempty"`
	PolicySyncPathPrefix       string       `json:"policySyncPathPrefix,omitempty"`
	UsageReportingEnabled      *bool        `json:"usageReportingEnabled,omitempty"`
	UsageReportingInitialDelay *Duration    `json:"usageReportingInitialDelay,omitempty"`
	UsageReportingInterval     *Duration    `json:"usageReportingInterval,omitempty"`
	NATPortRange               *Port        `json:"natPortRange,omitempty"`
	// NATOutgoingAddress is the SNAT source instead of MASQUERADE.
	NATOutgoingAddress string `json:"natOutgoingAddress,omitempty"`
	// NATOutgoingExclusions is IPPoolsOnly or IPPoolsAndHostIPs.
	NATOutgoingExclusions        *string `json:"natOutgoingExclusions,omitempty"`
	DeviceRouteSourceAddress     string  `json:"deviceRouteSourceAddress,omitempty"`
	DeviceRouteSourceAddressIPv6 string  `json:"deviceRouteSourceAddressIPv6,omitempty"`
	// DeviceRouteProtocol marks the routes Felix programs (default 3, boot).
	DeviceRouteProtocol  *int  `json:"deviceRouteProtocol,omitempty"`
	RemoveExternalRoutes *bool `json:"removeExternalRoutes,omitempty"`
	// ProgramClusterRoutes is Enabled, Disabled, EnabledIPIPOnly or EnabledNoEncapOnly.
	ProgramClusterRoutes *string `json:"programClusterRoutes,omitempty"`
	// IPForwarding is Enabled or Disabled.
	IPForwarding                       *string   `json:"ipForwarding,omitempty"`
	ExternalNodesCIDRList              *[]string `json:"externalNodesList,omitempty"`
	DebugMemoryProfilePath             string    `json:"debugMemoryProfilePath,omitempty"`
	DebugDisableLogDropping            *bool     `json:"debugDisableLogDropping,omitempty"`
	DebugSimulateCalcGraphHangAfter    *Duration `json:"debugSimulateCalcGraphHangAfter,omitempty"`
	DebugSimulateDataplaneHangAfter    *Duration `json:"debugSimulateDataplaneHangAfter,omitempty"`
	IptablesNATOutgoingInterfaceFilter string    `json:"iptablesNATOutgoingInterfaceFilter,omitempty"`
	SidecarAccelerationEnabled         *bool     `json:"sidecarAccelerationEnabled,omitempty"`
	XDPEnabled                         *bool     `json:"xdpEnabled,omitempty"`
	GenericXDPEnabled                  *bool     `json:"genericXDPEnabled,omitempty"`
	// NFTablesMode is Enabled, Disabled or Auto.
	NFTablesMode                       *string   `json:"nftablesMode,omitempty"`
	NftablesRefreshInterval            *Duration `json:"nftablesRefreshInterval,omitempty"`
	NftablesFilterAllowAction          string    `json:"nftablesFilterAllowAction,omitempty"`
	NftablesMangleAllowAction          string    `json:"nftablesMangleAllowAction,omitempty"`
	NftablesFilterDenyAction           string    `json:"nftablesFilterDenyAction,omitempty"`
	NftablesMarkMask                   *uint32   `json:"nftablesMarkMask,omitempty"`
	BPFEnabled                         *bool     `json:"bpfEnabled,omitempty"`
	BPFDisableUnprivileged             *bool     `json:"bpfDisableUnprivileged,omitempty"`
	BPFLogLevel                        string    `json:"bpfLogLevel,omitempty"`
	BPFDataIfacePattern                string    `json:"bpfDataIfacePattern,omitempty"`
	BPFL3IfacePattern                  string    `json:"bpfL3IfacePattern,omitempty"`
	BPFConnectTimeLoadBalancingEnabled *bool     `json:"bpfConnectTimeLoadBalancingEnabled,omitempty"`
	BPFConnectTimeLoadBalancing        *string   `json:"bpfConnectTimeLoadBalancing,omitempty"`
	BPFHostNetworkedNATWithoutCTLB     *string   `json:"bpfHostNetworkedNATWithoutCTLB,omitempty"`
	BPFExternalServiceMode             string    `json:"bpfExternalServiceMode,omitempty"`
	BPFDSROptoutCIDRs                  *[]string `json:"bpfDSROptoutCIDRs,omitempty"`
	BPFExtToServiceConnmark            *int      `json:"bpfExtToServiceConnmark,omitempty"`
	BPFKubeProxyIptablesCleanupEnabled *bool     `json:"bpfKubeProxyIptablesCleanupEnabled,omitempty"`
	BPFKubeProxyMinSyncPeriod          *Duration `json:"bpfKubeProxyMinSyncPeriod,omitempty"`
	BPFKubeProxyEndpointSlicesEnabled  *bool     `json:"bpfKubeProxyEndpointSlicesEnabled,omitempty"`
	BPFPSNATPorts                      *Port     `json:"bpfPSNATPorts,omitempty"`
	BPFMapSizeNATFrontend              *int      `json:"bpfMapSizeNATFrontend,omitempty"`
	BPFMapSizeNATBackend               *int      `json:"bpfMapSizeNATBackend,omitempty"`
	BPFMapSizeNATAffinity              *int      `json:"bpfMapSizeNATAffinity,omitempty"`
	BPFMapSizeRoute                    *int      `json:"bpfMapSizeRoute,omitempty"`
	BPFMapSizeConntrack                *int      `json:"bpfMapSizeConntrack,omitempty"`
	BPFMapSizeIPSets                   *int      `json:"bpfMapSizeIPSets,omitempty"`
	BPFMapSizeIfState                  *int      `json:"bpfMapSizeIfState,omitempty"`
	BPFHostConntrackBypass             *bool     `json:"bpfHostConntrackBypass,omitempty"`
	BPFEnforceRPF                      string    `json:"bpfEnforceRPF,omitempty"`
	BPFPolicyDebugEnabled              *bool     `json:"bpfPolicyDebugEnabled,omitempty"`
	// RouteSource is CalicoIPAM (default) or WorkloadIPs.
	RouteSource string `json:"routeSource,omitempty"`
	// RouteTableRanges are the kernel route tables Felix may use.
	RouteTableRanges *[]RouteTableIDRange `json:"routeTableRanges,omitempty"`
	// RouteTableRange is the deprecated single-range form of RouteTableRanges.
	RouteTableRange                *RouteTableRange `json:"routeTableRange,omitempty"`
	RouteSyncDisabled              *bool            `json:"routeSyncDisabled,omitempty"`
	WireguardEnabled               *bool            `json:"wireguardEnabled,omitempty"`
	WireguardEnabledV6             *bool            `json:"wireguardEnabledV6,omitempty"`
	WireguardListeningPort         *int             `json:"wireguardListeningPort,omitempty"`
	WireguardListeningPortV6       *int             `json:"wireguardListeningPortV6,omitempty"`
	WireguardRoutingRulePriority   *int             `json:"wireguardRoutingRulePriority,omitempty"`
	WireguardInterfaceName         string           `json:"wireguardInterfaceName,omitempty"`
	WireguardInterfaceNameV6       string           `json:"wireguardInterfaceNameV6,omitempty"`
	WireguardMTU                   *int             `json:"wireguardMTU,omitempty"`
	WireguardMTUV6                 *int             `json:"wireguardMTUV6,omitempty"`
	WireguardHostEncryptionEnabled *bool            `json:"wireguardHostEncryptionEnabled,omitempty"`
	WireguardPersistentKeepAlive   *Duration        `json:"wireguardKeepAlive,omitempty"`
	AWSSrcDstCheck                 *string          `json:"awsSrcDstCheck,omitempty"`
	ServiceLoopPrevention          string           `json:"serviceLoopPrevention,omitempty"`
	WorkloadSourceSpoofing         string           `json:"workloadSourceSpoofing,omitempty"`
	// MTUIfacePattern picks the host interfaces used for MTU detection.
	MTUIfacePattern string  `json:"mtuIfacePattern,omitempty"`
	FloatingIPs     *string `json:"floatingIPs,omitempty"`
	// RequireMTUFile makes the CNI plugin fail when the MTU file is missing.
	RequireMTUFile            *bool `json:"requireMTUFile,omitempty"`
	IPv4NormalRoutePriority   *int  `json:"ipv4NormalRoutePriority,omitempty"`
	IPv6NormalRoutePriority   *int  `json:"ipv6NormalRoutePriority,omitempty"`
	IPv4ElevatedRoutePriority *int  `json:"ipv4ElevatedRoutePriority,omitempty"`
	IPv6ElevatedRoutePriority *int  `json:"ipv6ElevatedRoutePriority,omitempty"`
	// NodeSelector makes this configuration apply to the nodes it selects.
	NodeSelector string `json:"nodeSelector,omitempty"`
}

// ProtoPort is one failsafe entry: a protocol (tcp, udp or sctp; tcp when
// empty), a port, and optionally the peer network it applies to.
type ProtoPort struct {
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	Net      string `json:"net,omitempty"`
}

// RouteTableIDRange is an inclusive range of kernel route table numbers.
type RouteTableIDRange struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// RouteTableRange is the deprecated form of RouteTableIDRange (tables 1-250).
type RouteTableRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// HealthTimeoutOverride changes the liveness/readiness timeout of one of
// Felix's internal health reporters.
type HealthTimeoutOverride struct {
	Name    string   `json:"name"`
	Timeout Duration `json:"timeout"`
}
