package v3

import (
	"net/netip"
	"strconv"
	"strings"
)

// Route priorities shared by BGPConfiguration and FelixConfiguration.
const (
	minRoutePriority = 1
	maxRoutePriority = 2147483646
	maxCommunities   = 500
)

func validateBGPPeer(e *errs, s *BGPPeerSpec) {
	if s.Node != "" {
		e.name("spec.node", s.Node)
		if s.NodeSelector != "" {
			e.add("spec.node", s.Node, "must be empty when nodeSelector is set")
		}
	}
	e.selector("spec.nodeSelector", s.NodeSelector, false)
	e.selector("spec.peerSelector", s.PeerSelector, false)
	e.selector("spec.localWorkloadSelector", s.LocalWorkloadSelector, false)

	var peer netip.Addr
	if s.PeerIP != "" {
		var ok bool
		if peer, ok = parsePeerIP(s.PeerIP); !ok {
			e.add("spec.peerIP", s.PeerIP, "must be an IP, IPv4:port or [IPv6]:port with port 1-65535")
		}
		if s.PeerSelector != "" {
			e.add("spec.peerIP", s.PeerIP, "must be empty when peerSelector is set")
		}
	}
	if s.PeerSelector != "" && s.ASNumber != 0 {
		e.add("spec.asNumber", s.ASNumber, "must be empty when peerSelector is set (the remote node's AS is used)")
	}
	if s.LocalWorkloadSelector != "" {
		if s.ASNumber == 0 {
			e.add("spec.asNumber", nil, "is required with localWorkloadSelector")
		}
		if s.PeerIP != "" {
			e.add("spec.peerIP", s.PeerIP, "must be empty when localWorkloadSelector is set")
		}
		if s.PeerSelector != "" {
			e.add("spec.peerSelector", s.PeerSelector, "must be empty when localWorkloadSelector is set")
		}
	}
	if s.ReachableBy != "" {
		if gw, ok := e.ip("spec.reachableBy", s.ReachableBy, 0); ok {
			switch {
			case s.PeerIP == "":
				e.add("spec.reachableBy", s.ReachableBy, "requires peerIP")
			case peer.IsValid() && gw.Is4() != peer.Is4():
				e.add("spec.reachableBy", s.ReachableBy, "must be the same IP family as peerIP")
			}
		}
	}
	e.oneOf("spec.nextHopMode", s.NextHopMode, NextHopModeAuto, NextHopModeSelf, NextHopModeKeep)
	e.oneOf("spec.sourceAddress", s.SourceAddress, SourceAddressUseNodeIP, SourceAddressNone)
	e.oneOf("spec.reversePeering", s.ReversePeering, ReversePeeringAuto, ReversePeeringManual)
	e.oneOf("spec.failureDetectionMode", s.FailureDetectionMode, "None", "BFDIfDirectlyConnected")
	e.oneOf("spec.restartMode", s.RestartMode, "GracefulRestart", "LongLivedGracefulRestart")
	e.oneOf("spec.birdGatewayMode", s.BIRDGatewayMode, "Recursive", "DirectIfDirectlyConnected")
	e.duration("spec.maxRestartTime", s.MaxRestartTime)
	e.duration("spec.keepaliveTime", s.KeepaliveTime)
	e.intRange("spec.ttlSecurity", s.TTLSecurity, 0, 255)
	if n := s.NumAllowedLocalASNumbers; n != nil && *n < 0 {
		e.add("spec.numAllowedLocalASNumbers", *n, "must not be negative")
	}
	validatePassword(e, "spec.password", s.Password)
	for i, f := range s.Filters {
		e.requiredName(at("spec.filters", i), f)
	}
}

// parsePeerIP parses "IP", "IPv4:port" or "[IPv6]:port".
func parsePeerIP(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, a.Zone() == ""
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
		return netip.Addr{}, false
	}
	// ParseAddrPort requires brackets around IPv6, so a bare "v6:port" never
	// gets here.
	return ap.Addr(), true
}

func validatePassword(e *errs, field string, p *BGPPassword) {
	if p == nil {
		return
	}
	if p.SecretKeyRef == nil {
		e.add(field+".secretKeyRef", nil, "is required")
		return
	}
	e.requiredName(field+".secretKeyRef.name", p.SecretKeyRef.Name)
	if p.SecretKeyRef.Key == "" {
		e.add(field+".secretKeyRef.key", nil, "is required")
	}
}

// BGP log levels (exact case).
var bgpLogLevels = []string{"Trace", "Debug", "Info", "Warning", "Error", "Fatal"}

// Values of programClusterRoutes.
var programClusterRoutesValues = []string{"Enabled", "Disabled", "EnabledIPIPOnly", "EnabledNoEncapOnly"}

