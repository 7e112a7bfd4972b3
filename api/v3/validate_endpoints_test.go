package v3

import (
	"testing"
	"time"
)

func TestValidateHostEndpoint(t *testing.T) {
	type H = *HostEndpoint
	base := func() H {
		return &HostEndpoint{ObjectMeta: ObjectMeta{Name: "node1-eth0"}, Spec: HostEndpointSpec{Node: "node1", InterfaceName: "eth0"}}
	}
	port := func(name string, p Protocol, n int) []EndpointPort {
		return []EndpointPort{{Name: name, Protocol: p, Port: n}}
	}
	runCases(t, base, []vcase[H]{
		ok("all interfaces", func(h H) { h.Spec.InterfaceName = "*" }),
		ok("expectedIPs only", func(h H) { h.Spec.InterfaceName, h.Spec.ExpectedIPs = "", []string{"10.0.0.1", "fd00::1"} }),
		bad("node required", "spec.node", "is required", func(h H) { h.Spec.Node = "" }),
		bad("node name", "spec.node", `"Node1"`, func(h H) { h.Spec.Node = "Node1" }),
		bad("interface or IPs", "spec.interfaceName", "interfaceName or expectedIPs", func(h H) { h.Spec.InterfaceName = "" }),
		ok("15-char interface", func(h H) { h.Spec.InterfaceName = "enp0s31f6.1234a" }),
		bad("interface too long", "spec.interfaceName", `"enp0s31f6.123456"`, func(h H) { h.Spec.InterfaceName = "enp0s31f6.123456" }),
		bad("interface chars", "spec.interfaceName", `"eth 0"`, func(h H) { h.Spec.InterfaceName = "eth 0" }),
		bad("expected IP", "spec.expectedIPs[1]", `"10.0.0.0/24"`, func(h H) { h.Spec.ExpectedIPs = []string{"10.0.0.1", "10.0.0.0/24"} }),
		ok("profiles", func(h H) { h.Spec.Profiles = []string{"projectcalico-default-allow"} }),
		bad("profile name", "spec.profiles[0]", `"P"`, func(h H) { h.Spec.Profiles = []string{"P"} }),
		ok("named ports", func(h H) {
			h.Spec.Ports = []EndpointPort{{Name: "http", Protocol: ProtocolFromString("TCP"), Port: 80}, {Name: "dns", Protocol: ProtocolFromInt(17), Port: 53}}
		}),
		bad("port name", "spec.ports[0].name", `"HTTP"`, func(h H) { h.Spec.Ports = port("HTTP", ProtocolFromString("TCP"), 80) }),
		bad("port name required", "spec.ports[0].name", `""`, func(h H) { h.Spec.Ports = port("", ProtocolFromString("TCP"), 80) }),
		bad("port protocol", "spec.ports[0].protocol", `"ICMP"`, func(h H) { h.Spec.Ports = port("x", ProtocolFromString("ICMP"), 80) }),
		bad("port number", "spec.ports[0].port", "0", func(h H) { h.Spec.Ports = port("x", ProtocolFromString("UDP"), 0) }),
		bad("port number too big", "spec.ports[0].port", "65536", func(h H) { h.Spec.Ports = port("x", ProtocolFromString("UDP"), 65536) }),
	})
}

