package v3

import (
	"bytes"
	"encoding/json"
	"testing"
)

// decodeStrict decodes like the lead's decoder: unknown fields are errors.
func decodeStrict(t *testing.T, data string, into any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(data)))
	d.DisallowUnknownFields()
	if err := d.Decode(into); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

func TestStoredJSON(t *testing.T) {
	pool := &IPPool{ObjectMeta: ObjectMeta{Name: "ca-pool-1"}, Spec: IPPoolSpec{CIDR: "10.244.0.0/16", NATOutgoing: true}}
	node := &Node{ObjectMeta: ObjectMeta{Name: "ca-node1"}, Spec: NodeSpec{BGP: &NodeBGPSpec{IPv4Address: "10.99.0.1/24"}}}
	tier := &Tier{ObjectMeta: ObjectMeta{Name: "default"}}
	ready := true
	ci := &ClusterInformation{ObjectMeta: ObjectMeta{Name: "default"},
		Spec: ClusterInformationSpec{ClusterGUID: "5c6c545f05c64ecdaa38fb40b083ad6b", DatastoreReady: &ready}}
	felix := &FelixConfiguration{ObjectMeta: ObjectMeta{Name: "default"},
		Spec: FelixConfigurationSpec{ReportingInterval: NewDuration(0), LogSeverityScreen: "Info"}}

	tests := []struct {
		name string
		r    Resource
		want string
	}{
		{"ippool", pool, `{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"ca-pool-1"},"spec":{"cidr":"10.244.0.0/16","vxlanMode":"Never","ipipMode":"Never","natOutgoing":true,"blockSize":26,"nodeSelector":"all()","allowedUses":["Workload","Tunnel"],"assignmentMode":"Automatic"}}`},
		{"node", node, `{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{"name":"ca-node1"},"spec":{"bgp":{"ipv4Address":"10.99.0.1/24"}},"status":{}}`},
		{"tier", tier, `{"kind":"Tier","apiVersion":"projectcalico.org/v3","metadata":{"name":"default"},"spec":{"order":1000000,"defaultAction":"Deny"},"status":{}}`},
		{"clusterinfo", ci, `{"kind":"ClusterInformation","apiVersion":"projectcalico.org/v3","metadata":{"name":"default"},"spec":{"clusterGUID":"5c6c545f05c64ecdaa38fb40b083ad6b","datastoreReady":true}}`},
		{"felix", felix, `{"kind":"FelixConfiguration","apiVersion":"projectcalico.org/v3","metadata":{"name":"default"},"spec":{"logSeverityScreen":"Info","reportingInterval":"0s"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Default(tt.r)
			if err := Validate(tt.r); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := mustMarshal(t, tt.r); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestRoundTrip decodes values Calico stored and checks that encoding them
// again gives the same bytes.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		r    Resource
		data string
	}{
		{"profile", &Profile{}, `{"kind":"Profile","apiVersion":"projectcalico.org/v3","metadata":{"name":"ca-net","uid":"d4fe0f15-0000","creationTimestamp":"2026-11-22T12:04:06Z"},"spec":{"ingress":[{"action":"Allow","source":{"selector":"has(ca-net)"},"destination":{}}],"egress":[{"action":"Allow","source":{},"destination":{}}],"labelsToApply":{"ca-net":""}}}`},
		{"wep", &WorkloadEndpoint{}, `{"kind":"WorkloadEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"ca--node1-cni-cnitool--3dac2234a9cb9032b2c9-eth0","namespace":"default","uid":"d117f97c-0000","creationTimestamp":"2026-11-22T12:04:06Z","labels":{"projectcalico.org/namespace":"default","projectcalico.org/orchestrator":"cni"}},"spec":{"orchestrator":"cni","node":"ca-node1","containerID":"cnitool-3dac2234a9cb9032b2c9","endpoint":"eth0","ipNetworks":["10.244.232.64/32"],"profiles":["ca-net"],"interfaceName":"calicnitool-3da","mac":"fe:75:8f:b6:3a:a7"}}`},
		{"ippool", &IPPool{}, `{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"ca-pool-1","uid":"d4d50782-0000","creationTimestamp":"2026-11-22T12:02:32Z"},"spec":{"cidr":"10.244.0.0/16","vxlanMode":"Never","ipipMode":"Never","natOutgoing":true,"blockSize":26,"nodeSelector":"all()","allowedUses":["Workload","Tunnel"],"assignmentMode":"Automatic"}}`},
		{"node", &Node{}, `{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{"name":"ca-node1","uid":"39974478-0000","creationTimestamp":"2026-11-22T12:02:32Z"},"spec":{"bgp":{"ipv4Address":"10.99.0.1/24"}},"status":{}}`},
		{"tier", &Tier{}, `{"kind":"Tier","apiVersion":"projectcalico.org/v3","metadata":{"name":"default","uid":"x","creationTimestamp":"y"},"spec":{"order":1000000,"defaultAction":"Deny"},"status":{}}`},
		{"policy", &NetworkPolicy{}, `{"kind":"NetworkPolicy","apiVersion":"projectcalico.org/v3","metadata":{"name":"allow-web","namespace":"prod"},"spec":{"tier":"default","order":100,"ingress":[{"action":"Allow","protocol":"TCP","source":{"selector":"role == 'fe'","namespaceSelector":"global()"},"destination":{"ports":[80,"8000:8080","http"]}},{"action":"Allow","protocol":1,"icmp":{"type":8,"code":0},"source":{"nets":["10.0.0.0/8"]},"destination":{}}],"selector":"app == 'web'","types":["Ingress"]}}`},
		{"bgppeer", &BGPPeer{}, `{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{"name":"tor"},"spec":{"nodeSelector":"rack == 'a'","peerIP":"10.0.0.1:1179","asNumber":65001,"keepaliveTime":"30s"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			decodeStrict(t, tt.data, tt.r)
			if got := mustMarshal(t, tt.r); got != tt.data {
				t.Errorf("got  %s\nwant %s", got, tt.data)
			}
		})
	}
}

// TestCalicoYAMLFields decodes specs with the fields users commonly write,
// with unknown fields disallowed.
func TestCalicoYAMLFields(t *testing.T) {
	tests := []struct {
		r    Resource
		data string
	}{
		{&IPPool{}, `{"metadata":{"name":"p","labels":{"a":"b"},"annotations":{"x":"y"},"resourceVersion":"5"},"spec":{"cidr":"10.0.0.0/16","ipipMode":"CrossSubnet","natOutgoing":true,"disabled":false,"disableBGPExport":true,"blockSize":24,"nodeSelector":"all()","namespaceSelector":"","allowedUses":["Workload"],"assignmentMode":"Manual","ipip":{"enabled":true,"mode":"always"},"nat-outgoing":true}}`},
		{&BGPConfiguration{}, `{"metadata":{"name":"default"},"spec":{"logSeverityScreen":"Info","nodeToNodeMeshEnabled":true,"asNumber":"64512","serviceClusterIPs":[{"cidr":"10.96.0.0/12"}],"serviceExternalIPs":[{"cidr":"1.2.3.0/24"}],"serviceLoadBalancerIPs":[{"cidr":"1.2.4.0/24"}],"listenPort":179,"communities":[{"name":"c","value":"64512:100"}],"prefixAdvertisements":[{"cidr":"10.0.0.0/16","communities":["c","1:2:3"]}],"nodeMeshPassword":{"secretKeyRef":{"name":"s","key":"k"}},"nodeMeshMaxRestartTime":"120s","bindMode":"NodeIP","ignoredInterfaces":["eth9"],"localWorkloadPeeringIPV4":"169.254.0.179","serviceLoadBalancerAggregation":"Disabled","programClusterRoutes":"Enabled","ipv4NormalRoutePriority":1024}}`},
		{&BGPPeer{}, `{"metadata":{"name":"p"},"spec":{"node":"n1","peerIP":"[fd00::1]:179","asNumber":"1.10","localASNumber":65000,"keepOriginalNextHop":true,"nextHopMode":"Self","password":{"secretKeyRef":{"name":"s","key":"k"}},"sourceAddress":"None","maxRestartTime":"2m","numAllowedLocalASNumbers":1,"ttlSecurity":1,"reachableBy":"fd00::254","filters":["f"],"reversePeering":"Manual","failureDetectionMode":"None","restartMode":"GracefulRestart","birdGatewayMode":"Recursive"}}`},
		{&FelixConfiguration{}, `{"metadata":{"name":"default"},"spec":{"ipipEnabled":true,"ipipMTU":1480,"vxlanEnabled":false,"vxlanMTU":1450,"vxlanMTUV6":1430,"vxlanPort":4789,"vxlanVNI":4096,"routeSource":"WorkloadIPs","routeTableRanges":[{"min":1,"max":250}],"deviceRouteProtocol":3,"removeExternalRoutes":true,"programClusterRoutes":"Enabled","ipForwarding":"Enabled","ipv4NormalRoutePriority":1024,"ipv6NormalRoutePriority":1024,"mtuIfacePattern":"^eth","requireMTUFile":false,"natOutgoingAddress":"1.2.3.4","natPortRange":"32768:65000","natOutgoingExclusions":"IPPoolsOnly","healthEnabled":true,"healthHost":"localhost","healthPort":9099,"prometheusMetricsEnabled":true,"prometheusMetricsHost":"0.0.0.0","prometheusMetricsPort":9091,"logSeverityScreen":"info","logSeverityFile":"Debug","logSeveritySys":"WARNING","logFilePath":"/var/log/x","logPrefix":"calico-packet","failsafeInboundHostPorts":[{"protocol":"tcp","port":22},{"protocol":"udp","port":68,"net":"0.0.0.0/0"}],"failsafeOutboundHostPorts":[],"defaultEndpointToHostAction":"ACCEPT","iptablesFilterAllowAction":"Accept","iptablesFilterDenyAction":"Drop","nftablesMode":"Auto","nftablesRefreshInterval":"180s","routeRefreshInterval":"90s","interfaceRefreshInterval":"90s","reportingInterval":"0s","reportingTTL":"90s","interfacePrefix":"cali","interfaceExclude":"kube-ipvs0","ipv6Support":false,"wireguardEnabled":true,"bpfEnabled":false,"nodeSelector":"all()","kubeNodePortRanges":["30000:32767"],"featureDetectOverride":"ChecksumOffloadBroken=true","usageReportingEnabled":false}}`},
		{&HostEndpoint{}, `{"metadata":{"name":"h","labels":{"role":"web"}},"spec":{"node":"n1","interfaceName":"eth0","expectedIPs":["10.0.0.1"],"profiles":["p"],"ports":[{"name":"http","protocol":"TCP","port":80}]}}`},
		{&GlobalNetworkPolicy{}, `{"metadata":{"name":"g"},"spec":{"tier":"default","order":10.5,"selector":"all()","namespaceSelector":"","serviceAccountSelector":"","types":["Ingress"],"doNotTrack":false,"preDNAT":true,"applyOnForward":true,"ingress":[{"action":"Allow","ipVersion":4,"protocol":"TCP","notProtocol":"UDP","source":{"notNets":["1.0.0.0/8"],"notSelector":"x == 'y'","serviceAccounts":{"names":["sa"],"selector":"a == 'b'"}},"destination":{"services":{"name":"svc","namespace":"ns"},"notPorts":[]},"http":{"methods":["GET"],"paths":[{"exact":"/a"},{"prefix":"/b"}]},"metadata":{"annotations":{"k":"v"}}},{"action":"Deny","protocol":"ICMP","notICMP":{"type":3,"code":1},"source":{},"destination":{}}],"performanceHints":["AssumeNeededOnEveryNode"]}}`},
		{&KubeControllersConfiguration{}, `{"metadata":{"name":"default"},"spec":{"logSeverityScreen":"Info","healthChecks":"Enabled","etcdV3CompactionPeriod":"10m","prometheusMetricsPort":9094,"controllers":{"node":{"reconcilerPeriod":"5m","syncLabels":"Enabled","hostEndpoint":{"autoCreate":"Disabled"},"leakGracePeriod":"15m"},"policy":{"reconcilerPeriod":"5m"},"workloadEndpoint":{},"serviceAccount":{},"namespace":{},"loadBalancer":{"assignIPs":"AllServices"}}},"status":{"environmentVars":{"A":"b"}}}`},
		{&IPReservation{}, `{"metadata":{"name":"r"},"spec":{"reservedCIDRs":["10.0.0.0/30","10.0.1.1"]}}`},
		{&NetworkSet{}, `{"metadata":{"name":"n","namespace":"ns"},"spec":{"nets":["10.0.0.0/8"]}}`},
		{&GlobalNetworkSet{}, `{"metadata":{"name":"n"},"spec":{"nets":["10.0.0.0/8"]}}`},
		{&Node{}, `{"metadata":{"name":"n"},"spec":{"bgp":{"asNumber":65000,"ipv4Address":"10.0.0.1/24","ipv6Address":"fd00::1/64","ipv4IPIPTunnelAddr":"10.244.0.1","routeReflectorClusterID":"224.0.0.1"},"ipv4VXLANTunnelAddr":"10.244.0.2","vxlanTunnelMACAddr":"66:00:00:00:00:01","ipv6VXLANTunnelAddr":"fd00::2","vxlanTunnelMACAddrV6":"66:00:00:00:00:02","orchRefs":[{"nodeName":"n","orchestrator":"k8s"}],"wireguard":{"interfaceIPv4Address":"10.244.0.3"},"addresses":[{"address":"10.0.0.1/24","type":"CalicoNodeIP"}],"interfaces":[{"name":"eth0","addresses":["10.0.0.1"]}]},"status":{"podCIDRs":["10.244.0.0/24"]}}`},
	}
	for _, tt := range tests {
		t.Run(KindOf(tt.r).Kind, func(t *testing.T) {
			decodeStrict(t, tt.data, tt.r)
			Default(tt.r)
			if err := Validate(tt.r); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestIPPoolV1Conversion(t *testing.T) {
	p := &IPPool{}
	decodeStrict(t, `{"metadata":{"name":"p"},"spec":{"cidr":"10.0.0.0/16","ipip":{"enabled":true,"mode":"cross-subnet"},"nat-outgoing":true}}`, p)
	Default(p)
	if p.Spec.IPIPMode != EncapCrossSubnet || !p.Spec.NATOutgoing || p.Spec.IPIP != nil || p.Spec.NATOutgoingV1 {
		t.Fatalf("v1 fields not converted: %+v", p.Spec)
	}
	if err := Validate(p); err != nil {
		t.Fatal(err)
	}
}
