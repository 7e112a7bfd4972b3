package v3

import "fmt"

// Felix log levels; Felix matches them case-insensitively.
var felixLogLevels = []string{"Trace", "Debug", "Info", "Warning", "Error", "Fatal"}

const (
	maxKubeNodePortRanges = 7 // iptables multiport takes 15 ports; a range is 2
	maxVXLANVNI           = 1<<24 - 1
	maxRouteTable         = 4294967295
	maxOpenstackRegionLen = 63 - len("openstack-region-")
)

// Route tables the kernel reserves (default, main, local).
const reservedTablesMin, reservedTablesMax = 253, 255

func validateFelix(e *errs, s *FelixConfigurationSpec) {
	validateFelixEnums(e, s)
	validateFelixNumbers(e, s)
	validateFelixDurations(e, s)
	validateFelixAddresses(e, s)
	validateFailsafes(e, "spec.failsafeInboundHostPorts", s.FailsafeInboundHostPorts)
	validateFailsafes(e, "spec.failsafeOutboundHostPorts", s.FailsafeOutboundHostPorts)
	validateRouteTables(e, s)
	e.selector("spec.nodeSelector", s.NodeSelector, false)
	e.regex("spec.mtuIfacePattern", s.MTUIfacePattern)
	e.regex("spec.logDebugFilenameRegex", s.LogDebugFilenameRegex)
	e.regex("spec.bpfDataIfacePattern", s.BPFDataIfacePattern)
	e.regex("spec.bpfL3IfacePattern", s.BPFL3IfacePattern)
	if s.WireguardInterfaceName != "" {
		e.iface("spec.wireguardInterfaceName", s.WireguardInterfaceName)
	}
	if s.WireguardInterfaceNameV6 != "" {
		e.iface("spec.wireguardInterfaceNameV6", s.WireguardInterfaceNameV6)
	}
	if f := s.IptablesNATOutgoingInterfaceFilter; f != "" && !ifaceFilterRe().MatchString(f) {
		e.add("spec.iptablesNATOutgoingInterfaceFilter", f, "must be 1-15 characters from [a-zA-Z0-9:._+-]")
	}
	if r := s.OpenstackRegion; r != "" && (len(r) > maxOpenstackRegionLen || !dns1123LabelRe().MatchString(r)) {
		e.addf("spec.openstackRegion", r, "must be a DNS-1123 label of at most %d characters", maxOpenstackRegionLen)
	}
	if s.KubeNodePortRanges != nil {
		rs := *s.KubeNodePortRanges
		if len(rs) > maxKubeNodePortRanges {
			e.addf("spec.kubeNodePortRanges", len(rs), "must have at most %d entries", maxKubeNodePortRanges)
		}
		for i, p := range rs {
			validatePort(e, at("spec.kubeNodePortRanges", i), p, false)
		}
	}
	if s.NATPortRange != nil {
		validatePort(e, "spec.natPortRange", *s.NATPortRange, false)
	}
	if s.BPFPSNATPorts != nil {
		validatePort(e, "spec.bpfPSNATPorts", *s.BPFPSNATPorts, false)
	}
}

func validateFelixEnums(e *errs, s *FelixConfigurationSpec) {
	for _, f := range []struct{ field, v string }{
		{"spec.logSeverityScreen", s.LogSeverityScreen},
		{"spec.logSeverityFile", s.LogSeverityFile},
		{"spec.logSeveritySys", s.LogSeveritySys},
	} {
		e.oneOfFold(f.field, f.v, felixLogLevels...)
	}
	e.oneOfFold("spec.defaultEndpointToHostAction", s.DefaultEndpointToHostAction, "Drop", "Return", "Accept")
	e.oneOfFold("spec.iptablesFilterAllowAction", s.IptablesFilterAllowAction, "Accept", "Return")
	e.oneOfFold("spec.iptablesMangleAllowAction", s.IptablesMangleAllowAction, "Accept", "Return")
	e.oneOfFold("spec.iptablesFilterDenyAction", s.IptablesFilterDenyAction, "Drop", "Reject")
	e.oneOfFold("spec.nftablesFilterAllowAction", s.NftablesFilterAllowAction, "Accept", "Return")
	e.oneOfFold("spec.nftablesMangleAllowAction", s.NftablesMangleAllowAction, "Accept", "Return")
	e.oneOfFold("spec.nftablesFilterDenyAction", s.NftablesFilterDenyAction, "Drop", "Reject")
	e.oneOfFold("spec.chainInsertMode", s.ChainInsertMode, "insert", "append")
	e.oneOf("spec.nftablesMode", str(s.NFTablesMode), "Enabled", "Disabled", "Auto")
	e.oneOf("spec.iptablesBackend", str(s.IptablesBackend), "Legacy", "NFT", "Auto")
	e.oneOf("spec.routeSource", s.RouteSource, "CalicoIPAM", "WorkloadIPs")
	e.oneOf("spec.natOutgoingExclusions", str(s.NATOutgoingExclusions), "IPPoolsOnly", "IPPoolsAndHostIPs")
	e.oneOf("spec.programClusterRoutes", str(s.ProgramClusterRoutes), programClusterRoutesValues...)
	e.oneOf("spec.ipForwarding", str(s.IPForwarding), "Enabled", "Disabled")
	e.oneOf("spec.awsSrcDstCheck", str(s.AWSSrcDstCheck), "DoNothing", "Enable", "Disable")
	e.oneOf("spec.serviceLoopPrevention", s.ServiceLoopPrevention, "Drop", "Reject", "Disabled")
	e.oneOf("spec.workloadSourceSpoofing", s.WorkloadSourceSpoofing, "Disabled", "Any")
	e.oneOf("spec.floatingIPs", str(s.FloatingIPs), "Enabled", "Disabled")
	e.oneOfFold("spec.bpfLogLevel", s.BPFLogLevel, "Off", "Info", "Debug")
	e.oneOfFold("spec.bpfExternalServiceMode", s.BPFExternalServiceMode, "Tunnel", "DSR")
	e.oneOf("spec.bpfConnectTimeLoadBalancing", str(s.BPFConnectTimeLoadBalancing), "TCP", "Enabled", "Disabled")
	e.oneOf("spec.bpfHostNetworkedNATWithoutCTLB", str(s.BPFHostNetworkedNATWithoutCTLB), "Enabled", "Disabled")
	e.oneOfFold("spec.bpfEnforceRPF", s.BPFEnforceRPF, "Disabled", "Strict", "Loose")
}

