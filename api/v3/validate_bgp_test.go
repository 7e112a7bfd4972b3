package v3

import (
	"strconv"
	"testing"
	"time"
)

func TestValidateBGPPeer(t *testing.T) {
	type P = *BGPPeer
	base := func() P {
		return &BGPPeer{ObjectMeta: ObjectMeta{Name: "tor"}, Spec: BGPPeerSpec{PeerIP: "10.0.0.1", ASNumber: 65001}}
	}
	secret := &BGPPassword{SecretKeyRef: &SecretKeySelector{Name: "bgp", Key: "pw"}}
	runCases(t, base, []vcase[P]{
		ok("node", func(p P) { p.Spec.Node = "node1" }),
		bad("node name", "spec.node", `"Node1"`, func(p P) { p.Spec.Node = "Node1" }),
		ok("node selector", func(p P) { p.Spec.NodeSelector = "rack == 'a'" }),
		bad("node and node selector", "spec.node", `"node1"`, func(p P) { p.Spec.Node = "node1"; p.Spec.NodeSelector = "all()" }),
		bad("node selector syntax", "spec.nodeSelector", `"rack =="`, func(p P) { p.Spec.NodeSelector = "rack ==" }),
		bad("node selector global", "spec.nodeSelector", `"global()"`, func(p P) { p.Spec.NodeSelector = "global()" }),
		ok("peerIP v4:port", func(p P) { p.Spec.PeerIP = "10.0.0.1:1179" }),
		ok("peerIP v6", func(p P) { p.Spec.PeerIP = "fd00::1" }),
		ok("peerIP [v6]:port", func(p P) { p.Spec.PeerIP = "[fd00::1]:179" }),
		bad("peerIP bad", "spec.peerIP", `"router1"`, func(p P) { p.Spec.PeerIP = "router1" }),
		bad("peerIP port 0", "spec.peerIP", `"10.0.0.1:0"`, func(p P) { p.Spec.PeerIP = "10.0.0.1:0" }),
		bad("peerIP port too big", "spec.peerIP", `"10.0.0.1:70000"`, func(p P) { p.Spec.PeerIP = "10.0.0.1:70000" }),
		bad("peerIP v6 without brackets", "spec.peerIP", `"fd00::1:179:x"`, func(p P) { p.Spec.PeerIP = "fd00::1:179:x" }),
		ok("peer selector", func(p P) { p.Spec.PeerIP = ""; p.Spec.ASNumber = 0; p.Spec.PeerSelector = "rr == 'true'" }),
		bad("peerIP and peer selector", "spec.peerIP", `"10.0.0.1"`, func(p P) { p.Spec.ASNumber = 0; p.Spec.PeerSelector = "all()" }),
		bad("asNumber with peer selector", "spec.asNumber", `"65001"`, func(p P) { p.Spec.PeerIP = ""; p.Spec.PeerSelector = "all()" }),
		bad("peer selector syntax", "spec.peerSelector", `"a b"`, func(p P) { p.Spec.PeerIP = ""; p.Spec.ASNumber = 0; p.Spec.PeerSelector = "a b" }),
		ok("local workload selector", func(p P) { p.Spec.PeerIP = ""; p.Spec.LocalWorkloadSelector = "app == 'bgp'" }),
		bad("local workload selector needs asNumber", "spec.asNumber", "is required", func(p P) {
			p.Spec.PeerIP, p.Spec.ASNumber, p.Spec.LocalWorkloadSelector = "", 0, "app == 'bgp'"
		}),
		bad("local workload selector with peerIP", "spec.peerIP", `"10.0.0.1"`, func(p P) { p.Spec.LocalWorkloadSelector = "app == 'bgp'" }),
		bad("local workload selector with peer selector", "spec.peerSelector", `"all()"`, func(p P) {
			p.Spec.PeerIP, p.Spec.LocalWorkloadSelector, p.Spec.PeerSelector = "", "app == 'bgp'", "all()"
		}),
		bad("local workload selector syntax", "spec.localWorkloadSelector", `"app =="`, func(p P) { p.Spec.PeerIP = ""; p.Spec.LocalWorkloadSelector = "app ==" }),
		ok("reachableBy", func(p P) { p.Spec.ReachableBy = "10.0.0.254" }),
		bad("reachableBy needs peerIP", "spec.reachableBy", "requires peerIP", func(p P) {
			p.Spec.PeerIP, p.Spec.ASNumber, p.Spec.PeerSelector, p.Spec.ReachableBy = "", 0, "all()", "10.0.0.254"
		}),
		bad("reachableBy not IP", "spec.reachableBy", `"gw"`, func(p P) { p.Spec.ReachableBy = "gw" }),
		bad("reachableBy family", "spec.reachableBy", `"fd00::1"`, func(p P) { p.Spec.ReachableBy = "fd00::1" }),
		ok("enums", func(p P) {
			p.Spec.NextHopMode, p.Spec.SourceAddress, p.Spec.ReversePeering = "Keep", "None", "Manual"
			p.Spec.FailureDetectionMode, p.Spec.RestartMode, p.Spec.BIRDGatewayMode = "BFDIfDirectlyConnected", "LongLivedGracefulRestart", "DirectIfDirectlyConnected"
		}),
		bad("nextHopMode", "spec.nextHopMode", `"self"`, func(p P) { p.Spec.NextHopMode = "self" }),
		bad("sourceAddress", "spec.sourceAddress", `"NodeIP"`, func(p P) { p.Spec.SourceAddress = "NodeIP" }),
		bad("reversePeering", "spec.reversePeering", `"Off"`, func(p P) { p.Spec.ReversePeering = "Off" }),
		bad("failureDetectionMode", "spec.failureDetectionMode", `"BFD"`, func(p P) { p.Spec.FailureDetectionMode = "BFD" }),
		bad("restartMode", "spec.restartMode", `"GR"`, func(p P) { p.Spec.RestartMode = "GR" }),
		bad("birdGatewayMode", "spec.birdGatewayMode", `"Direct"`, func(p P) { p.Spec.BIRDGatewayMode = "Direct" }),
		ok("durations", func(p P) { p.Spec.MaxRestartTime, p.Spec.KeepaliveTime = NewDuration(time.Minute), NewDuration(0) }),
		bad("maxRestartTime negative", "spec.maxRestartTime", `"-1s"`, func(p P) { p.Spec.MaxRestartTime = NewDuration(-time.Second) }),
		bad("keepaliveTime negative", "spec.keepaliveTime", `"-1s"`, func(p P) { p.Spec.KeepaliveTime = NewDuration(-time.Second) }),
		ok("ttlSecurity", func(p P) { p.Spec.TTLSecurity = ptr(255) }),
		bad("ttlSecurity", "spec.ttlSecurity", "256", func(p P) { p.Spec.TTLSecurity = ptr(256) }),
		ok("numAllowedLocalASNumbers", func(p P) { p.Spec.NumAllowedLocalASNumbers = ptr(int32(2)) }),
		bad("numAllowedLocalASNumbers", "spec.numAllowedLocalASNumbers", "-1", func(p P) { p.Spec.NumAllowedLocalASNumbers = ptr(int32(-1)) }),
		ok("password", func(p P) { p.Spec.Password = secret }),
		bad("password no ref", "spec.password.secretKeyRef", "is required", func(p P) { p.Spec.Password = &BGPPassword{} }),
		bad("password no key", "spec.password.secretKeyRef.key", "is required", func(p P) {
			p.Spec.Password = &BGPPassword{SecretKeyRef: &SecretKeySelector{Name: "s"}}
		}),
		bad("password bad name", "spec.password.secretKeyRef.name", `"S"`, func(p P) {
			p.Spec.Password = &BGPPassword{SecretKeyRef: &SecretKeySelector{Name: "S", Key: "k"}}
		}),
		ok("filters", func(p P) { p.Spec.Filters = []string{"export-only"} }),
		bad("filters", "spec.filters[0]", `"Bad"`, func(p P) { p.Spec.Filters = []string{"Bad"} }),
	})
}