func TestValidateWorkloadEndpoint(t *testing.T) {
	type W = *WorkloadEndpoint
	base := func() W {
		return &WorkloadEndpoint{
			ObjectMeta: ObjectMeta{Name: "node1-k8s-web--1-eth0", Namespace: "default"},
			Spec: WorkloadEndpointSpec{Orchestrator: "k8s", Node: "node1", Pod: "web-1", Endpoint: "eth0", ContainerID: "abc123",
				IPNetworks: []string{"10.244.1.5/32", "fd00::5"}, InterfaceName: "cali1a2b3c4d5e6", MAC: "ee:ee:ee:ee:ee:ee", Profiles: []string{"kns.default"}},
		}
	}
	tcpPort := ProtocolFromString("TCP")
	runCases(t, base, []vcase[W]{
		bad("node required", "spec.node", "is required", func(w W) { w.Spec.Node = "" }),
		bad("node name", "spec.node", `"Node1"`, func(w W) { w.Spec.Node = "Node1" }),
		bad("orchestrator required", "spec.orchestrator", "is required", func(w W) { w.Spec.Orchestrator = "" }),
		bad("orchestrator name", "spec.orchestrator", `"K8S"`, func(w W) { w.Spec.Orchestrator = "K8S" }),
		bad("pod name", "spec.pod", `"Web_1"`, func(w W) { w.Spec.Pod = "Web_1" }),
		bad("endpoint name", "spec.endpoint", `"eth 0"`, func(w W) { w.Spec.Endpoint = "eth 0" }),
		bad("workload name", "spec.workload", `"W"`, func(w W) { w.Spec.Workload = "W" }),
		bad("service account", "spec.serviceAccountName", `"SA"`, func(w W) { w.Spec.ServiceAccountName = "SA" }),
		ok("container ID mixed case", func(w W) { w.Spec.ContainerID = "cnitool-3DAC2234" }),
		bad("container ID", "spec.containerID", `"abc_123"`, func(w W) { w.Spec.ContainerID = "abc_123" }),
		bad("ipNetworks /24", "spec.ipNetworks[0]", `"10.244.1.0/24"`, func(w W) { w.Spec.IPNetworks = []string{"10.244.1.0/24"} }),
		bad("ipNetworks unmasked", "spec.ipNetworks[0]", `"10.244.1.5/24"`, func(w W) { w.Spec.IPNetworks = []string{"10.244.1.5/24"} }),
		bad("ipNetworks garbage", "spec.ipNetworks[0]", `"pod"`, func(w W) { w.Spec.IPNetworks = []string{"pod"} }),
		ok("ipNATs", func(w W) { w.Spec.IPNATs = []IPNAT{{InternalIP: "10.244.1.5", ExternalIP: "1.2.3.4"}} }),
		bad("ipNAT internal not in networks", "spec.ipNATs[0].internalIP", `"10.244.1.6"`, func(w W) { w.Spec.IPNATs = []IPNAT{{InternalIP: "10.244.1.6", ExternalIP: "1.2.3.4"}} }),
		bad("ipNAT family", "spec.ipNATs[0].externalIP", `"fd00::9"`, func(w W) { w.Spec.IPNATs = []IPNAT{{InternalIP: "10.244.1.5", ExternalIP: "fd00::9"}} }),
		bad("ipNAT external", "spec.ipNATs[0].externalIP", `"x"`, func(w W) { w.Spec.IPNATs = []IPNAT{{InternalIP: "10.244.1.5", ExternalIP: "x"}} }),
		ok("gateways", func(w W) { w.Spec.IPv4Gateway, w.Spec.IPv6Gateway = "169.254.1.1", "fe80::1" }),
		bad("ipv4Gateway", "spec.ipv4Gateway", `"fe80::1"`, func(w W) { w.Spec.IPv4Gateway = "fe80::1" }),
		bad("ipv6Gateway", "spec.ipv6Gateway", `"169.254.1.1"`, func(w W) { w.Spec.IPv6Gateway = "169.254.1.1" }),
		bad("profile", "spec.profiles[0]", `"K"`, func(w W) { w.Spec.Profiles = []string{"K"} }),
		bad("profile empty", "spec.profiles[0]", "is required", func(w W) { w.Spec.Profiles = []string{""} }),
		bad("interface required", "spec.interfaceName", "is required", func(w W) { w.Spec.InterfaceName = "" }),
		bad("interface too long", "spec.interfaceName", `"cali1a2b3c4d5e6f"`, func(w W) { w.Spec.InterfaceName = "cali1a2b3c4d5e6f" }),
		bad("mac", "spec.mac", `"ee-ee"`, func(w W) { w.Spec.MAC = "ee-ee" }),
		ok("ports", func(w W) {
			w.Spec.Ports = []WorkloadEndpointPort{{Name: "http", Protocol: tcpPort, Port: 8080, HostPort: 80, HostIP: "10.0.0.1"}, {Name: "metrics", Protocol: ProtocolFromString("SCTP"), Port: 9}}
		}),
		bad("port name", "spec.ports[0].name", `"-http"`, func(w W) { w.Spec.Ports = []WorkloadEndpointPort{{Name: "-http", Protocol: tcpPort, Port: 80}} }),
		bad("port protocol", "spec.ports[0].protocol", `"1"`, func(w W) { w.Spec.Ports = []WorkloadEndpointPort{{Name: "p", Protocol: ProtocolFromInt(1), Port: 80}} }),
		bad("port", "spec.ports[0].port", "0", func(w W) { w.Spec.Ports = []WorkloadEndpointPort{{Name: "p", Protocol: tcpPort}} }),
		bad("hostPort", "spec.ports[0].hostPort", "70000", func(w W) {
			w.Spec.Ports = []WorkloadEndpointPort{{Name: "p", Protocol: tcpPort, Port: 1, HostPort: 70000}}
		}),
		bad("hostIP", "spec.ports[0].hostIP", `"any"`, func(w W) {
			w.Spec.Ports = []WorkloadEndpointPort{{Name: "p", Protocol: tcpPort, Port: 1, HostIP: "any"}}
		}),
		ok("spoofed prefixes", func(w W) { w.Spec.AllowSpoofedSourcePrefixes = []string{"192.168.0.0/16"} }),
		bad("spoofed prefixes", "spec.allowSpoofedSourcePrefixes[0]", `"x/16"`, func(w W) { w.Spec.AllowSpoofedSourcePrefixes = []string{"x/16"} }),
		bad("namespace required", "metadata.namespace", "is required", func(w W) { w.Namespace = "" }),
		bad("WEP name rule", "metadata.name", `"Node1-k8s"`, func(w W) { w.Name = "Node1-k8s" }),
	})
}