func validateFelixNumbers(e *errs, s *FelixConfigurationSpec) {
	for _, p := range []struct {
		field string
		v     *int
	}{
		{"spec.healthPort", s.HealthPort},
		{"spec.prometheusMetricsPort", s.PrometheusMetricsPort},
		{"spec.vxlanPort", s.VXLANPort},
		{"spec.metadataPort", s.MetadataPort},
		{"spec.wireguardListeningPort", s.WireguardListeningPort},
		{"spec.wireguardListeningPortV6", s.WireguardListeningPortV6},
	} {
		e.intRange(p.field, p.v, 1, 65535)
	}
	for _, m := range []struct {
		field string
		v     *int
	}{
		{"spec.ipipMTU", s.IPIPMTU},
		{"spec.vxlanMTU", s.VXLANMTU},
		{"spec.vxlanMTUV6", s.VXLANMTUV6},
		{"spec.wireguardMTU", s.WireguardMTU},
		{"spec.wireguardMTUV6", s.WireguardMTUV6},
		{"spec.maxIpsetSize", s.MaxIpsetSize},
		{"spec.logActionRateLimitBurst", s.LogActionRateLimitBurst},
	} {
		if m.v != nil && *m.v < 0 {
			e.add(m.field, *m.v, "must not be negative")
		}
	}
	e.intRange("spec.vxlanVNI", s.VXLANVNI, 0, maxVXLANVNI)
	e.intRange("spec.deviceRouteProtocol", s.DeviceRouteProtocol, 0, 255)
	e.intRange("spec.wireguardRoutingRulePriority", s.WireguardRoutingRulePriority, 1, 32765)
	e.intRange("spec.ipv4NormalRoutePriority", s.IPv4NormalRoutePriority, minRoutePriority, maxRoutePriority)
	e.intRange("spec.ipv6NormalRoutePriority", s.IPv6NormalRoutePriority, minRoutePriority, maxRoutePriority)
	e.intRange("spec.ipv4ElevatedRoutePriority", s.IPv4ElevatedRoutePriority, minRoutePriority, maxRoutePriority)
	e.intRange("spec.ipv6ElevatedRoutePriority", s.IPv6ElevatedRoutePriority, minRoutePriority, maxRoutePriority)
}