func TestValidateBGPConfiguration(t *testing.T) {
	type C = *BGPConfiguration
	base := func() C { return &BGPConfiguration{ObjectMeta: ObjectMeta{Name: "default"}} }
	perNode := func(c C) { c.Name = "node.node1" }
	secret := &BGPPassword{SecretKeyRef: &SecretKeySelector{Name: "bgp", Key: "pw"}}
	runCases(t, base, []vcase[C]{
		ok("log level", func(c C) { c.Spec.LogSeverityScreen = "Debug" }),
		bad("log level", "spec.logSeverityScreen", `"Verbose"`, func(c C) { c.Spec.LogSeverityScreen = "Verbose" }),
		ok("listenPort", func(c C) { c.Spec.ListenPort = 65535 }),
		bad("listenPort too big", "spec.listenPort", "70000", func(c C) { c.Spec.ListenPort = 70000 }),
		bad("listenPort negative", "spec.listenPort", "-1", func(c C) { c.Spec.ListenPort = -1 }),
		ok("service CIDRs", func(c C) {
			c.Spec.ServiceClusterIPs = []ServiceClusterIPBlock{{CIDR: "10.96.0.0/12"}, {CIDR: "fd00:96::/112"}}
			c.Spec.ServiceExternalIPs = []ServiceExternalIPBlock{{CIDR: "1.2.3.4"}}
			c.Spec.ServiceLoadBalancerIPs = []ServiceLoadBalancerIPBlock{{CIDR: "1.2.4.0/24"}}
		}),
		bad("cluster IPs", "spec.serviceClusterIPs[0].cidr", "did you mean 10.96.0.0/12?", func(c C) { c.Spec.ServiceClusterIPs = []ServiceClusterIPBlock{{CIDR: "10.96.0.1/12"}} }),
		bad("external IPs", "spec.serviceExternalIPs[0].cidr", `"x"`, func(c C) { c.Spec.ServiceExternalIPs = []ServiceExternalIPBlock{{CIDR: "x"}} }),
		bad("LB IPs", "spec.serviceLoadBalancerIPs[0].cidr", `""`, func(c C) { c.Spec.ServiceLoadBalancerIPs = []ServiceLoadBalancerIPBlock{{}} }),
		ok("communities", func(c C) {
			c.Spec.Communities = []Community{{Name: "std", Value: "65535:100"}, {Name: "large", Value: "4294967295:1:2"}}
			c.Spec.PrefixAdvertisements = []PrefixAdvertisement{{CIDR: "10.0.0.0/16", Communities: []string{"std", "large", "1:1"}}}
		}),
		bad("community value", "spec.communities[0].value", `"65536:1"`, func(c C) { c.Spec.Communities = []Community{{Name: "a", Value: "65536:1"}} }),
		bad("community value form", "spec.communities[0].value", `"1:2:3:4"`, func(c C) { c.Spec.Communities = []Community{{Name: "a", Value: "1:2:3:4"}} }),
		bad("community value required", "spec.communities[0].value", "is required", func(c C) { c.Spec.Communities = []Community{{Name: "a"}} }),
		bad("community name", "spec.communities[0].name", `"No Spaces"`, func(c C) { c.Spec.Communities = []Community{{Name: "No Spaces", Value: "1:1"}} }),
		bad("community name twice", "spec.communities[1].name", `"a"`, func(c C) { c.Spec.Communities = []Community{{Name: "a", Value: "1:1"}, {Name: "a", Value: "1:2"}} }),
		bad("too many communities", "spec.communities", "501", func(c C) {
			c.Spec.Communities = make([]Community, 501)
			for i := range c.Spec.Communities {
				c.Spec.Communities[i] = Community{Name: "c" + strconv.Itoa(i), Value: "1:1"}
			}
		}),
		bad("prefix cidr", "spec.prefixAdvertisements[0].cidr", "did you mean 10.0.0.0/16?", func(c C) {
			c.Spec.PrefixAdvertisements = []PrefixAdvertisement{{CIDR: "10.0.0.1/16", Communities: []string{"1:1"}}}
		}),
		bad("prefix cidr required", "spec.prefixAdvertisements[0].cidr", "is required", func(c C) {
			c.Spec.PrefixAdvertisements = []PrefixAdvertisement{{Communities: []string{"1:1"}}}
		}),
		bad("prefix communities required", "spec.prefixAdvertisements[0].communities", "at least one", func(c C) {
			c.Spec.PrefixAdvertisements = []PrefixAdvertisement{{CIDR: "10.0.0.0/16"}}
		}),
		bad("prefix unknown community", "spec.prefixAdvertisements[0].communities[0]", `"gold"`, func(c C) {
			c.Spec.PrefixAdvertisements = []PrefixAdvertisement{{CIDR: "10.0.0.0/16", Communities: []string{"gold"}}}
		}),
		ok("mesh fields on default", func(c C) {
			as := ASNumber(64513)
			c.Spec.NodeToNodeMeshEnabled, c.Spec.ASNumber = ptr(true), &as
			c.Spec.NodeMeshPassword, c.Spec.NodeMeshMaxRestartTime = secret, NewDuration(time.Minute)
		}),
		ok("per-node log level and port", func(c C) { perNode(c); c.Spec.LogSeverityScreen = "Info"; c.Spec.ListenPort = 1179 }),
		bad("mesh enabled per node", "spec.nodeToNodeMeshEnabled", "false", func(c C) { perNode(c); c.Spec.NodeToNodeMeshEnabled = ptr(false) }),
		bad("asNumber per node", "spec.asNumber", `"64513"`, func(c C) { perNode(c); as := ASNumber(64513); c.Spec.ASNumber = &as }),
		bad("mesh password per node", "spec.nodeMeshPassword", "default", func(c C) { perNode(c); c.Spec.NodeMeshPassword = secret }),
		bad("mesh restart per node", "spec.nodeMeshMaxRestartTime", `"1m0s"`, func(c C) { perNode(c); c.Spec.NodeMeshMaxRestartTime = NewDuration(time.Minute) }),
		bad("mesh password with mesh off", "spec.nodeMeshPassword", "requires nodeToNodeMeshEnabled", func(c C) {
			c.Spec.NodeToNodeMeshEnabled, c.Spec.NodeMeshPassword = ptr(false), secret
		}),
		bad("mesh restart with mesh off", "spec.nodeMeshMaxRestartTime", `"1m0s"`, func(c C) {
			c.Spec.NodeToNodeMeshEnabled, c.Spec.NodeMeshMaxRestartTime = ptr(false), NewDuration(time.Minute)
		}),
		bad("mesh restart negative", "spec.nodeMeshMaxRestartTime", `"-1m0s"`, func(c C) { c.Spec.NodeMeshMaxRestartTime = NewDuration(-time.Minute) }),
		bad("mesh password key", "spec.nodeMeshPassword.secretKeyRef.key", "is required", func(c C) {
			c.Spec.NodeMeshPassword = &BGPPassword{SecretKeyRef: &SecretKeySelector{Name: "s"}}
		}),
		ok("bindMode", func(c C) { c.Spec.BindMode = "NodeIP" }),
		bad("bindMode", "spec.bindMode", `"All"`, func(c C) { c.Spec.BindMode = "All" }),
		ok("programClusterRoutes", func(c C) { c.Spec.ProgramClusterRoutes = "EnabledNoEncapOnly" }),
		bad("programClusterRoutes", "spec.programClusterRoutes", `"Yes"`, func(c C) { c.Spec.ProgramClusterRoutes = "Yes" }),
		ok("lb aggregation", func(c C) { c.Spec.ServiceLoadBalancerAggregation = "Disabled" }),
		bad("lb aggregation", "spec.serviceLoadBalancerAggregation", `"Off"`, func(c C) { c.Spec.ServiceLoadBalancerAggregation = "Off" }),
		ok("route priorities", func(c C) { c.Spec.IPv4NormalRoutePriority, c.Spec.IPv6NormalRoutePriority = ptr(1), ptr(2147483646) }),
		bad("v4 route priority", "spec.ipv4NormalRoutePriority", "0", func(c C) { c.Spec.IPv4NormalRoutePriority = ptr(0) }),
		bad("v6 route priority", "spec.ipv6NormalRoutePriority", "2147483647", func(c C) { c.Spec.IPv6NormalRoutePriority = ptr(2147483647) }),
		ok("local workload peering", func(c C) {
			c.Spec.LocalWorkloadPeeringIPV4, c.Spec.LocalWorkloadPeeringIPV6 = "169.254.0.179", "fe80::179"
		}),
		bad("local workload peering v4", "spec.localWorkloadPeeringIPV4", `"fe80::1"`, func(c C) { c.Spec.LocalWorkloadPeeringIPV4 = "fe80::1" }),
		bad("local workload peering v6", "spec.localWorkloadPeeringIPV6", `"1.2.3.4"`, func(c C) { c.Spec.LocalWorkloadPeeringIPV6 = "1.2.3.4" }),
		bad("ignored interface empty", "spec.ignoredInterfaces[1]", `""`, func(c C) { c.Spec.IgnoredInterfaces = []string{"eth9", ""} }),
	})
}