func TestValidateSets(t *testing.T) {
	type N = *NetworkSet
	runCases(t, func() N {
		return &NetworkSet{ObjectMeta: ObjectMeta{Name: "ext", Namespace: "prod"}, Spec: NetworkSetSpec{Nets: []string{"10.0.0.0/8"}}}
	}, []vcase[N]{
		ok("single IPs", func(n N) { n.Spec.Nets = []string{"1.2.3.4", "fd00::1", "fd00::/64"} }),
		bad("unmasked", "spec.nets[0]", "did you mean 1.2.3.0/24?", func(n N) { n.Spec.Nets = []string{"1.2.3.4/24"} }),
		bad("garbage", "spec.nets[1]", `"x"`, func(n N) { n.Spec.Nets = []string{"1.2.3.4", "x"} }),
		bad("namespace label", "metadata.labels", "projectcalico.org/namespace", func(n N) { n.Labels = map[string]string{"projectcalico.org/namespace": "x"} }),
	})
	type G = *GlobalNetworkSet
	runCases(t, func() G {
		return &GlobalNetworkSet{ObjectMeta: ObjectMeta{Name: "ext"}, Spec: GlobalNetworkSetSpec{Nets: []string{"10.0.0.0/8"}}}
	}, []vcase[G]{
		ok("labels", func(g G) { g.Labels = map[string]string{"role": "external"} }),
		bad("unmasked", "spec.nets[0]", "did you mean 10.0.0.0/8?", func(g G) { g.Spec.Nets = []string{"10.1.0.0/8"} }),
		bad("namespace label", "metadata.labels", "projectcalico.org/namespace", func(g G) { g.Labels = map[string]string{"projectcalico.org/namespace": "x"} }),
	})
	type R = *IPReservation
	runCases(t, func() R {
		return &IPReservation{ObjectMeta: ObjectMeta{Name: "r"}, Spec: IPReservationSpec{ReservedCIDRs: []string{"10.244.0.0/30"}}}
	}, []vcase[R]{
		ok("single IP", func(r R) { r.Spec.ReservedCIDRs = []string{"10.244.0.1", "fd00::/120"} }),
		bad("unmasked", "spec.reservedCIDRs[0]", "did you mean 10.244.0.0/30?", func(r R) { r.Spec.ReservedCIDRs = []string{"10.244.0.1/30"} }),
		bad("garbage", "spec.reservedCIDRs[0]", `"10.244.0.256"`, func(r R) { r.Spec.ReservedCIDRs = []string{"10.244.0.256"} }),
	})
}

func TestValidateClusterInformation(t *testing.T) {
	type C = *ClusterInformation
	runCases(t, func() C { return &ClusterInformation{ObjectMeta: ObjectMeta{Name: "default"}} }, []vcase[C]{
		ok("fields", func(c C) {
			c.Spec = ClusterInformationSpec{ClusterGUID: "abc", ClusterType: "k8s,bgp", CalicoVersion: "v3.30.0", DatastoreReady: ptr(true), Variant: "Calico"}
		}),
		bad("name", "metadata.name", `"cluster"`, func(c C) { c.Name = "cluster" }),
	})
}