func validateBGPConfiguration(e *errs, name string, s *BGPConfigurationSpec) {
	e.oneOf("spec.logSeverityScreen", s.LogSeverityScreen, bgpLogLevels...)
	if s.ListenPort < 0 || s.ListenPort > 65535 {
		e.add("spec.listenPort", s.ListenPort, "must be between 1 and 65535")
	}
	for i, b := range s.ServiceClusterIPs {
		e.maskedNet(at("spec.serviceClusterIPs", i)+".cidr", b.CIDR)
	}
	for i, b := range s.ServiceExternalIPs {
		e.maskedNet(at("spec.serviceExternalIPs", i)+".cidr", b.CIDR)
	}
	for i, b := range s.ServiceLoadBalancerIPs {
		e.maskedNet(at("spec.serviceLoadBalancerIPs", i)+".cidr", b.CIDR)
	}
	validateCommunities(e, s)

	if name != SingletonName {
		onlyDefault := func(field string, set bool, v any) {
			if set {
				e.add(field, v, `can only be set on the BGPConfiguration named "default"`)
			}
		}
		onlyDefault("spec.nodeToNodeMeshEnabled", s.NodeToNodeMeshEnabled != nil, s.NodeToNodeMeshEnabled)
		onlyDefault("spec.asNumber", s.ASNumber != nil, s.ASNumber)
		onlyDefault("spec.nodeMeshPassword", s.NodeMeshPassword != nil, nil)
		onlyDefault("spec.nodeMeshMaxRestartTime", s.NodeMeshMaxRestartTime != nil, s.NodeMeshMaxRestartTime)
	}
	meshOff := s.NodeToNodeMeshEnabled != nil && !*s.NodeToNodeMeshEnabled
	if meshOff && s.NodeMeshPassword != nil {
		e.add("spec.nodeMeshPassword", nil, "requires nodeToNodeMeshEnabled")
	}
	if meshOff && s.NodeMeshMaxRestartTime != nil {
		e.add("spec.nodeMeshMaxRestartTime", s.NodeMeshMaxRestartTime, "requires nodeToNodeMeshEnabled")
	}
	validatePassword(e, "spec.nodeMeshPassword", s.NodeMeshPassword)
	e.duration("spec.nodeMeshMaxRestartTime", s.NodeMeshMaxRestartTime)

	e.oneOf("spec.bindMode", s.BindMode, "None", "NodeIP")
	e.oneOf("spec.serviceLoadBalancerAggregation", s.ServiceLoadBalancerAggregation, "Enabled", "Disabled")
	e.oneOf("spec.programClusterRoutes", s.ProgramClusterRoutes, programClusterRoutesValues...)
	e.intRange("spec.ipv4NormalRoutePriority", s.IPv4NormalRoutePriority, minRoutePriority, maxRoutePriority)
	e.intRange("spec.ipv6NormalRoutePriority", s.IPv6NormalRoutePriority, minRoutePriority, maxRoutePriority)
	if s.LocalWorkloadPeeringIPV4 != "" {
		e.ip("spec.localWorkloadPeeringIPV4", s.LocalWorkloadPeeringIPV4, 4)
	}
	if s.LocalWorkloadPeeringIPV6 != "" {
		e.ip("spec.localWorkloadPeeringIPV6", s.LocalWorkloadPeeringIPV6, 6)
	}
	for i, ifc := range s.IgnoredInterfaces {
		if ifc == "" {
			e.add(at("spec.ignoredInterfaces", i), ifc, "must not be empty")
		}
	}
}

func validateCommunities(e *errs, s *BGPConfigurationSpec) {
	if len(s.Communities) > maxCommunities {
		e.addf("spec.communities", len(s.Communities), "must have at most %d entries", maxCommunities)
	}
	names := map[string]bool{}
	for i, c := range s.Communities {
		f := at("spec.communities", i)
		e.requiredName(f+".name", c.Name)
		if names[c.Name] {
			e.add(f+".name", c.Name, "is defined twice")
		}
		names[c.Name] = true
		if c.Value == "" {
			e.add(f+".value", nil, "is required")
		} else if !isCommunityValue(c.Value) {
			e.add(f+".value", c.Value, "must be aa:nn (16-bit numbers) or aa:nn:mm (32-bit numbers)")
		}
	}
	for i, p := range s.PrefixAdvertisements {
		f := at("spec.prefixAdvertisements", i)
		if p.CIDR == "" {
			e.add(f+".cidr", nil, "is required")
		} else {
			e.maskedNet(f+".cidr", p.CIDR)
		}
		if len(p.Communities) == 0 {
			e.add(f+".communities", nil, "must list at least one community")
		}
		for j, c := range p.Communities {
			if !names[c] && !isCommunityValue(c) {
				e.add(at(f+".communities", j), c, "must be the name of a community in spec.communities or a value aa:nn or aa:nn:mm")
			}
		}
	}
}

// isCommunityValue reports whether v is a standard ("aa:nn", 16-bit parts)
// or large ("aa:nn:mm", 32-bit parts) BGP community.
func isCommunityValue(v string) bool {
	parts := strings.Split(v, ":")
	bits := 0
	switch len(parts) {
	case 2:
		bits = 16
	case 3:
		bits = 32
	default:
		return false
	}
	for _, p := range parts {
		if !isDigits(p) {
			return false
		}
		if _, err := strconv.ParseUint(p, 10, bits); err != nil {
			return false
		}
	}
	return true
}