func validateFelixDurations(e *errs, s *FelixConfigurationSpec) {
	for _, d := range []struct {
		field string
		v     *Duration
	}{
		{"spec.dataplaneWatchdogTimeout", s.DataplaneWatchdogTimeout},
		{"spec.routeRefreshInterval", s.RouteRefreshInterval},
		{"spec.interfaceRefreshInterval", s.InterfaceRefreshInterval},
		{"spec.iptablesRefreshInterval", s.IptablesRefreshInterval},
		{"spec.iptablesPostWriteCheckInterval", s.IptablesPostWriteCheckInterval},
		{"spec.iptablesLockTimeout", s.IptablesLockTimeout},
		{"spec.iptablesLockProbeInterval", s.IptablesLockProbeInterval},
		{"spec.ipsetsRefreshInterval", s.IpsetsRefreshInterval},
		{"spec.xdpRefreshInterval", s.XDPRefreshInterval},
		{"spec.netlinkTimeout", s.NetlinkTimeout},
		{"spec.reportingInterval", s.ReportingInterval},
		{"spec.reportingTTL", s.ReportingTTL},
		{"spec.endpointReportingDelay", s.EndpointReportingDelay},
		{"spec.usageReportingInitialDelay", s.UsageReportingInitialDelay},
		{"spec.usageReportingInterval", s.UsageReportingInterval},
		{"spec.debugSimulateCalcGraphHangAfter", s.DebugSimulateCalcGraphHangAfter},
		{"spec.debugSimulateDataplaneHangAfter", s.DebugSimulateDataplaneHangAfter},
		{"spec.nftablesRefreshInterval", s.NftablesRefreshInterval},
		{"spec.bpfKubeProxyMinSyncPeriod", s.BPFKubeProxyMinSyncPeriod},
		{"spec.wireguardKeepAlive", s.WireguardPersistentKeepAlive},
	} {
		e.duration(d.field, d.v)
	}
	for i, o := range s.HealthTimeoutOverrides {
		f := at("spec.healthTimeoutOverrides", i)
		if o.Name == "" {
			e.add(f+".name", nil, "is required")
		}
		e.duration(f+".timeout", &o.Timeout)
	}
}

func validateFelixAddresses(e *errs, s *FelixConfigurationSpec) {
	if s.NATOutgoingAddress != "" {
		e.ip("spec.natOutgoingAddress", s.NATOutgoingAddress, 0)
	}
	if s.DeviceRouteSourceAddress != "" {
		e.ip("spec.deviceRouteSourceAddress", s.DeviceRouteSourceAddress, 4)
	}
	if s.DeviceRouteSourceAddressIPv6 != "" {
		e.ip("spec.deviceRouteSourceAddressIPv6", s.DeviceRouteSourceAddressIPv6, 6)
	}
	if h := str(s.HealthHost); s.HealthHost != nil && !hostRe().MatchString(h) {
		e.add("spec.healthHost", h, "must be an IP address or host name of 1-64 characters from [a-zA-Z0-9:._+-]")
	}
	if h := s.PrometheusMetricsHost; h != "" && !hostRe().MatchString(h) {
		e.add("spec.prometheusMetricsHost", h, "must be an IP address or host name of 1-64 characters from [a-zA-Z0-9:._+-]")
	}
	if s.ExternalNodesCIDRList != nil {
		for i, c := range *s.ExternalNodesCIDRList {
			e.cidr(at("spec.externalNodesList", i), c, 0)
		}
	}
	if s.BPFDSROptoutCIDRs != nil {
		for i, c := range *s.BPFDSROptoutCIDRs {
			e.cidr(at("spec.bpfDSROptoutCIDRs", i), c, 0)
		}
	}
}

// validateFailsafes checks failsafe port entries: protocol tcp, udp or sctp
// (any case; empty means tcp), port 0-65535, and an optional CIDR.
func validateFailsafes(e *errs, field string, ps *[]ProtoPort) {
	if ps == nil {
		return
	}
	for i, p := range *ps {
		f := at(field, i)
		e.oneOfFold(f+".protocol", p.Protocol, "TCP", "UDP", "SCTP")
		if p.Port < 0 || p.Port > 65535 {
			e.add(f+".port", p.Port, "must be between 0 and 65535")
		}
		if p.Net != "" {
			e.cidr(f+".net", p.Net, 0)
		}
	}
}

// validateRouteTables checks route table ranges: min <= max, within
// 1-4294967295, and not including the kernel's reserved tables 253-255.
func validateRouteTables(e *errs, s *FelixConfigurationSpec) {
	if s.RouteTableRanges != nil {
		for i, r := range *s.RouteTableRanges {
			f := at("spec.routeTableRanges", i)
			switch {
			case r.Min < 1 || r.Max > maxRouteTable:
				e.addf(f, rangeString(r.Min, r.Max), "tables must be between 1 and %d", int64(maxRouteTable))
			case r.Min > r.Max:
				e.add(f, rangeString(r.Min, r.Max), "min must not be greater than max")
			case r.Min <= reservedTablesMax && r.Max >= reservedTablesMin:
				e.addf(f, rangeString(r.Min, r.Max), "must not include the reserved tables %d-%d", reservedTablesMin, reservedTablesMax)
			}
		}
	}
	if r := s.RouteTableRange; r != nil {
		switch {
		case r.Min < 1 || r.Max > 250:
			e.add("spec.routeTableRange", rangeString(int64(r.Min), int64(r.Max)), "tables must be between 1 and 250")
		case r.Min > r.Max:
			e.add("spec.routeTableRange", rangeString(int64(r.Min), int64(r.Max)), "min must not be greater than max")
		}
	}
}

func rangeString(min, max int64) string { return fmt.Sprintf("min %d, max %d", min, max) }