func TestValidateKubeControllers(t *testing.T) {
	type K = *KubeControllersConfiguration
	base := func() K { return &KubeControllersConfiguration{ObjectMeta: ObjectMeta{Name: "default"}} }
	node := func(k K) *NodeControllerConfig {
		if k.Spec.Controllers.Node == nil {
			k.Spec.Controllers.Node = &NodeControllerConfig{}
		}
		return k.Spec.Controllers.Node
	}
	neg := NewDuration(-time.Second)
	runCases(t, base, []vcase[K]{
		ok("full", func(k K) {
			k.Spec = KubeControllersConfigurationSpec{LogSeverityScreen: "Warning", HealthChecks: "Disabled", EtcdV3CompactionPeriod: NewDuration(10 * time.Minute),
				PrometheusMetricsPort: ptr(0), DebugProfilePort: ptr(int32(6060)), Controllers: ControllersConfig{
					Node:   &NodeControllerConfig{ReconcilerPeriod: NewDuration(time.Minute), SyncLabels: "Enabled", LeakGracePeriod: NewDuration(0), HostEndpoint: &AutoHostEndpointConfig{AutoCreate: "Enabled", CreateDefaultHostEndpoint: "Disabled"}},
					Policy: &PolicyControllerConfig{}, WorkloadEndpoint: &WorkloadEndpointControllerConfig{}, ServiceAccount: &ServiceAccountControllerConfig{},
					Namespace: &NamespaceControllerConfig{}, LoadBalancer: &LoadBalancerControllerConfig{AssignIPs: "RequestedServicesOnly"}}}
		}),
		bad("name", "metadata.name", `"kcc"`, func(k K) { k.Name = "kcc" }),
		bad("log level", "spec.logSeverityScreen", `"info"`, func(k K) { k.Spec.LogSeverityScreen = "info" }),
		bad("healthChecks", "spec.healthChecks", `"On"`, func(k K) { k.Spec.HealthChecks = "On" }),
		bad("compaction", "spec.etcdV3CompactionPeriod", `"-1s"`, func(k K) { k.Spec.EtcdV3CompactionPeriod = neg }),
		bad("metrics port", "spec.prometheusMetricsPort", "65536", func(k K) { k.Spec.PrometheusMetricsPort = ptr(65536) }),
		bad("debug port", "spec.debugProfilePort", "-1", func(k K) { k.Spec.DebugProfilePort = ptr(int32(-1)) }),
		bad("syncLabels", "spec.controllers.node.syncLabels", `"Yes"`, func(k K) { node(k).SyncLabels = "Yes" }),
		bad("node reconcilerPeriod", "spec.controllers.node.reconcilerPeriod", `"-1s"`, func(k K) { node(k).ReconcilerPeriod = neg }),
		bad("leakGracePeriod", "spec.controllers.node.leakGracePeriod", `"-1s"`, func(k K) { node(k).LeakGracePeriod = neg }),
		bad("autoCreate", "spec.controllers.node.hostEndpoint.autoCreate", `"true"`, func(k K) { node(k).HostEndpoint = &AutoHostEndpointConfig{AutoCreate: "true"} }),
		bad("createDefaultHostEndpoint", "spec.controllers.node.hostEndpoint.createDefaultHostEndpoint", `"x"`, func(k K) {
			node(k).HostEndpoint = &AutoHostEndpointConfig{CreateDefaultHostEndpoint: "x"}
		}),
		bad("policy period", "spec.controllers.policy.reconcilerPeriod", `"-1s"`, func(k K) { k.Spec.Controllers.Policy = &PolicyControllerConfig{ReconcilerPeriod: neg} }),
		bad("wep period", "spec.controllers.workloadEndpoint.reconcilerPeriod", `"-1s"`, func(k K) {
			k.Spec.Controllers.WorkloadEndpoint = &WorkloadEndpointControllerConfig{ReconcilerPeriod: neg}
		}),
		bad("sa period", "spec.controllers.serviceAccount.reconcilerPeriod", `"-1s"`, func(k K) {
			k.Spec.Controllers.ServiceAccount = &ServiceAccountControllerConfig{ReconcilerPeriod: neg}
		}),
		bad("ns period", "spec.controllers.namespace.reconcilerPeriod", `"-1s"`, func(k K) { k.Spec.Controllers.Namespace = &NamespaceControllerConfig{ReconcilerPeriod: neg} }),
		bad("assignIPs", "spec.controllers.loadBalancer.assignIPs", `"All"`, func(k K) { k.Spec.Controllers.LoadBalancer = &LoadBalancerControllerConfig{AssignIPs: "All"} }),
	})
}
