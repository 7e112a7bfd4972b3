package v3

import (
	"testing"
	"time"
)

func TestValidateFelixConfiguration(t *testing.T) {
	type F = *FelixConfiguration
	base := func() F { return &FelixConfiguration{ObjectMeta: ObjectMeta{Name: "default"}} }
	s := func(v string) *string { return &v }
	cases := []vcase[F]{
		ok("log levels any case", func(f F) {
			f.Spec.LogSeverityScreen, f.Spec.LogSeverityFile, f.Spec.LogSeveritySys = "info", "DEBUG", "Warning"
		}),
		bad("logSeverityScreen", "spec.logSeverityScreen", `"Loud"`, func(f F) { f.Spec.LogSeverityScreen = "Loud" }),
		bad("logSeverityFile", "spec.logSeverityFile", `"x"`, func(f F) { f.Spec.LogSeverityFile = "x" }),
		bad("logSeveritySys", "spec.logSeveritySys", `"y"`, func(f F) { f.Spec.LogSeveritySys = "y" }),
		ok("ports", func(f F) {
			f.Spec.HealthPort, f.Spec.PrometheusMetricsPort, f.Spec.VXLANPort = ptr(9099), ptr(9091), ptr(4789)
			f.Spec.WireguardListeningPort, f.Spec.WireguardListeningPortV6, f.Spec.MetadataPort = ptr(51820), ptr(51821), ptr(8775)
		}),
		bad("healthPort 0", "spec.healthPort", "0", func(f F) { f.Spec.HealthPort = ptr(0) }),
		bad("prometheusMetricsPort", "spec.prometheusMetricsPort", "65536", func(f F) { f.Spec.PrometheusMetricsPort = ptr(65536) }),
		bad("vxlanPort", "spec.vxlanPort", "-1", func(f F) { f.Spec.VXLANPort = ptr(-1) }),
		bad("metadataPort", "spec.metadataPort", "70000", func(f F) { f.Spec.MetadataPort = ptr(70000) }),
		bad("wireguardListeningPort", "spec.wireguardListeningPort", "0", func(f F) { f.Spec.WireguardListeningPort = ptr(0) }),
		bad("wireguardListeningPortV6", "spec.wireguardListeningPortV6", "65536", func(f F) { f.Spec.WireguardListeningPortV6 = ptr(65536) }),
		ok("MTUs", func(f F) {
			f.Spec.IPIPMTU, f.Spec.VXLANMTU, f.Spec.VXLANMTUV6, f.Spec.WireguardMTU, f.Spec.WireguardMTUV6 = ptr(0), ptr(1450), ptr(1430), ptr(1440), ptr(1420)
		}),
		bad("ipipMTU", "spec.ipipMTU", "-1", func(f F) { f.Spec.IPIPMTU = ptr(-1) }),
		bad("vxlanMTU", "spec.vxlanMTU", "-5", func(f F) { f.Spec.VXLANMTU = ptr(-5) }),
		bad("vxlanMTUV6", "spec.vxlanMTUV6", "-6", func(f F) { f.Spec.VXLANMTUV6 = ptr(-6) }),
		bad("wireguardMTU", "spec.wireguardMTU", "-7", func(f F) { f.Spec.WireguardMTU = ptr(-7) }),
		bad("wireguardMTUV6", "spec.wireguardMTUV6", "-8", func(f F) { f.Spec.WireguardMTUV6 = ptr(-8) }),
		bad("maxIpsetSize", "spec.maxIpsetSize", "-9", func(f F) { f.Spec.MaxIpsetSize = ptr(-9) }),
		bad("logActionRateLimitBurst", "spec.logActionRateLimitBurst", "-1", func(f F) { f.Spec.LogActionRateLimitBurst = ptr(-1) }),
		ok("vxlanVNI", func(f F) { f.Spec.VXLANVNI = ptr(4096) }),
		bad("vxlanVNI", "spec.vxlanVNI", "16777216", func(f F) { f.Spec.VXLANVNI = ptr(16777216) }),
		ok("deviceRouteProtocol", func(f F) { f.Spec.DeviceRouteProtocol = ptr(80) }),
		bad("deviceRouteProtocol", "spec.deviceRouteProtocol", "256", func(f F) { f.Spec.DeviceRouteProtocol = ptr(256) }),
		bad("wireguardRoutingRulePriority", "spec.wireguardRoutingRulePriority", "32766", func(f F) { f.Spec.WireguardRoutingRulePriority = ptr(32766) }),
		ok("route priorities", func(f F) {
			f.Spec.IPv4NormalRoutePriority, f.Spec.IPv6NormalRoutePriority = ptr(1024), ptr(1024)
			f.Spec.IPv4ElevatedRoutePriority, f.Spec.IPv6ElevatedRoutePriority = ptr(512), ptr(512)
		}),
		bad("ipv4NormalRoutePriority", "spec.ipv4NormalRoutePriority", "0", func(f F) { f.Spec.IPv4NormalRoutePriority = ptr(0) }),
		bad("ipv6NormalRoutePriority", "spec.ipv6NormalRoutePriority", "2147483647", func(f F) { f.Spec.IPv6NormalRoutePriority = ptr(2147483647) }),
		bad("ipv4ElevatedRoutePriority", "spec.ipv4ElevatedRoutePriority", "-1", func(f F) { f.Spec.IPv4ElevatedRoutePriority = ptr(-1) }),
		bad("ipv6ElevatedRoutePriority", "spec.ipv6ElevatedRoutePriority", "0", func(f F) { f.Spec.IPv6ElevatedRoutePriority = ptr(0) }),
		ok("actions any case", func(f F) {
			f.Spec.DefaultEndpointToHostAction, f.Spec.IptablesFilterAllowAction, f.Spec.IptablesMangleAllowAction = "ACCEPT", "return", "Accept"
			f.Spec.IptablesFilterDenyAction, f.Spec.NftablesFilterAllowAction, f.Spec.NftablesMangleAllowAction, f.Spec.NftablesFilterDenyAction = "REJECT", "Accept", "RETURN", "drop"
		}),
		ok("endpoint to host Return", func(f F) { f.Spec.DefaultEndpointToHostAction = "Return" }),
		bad("defaultEndpointToHostAction", "spec.defaultEndpointToHostAction", `"Allow"`, func(f F) { f.Spec.DefaultEndpointToHostAction = "Allow" }),
		bad("iptablesFilterAllowAction", "spec.iptablesFilterAllowAction", `"Drop"`, func(f F) { f.Spec.IptablesFilterAllowAction = "Drop" }),
		bad("iptablesMangleAllowAction", "spec.iptablesMangleAllowAction", `"Drop"`, func(f F) { f.Spec.IptablesMangleAllowAction = "Drop" }),
		bad("iptablesFilterDenyAction", "spec.iptablesFilterDenyAction", `"Accept"`, func(f F) { f.Spec.IptablesFilterDenyAction = "Accept" }),
		bad("nftablesFilterAllowAction", "spec.nftablesFilterAllowAction", `"Drop"`, func(f F) { f.Spec.NftablesFilterAllowAction = "Drop" }),
		bad("nftablesMangleAllowAction", "spec.nftablesMangleAllowAction", `"Drop"`, func(f F) { f.Spec.NftablesMangleAllowAction = "Drop" }),
		bad("nftablesFilterDenyAction", "spec.nftablesFilterDenyAction", `"Return"`, func(f F) { f.Spec.NftablesFilterDenyAction = "Return" }),
		ok("enums", func(f F) {
			f.Spec.NFTablesMode, f.Spec.IptablesBackend, f.Spec.RouteSource = s("Enabled"), s("NFT"), "WorkloadIPs"
			f.Spec.NATOutgoingExclusions, f.Spec.ProgramClusterRoutes, f.Spec.IPForwarding = s("IPPoolsAndHostIPs"), s("EnabledIPIPOnly"), s("Disabled")
			f.Spec.AWSSrcDstCheck, f.Spec.ServiceLoopPrevention, f.Spec.WorkloadSourceSpoofing = s("Disable"), "Reject", "Any"
			f.Spec.FloatingIPs, f.Spec.ChainInsertMode, f.Spec.BPFLogLevel, f.Spec.BPFExternalServiceMode = s("Enabled"), "Append", "debug", "DSR"
			f.Spec.BPFConnectTimeLoadBalancing, f.Spec.BPFHostNetworkedNATWithoutCTLB, f.Spec.BPFEnforceRPF = s("TCP"), s("Enabled"), "Loose"
		}),
		bad("nftablesMode", "spec.nftablesMode", `"On"`, func(f F) { f.Spec.NFTablesMode = s("On") }),
		bad("iptablesBackend", "spec.iptablesBackend", `"nft"`, func(f F) { f.Spec.IptablesBackend = s("nft") }),
		bad("routeSource", "spec.routeSource", `"BGP"`, func(f F) { f.Spec.RouteSource = "BGP" }),
		bad("natOutgoingExclusions", "spec.natOutgoingExclusions", `"None"`, func(f F) { f.Spec.NATOutgoingExclusions = s("None") }),
		bad("programClusterRoutes", "spec.programClusterRoutes", `"Auto"`, func(f F) { f.Spec.ProgramClusterRoutes = s("Auto") }),
		bad("ipForwarding", "spec.ipForwarding", `"On"`, func(f F) { f.Spec.IPForwarding = s("On") }),
		bad("awsSrcDstCheck", "spec.awsSrcDstCheck", `"Nothing"`, func(f F) { f.Spec.AWSSrcDstCheck = s("Nothing") }),
		bad("serviceLoopPrevention", "spec.serviceLoopPrevention", `"Accept"`, func(f F) { f.Spec.ServiceLoopPrevention = "Accept" }),
		bad("workloadSourceSpoofing", "spec.workloadSourceSpoofing", `"All"`, func(f F) { f.Spec.WorkloadSourceSpoofing = "All" }),
		bad("floatingIPs", "spec.floatingIPs", `"On"`, func(f F) { f.Spec.FloatingIPs = s("On") }),
		bad("chainInsertMode", "spec.chainInsertMode", `"prepend"`, func(f F) { f.Spec.ChainInsertMode = "prepend" }),
		bad("bpfLogLevel", "spec.bpfLogLevel", `"Trace"`, func(f F) { f.Spec.BPFLogLevel = "Trace" }),
		bad("bpfExternalServiceMode", "spec.bpfExternalServiceMode", `"NAT"`, func(f F) { f.Spec.BPFExternalServiceMode = "NAT" }),
		bad("bpfConnectTimeLoadBalancing", "spec.bpfConnectTimeLoadBalancing", `"UDP"`, func(f F) { f.Spec.BPFConnectTimeLoadBalancing = s("UDP") }),
		bad("bpfHostNetworkedNATWithoutCTLB", "spec.bpfHostNetworkedNATWithoutCTLB", `"On"`, func(f F) { f.Spec.BPFHostNetworkedNATWithoutCTLB = s("On") }),
		bad("bpfEnforceRPF", "spec.bpfEnforceRPF", `"Tight"`, func(f F) { f.Spec.BPFEnforceRPF = "Tight" }),
		ok("failsafes", func(f F) {
			f.Spec.FailsafeInboundHostPorts = &[]ProtoPort{{Protocol: "tcp", Port: 22}, {Protocol: "UDP", Port: 68}, {Protocol: "sctp", Port: 1, Net: "10.0.0.0/8"}, {Port: 179}}
			f.Spec.FailsafeOutboundHostPorts = &[]ProtoPort{}
		}),
		bad("failsafe protocol", "spec.failsafeInboundHostPorts[0].protocol", `"icmp"`, func(f F) { f.Spec.FailsafeInboundHostPorts = &[]ProtoPort{{Protocol: "icmp", Port: 1}} }),
		bad("failsafe port", "spec.failsafeOutboundHostPorts[1].port", "65536", func(f F) {
			f.Spec.FailsafeOutboundHostPorts = &[]ProtoPort{{Protocol: "tcp", Port: 1}, {Protocol: "udp", Port: 65536}}
		}),
		bad("failsafe net", "spec.failsafeInboundHostPorts[0].net", `"any"`, func(f F) { f.Spec.FailsafeInboundHostPorts = &[]ProtoPort{{Protocol: "tcp", Port: 22, Net: "any"}} }),
		ok("durations", func(f F) {
			f.Spec.ReportingInterval, f.Spec.RouteRefreshInterval, f.Spec.NftablesRefreshInterval = NewDuration(0), NewDuration(90*time.Second), NewDuration(3*time.Minute)
			f.Spec.HealthTimeoutOverrides = []HealthTimeoutOverride{{Name: "InternalDataplaneMainLoop", Timeout: Duration{time.Minute}}}
		}),
		bad("reportingInterval", "spec.reportingInterval", `"-1s"`, func(f F) { f.Spec.ReportingInterval = NewDuration(-time.Second) }),
		bad("reportingTTL", "spec.reportingTTL", `"-1s"`, func(f F) { f.Spec.ReportingTTL = NewDuration(-time.Second) }),
		bad("routeRefreshInterval", "spec.routeRefreshInterval", `"-1s"`, func(f F) { f.Spec.RouteRefreshInterval = NewDuration(-time.Second) }),
		bad("interfaceRefreshInterval", "spec.interfaceRefreshInterval", `"-2s"`, func(f F) { f.Spec.InterfaceRefreshInterval = NewDuration(-2 * time.Second) }),
		bad("nftablesRefreshInterval", "spec.nftablesRefreshInterval", `"-3s"`, func(f F) { f.Spec.NftablesRefreshInterval = NewDuration(-3 * time.Second) }),
		bad("wireguardKeepAlive", "spec.wireguardKeepAlive", `"-1s"`, func(f F) { f.Spec.WireguardPersistentKeepAlive = NewDuration(-time.Second) }),
		bad("health override name", "spec.healthTimeoutOverrides[0].name", "is required", func(f F) {
			f.Spec.HealthTimeoutOverrides = []HealthTimeoutOverride{{Timeout: Duration{time.Second}}}
		}),
		bad("health override timeout", "spec.healthTimeoutOverrides[0].timeout", `"-1s"`, func(f F) {
			f.Spec.HealthTimeoutOverrides = []HealthTimeoutOverride{{Name: "x", Timeout: Duration{-time.Second}}}
		}),
		ok("route table ranges", func(f F) {
			f.Spec.RouteTableRanges = &[]RouteTableIDRange{{Min: 1, Max: 250}, {Min: 256, Max: 4294967295}}
		}),
		bad("route table min > max", "spec.routeTableRanges[0]", "min 10, max 5", func(f F) { f.Spec.RouteTableRanges = &[]RouteTableIDRange{{Min: 10, Max: 5}} }),
		bad("route table 0", "spec.routeTableRanges[0]", "min 0, max 5", func(f F) { f.Spec.RouteTableRanges = &[]RouteTableIDRange{{Min: 0, Max: 5}} }),
		bad("route table too big", "spec.routeTableRanges[1]", "4294967296", func(f F) {
			f.Spec.RouteTableRanges = &[]RouteTableIDRange{{Min: 1, Max: 2}, {Min: 300, Max: 4294967296}}
		}),
		bad("route table reserved", "spec.routeTableRanges[0]", "min 1, max 254", func(f F) { f.Spec.RouteTableRanges = &[]RouteTableIDRange{{Min: 1, Max: 254}} }),
		ok("route table range (deprecated)", func(f F) { f.Spec.RouteTableRange = &RouteTableRange{Min: 1, Max: 250} }),
		bad("route table range (deprecated)", "spec.routeTableRange", "min 1, max 251", func(f F) { f.Spec.RouteTableRange = &RouteTableRange{Min: 1, Max: 251} }),
		bad("route table range order (deprecated)", "spec.routeTableRange", "min 9, max 8", func(f F) { f.Spec.RouteTableRange = &RouteTableRange{Min: 9, Max: 8} }),
		ok("addresses", func(f F) {
			f.Spec.NATOutgoingAddress, f.Spec.DeviceRouteSourceAddress, f.Spec.DeviceRouteSourceAddressIPv6 = "1.2.3.4", "10.0.0.1", "fd00::1"
			f.Spec.HealthHost, f.Spec.PrometheusMetricsHost = s("localhost"), "::"
			f.Spec.ExternalNodesCIDRList, f.Spec.BPFDSROptoutCIDRs = &[]string{"192.168.0.0/16"}, &[]string{"10.0.0.0/8"}
		}),
		bad("natOutgoingAddress", "spec.natOutgoingAddress", `"eth0"`, func(f F) { f.Spec.NATOutgoingAddress = "eth0" }),
		bad("deviceRouteSourceAddress", "spec.deviceRouteSourceAddress", `"fd00::1"`, func(f F) { f.Spec.DeviceRouteSourceAddress = "fd00::1" }),
		bad("deviceRouteSourceAddressIPv6", "spec.deviceRouteSourceAddressIPv6", `"10.0.0.1"`, func(f F) { f.Spec.DeviceRouteSourceAddressIPv6 = "10.0.0.1" }),
		bad("healthHost", "spec.healthHost", `"a b"`, func(f F) { f.Spec.HealthHost = s("a b") }),
		bad("prometheusMetricsHost", "spec.prometheusMetricsHost", `"h/1"`, func(f F) { f.Spec.PrometheusMetricsHost = "h/1" }),
		bad("externalNodesList", "spec.externalNodesList[0]", `"x"`, func(f F) { f.Spec.ExternalNodesCIDRList = &[]string{"x"} }),
		bad("bpfDSROptoutCIDRs", "spec.bpfDSROptoutCIDRs[0]", `"y"`, func(f F) { f.Spec.BPFDSROptoutCIDRs = &[]string{"y"} }),
		ok("node selector", func(f F) { f.Spec.NodeSelector = "role == 'edge'" }),
		bad("node selector", "spec.nodeSelector", `"role =="`, func(f F) { f.Spec.NodeSelector = "role ==" }),
		bad("node selector global", "spec.nodeSelector", `"global()"`, func(f F) { f.Spec.NodeSelector = "global()" }),
		ok("regexes", func(f F) { f.Spec.MTUIfacePattern, f.Spec.LogDebugFilenameRegex = `^((en|wl)[ops].*|eth.*)`, "route.*" }),
		bad("mtuIfacePattern", "spec.mtuIfacePattern", `"(eth"`, func(f F) { f.Spec.MTUIfacePattern = "(eth" }),
		bad("logDebugFilenameRegex", "spec.logDebugFilenameRegex", `"["`, func(f F) { f.Spec.LogDebugFilenameRegex = "[" }),
		bad("bpfDataIfacePattern", "spec.bpfDataIfacePattern", `"*"`, func(f F) { f.Spec.BPFDataIfacePattern = "*" }),
		bad("bpfL3IfacePattern", "spec.bpfL3IfacePattern", `"+"`, func(f F) { f.Spec.BPFL3IfacePattern = "+" }),
		ok("wireguard interface names", func(f F) {
			f.Spec.WireguardInterfaceName, f.Spec.WireguardInterfaceNameV6 = "wireguard.cali", "wg-v6.cali"
		}),
		bad("wireguardInterfaceName", "spec.wireguardInterfaceName", `"wireguard.calico0"`, func(f F) { f.Spec.WireguardInterfaceName = "wireguard.calico0" }),
		bad("wireguardInterfaceNameV6", "spec.wireguardInterfaceNameV6", `"wg v6"`, func(f F) { f.Spec.WireguardInterfaceNameV6 = "wg v6" }),
		ok("nat interface filter", func(f F) { f.Spec.IptablesNATOutgoingInterfaceFilter = "eth+" }),
		bad("nat interface filter", "spec.iptablesNATOutgoingInterfaceFilter", `"eth*"`, func(f F) { f.Spec.IptablesNATOutgoingInterfaceFilter = "eth*" }),
		ok("openstack region", func(f F) { f.Spec.OpenstackRegion = "region-1" }),
		bad("openstack region", "spec.openstackRegion", `"Region_1"`, func(f F) { f.Spec.OpenstackRegion = "Region_1" }),
		ok("port ranges", func(f F) {
			f.Spec.KubeNodePortRanges, f.Spec.NATPortRange = &[]Port{PortRange(30000, 32767), SinglePort(80)}, ptr(PortRange(32768, 65535))
			f.Spec.BPFPSNATPorts = ptr(PortRange(20000, 29999))
		}),
		bad("kubeNodePortRanges named", "spec.kubeNodePortRanges[0]", `"http"`, func(f F) { f.Spec.KubeNodePortRanges = &[]Port{NamedPort("http")} }),
		bad("kubeNodePortRanges too many", "spec.kubeNodePortRanges", "8", func(f F) {
			f.Spec.KubeNodePortRanges = &[]Port{SinglePort(1), SinglePort(2), SinglePort(3), SinglePort(4), SinglePort(5), SinglePort(6), SinglePort(7), SinglePort(8)}
		}),
		bad("natPortRange order", "spec.natPortRange", `"200:100"`, func(f F) { f.Spec.NATPortRange = ptr(PortRange(200, 100)) }),
		bad("natPortRange zero", "spec.natPortRange", `"0"`, func(f F) { f.Spec.NATPortRange = ptr(SinglePort(0)) }),
		bad("bpfPSNATPorts named", "spec.bpfPSNATPorts", `"x"`, func(f F) { f.Spec.BPFPSNATPorts = ptr(NamedPort("x")) }),
	}
	runCases(t, base, cases)
}
