package v3

// HostEndpoint is a host interface (or "*", all of the host) that policy
// applies to (cluster-scoped).
type HostEndpoint struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       HostEndpointSpec `json:"spec"`
}

// HostEndpointSpec is the desired state of a HostEndpoint.
type HostEndpointSpec struct {
	// Node is the node the interface is on (required).
	Node string `json:"node,omitempty"`
	// InterfaceName is the host interface, or "*" for all traffic of the host.
	InterfaceName string `json:"interfaceName,omitempty"`
	// ExpectedIPs are the IPs used when selectors match this endpoint.
	ExpectedIPs []string       `json:"expectedIPs,omitempty"`
	Profiles    []string       `json:"profiles,omitempty"`
	Ports       []EndpointPort `json:"ports,omitempty"`
}

// EndpointPort is a named port of a host endpoint.
type EndpointPort struct {
	Name     string   `json:"name"`
	Protocol Protocol `json:"protocol"`
	Port     int      `json:"port"`
}

// WorkloadEndpoint is a pod's (or container's, or VM's) interface
// (namespaced).
type WorkloadEndpoint struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       WorkloadEndpointSpec `json:"spec"`
}

// WorkloadEndpointSpec is the desired state of a WorkloadEndpoint.
type WorkloadEndpointSpec struct {
	// Orchestrator is k8s, cni, libnetwork or openstack.
	Orchestrator       string `json:"orchestrator,omitempty"`
	Workload           string `json:"workload,omitempty"`
	Node               string `json:"node,omitempty"`
	ContainerID        string `json:"containerID,omitempty"`
	Pod                string `json:"pod,omitempty"`
	Endpoint           string `json:"endpoint,omitempty"`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// IPNetworks are the endpoint's addresses, each a /32 or /128.
	IPNetworks  []string `json:"ipNetworks,omitempty"`
	IPNATs      []IPNAT  `json:"ipNATs,omitempty"`
	IPv4Gateway string   `json:"ipv4Gateway,omitempty"`
	IPv6Gateway string   `json:"ipv6Gateway,omitempty"`
	Profiles    []string `json:"profiles,omitempty"`
	// InterfaceName is the host side of the veth, e.g. cali1a2b3c4d5e6.
	InterfaceName string `json:"interfaceName,omitempty"`
	// MAC is the container side's MAC address.
	MAC                        string                 `json:"mac,omitempty"`
	Ports                      []WorkloadEndpointPort `json:"ports,omitempty"`
	AllowSpoofedSourcePrefixes []string               `json:"allowSpoofedSourcePrefixes,omitempty"`
	QoSControls                *QoSControls           `json:"qosControls,omitempty"`
}

// WorkloadEndpointPort is a named (and optionally host-mapped) port.
type WorkloadEndpointPort struct {
	Name     string   `json:"name"`
	Protocol Protocol `json:"protocol"`
	Port     int      `json:"port"`
	HostPort int      `json:"hostPort"`
	HostIP   string   `json:"hostIP"`
}

// IPNAT is a 1:1 NAT (floating IP) of an endpoint address.
type IPNAT struct {
	InternalIP string `json:"internalIP"`
	ExternalIP string `json:"externalIP"`
}

// QoSControls limits an endpoint's bandwidth, packet rate and connections.
type QoSControls struct {
	IngressBandwidth      int64 `json:"ingressBandwidth,omitempty"`
	IngressBurst          int64 `json:"ingressBurst,omitempty"`
	IngressPeakrate       int64 `json:"ingressPeakrate,omitempty"`
	IngressMinburst       int64 `json:"ingressMinburst,omitempty"`
	EgressBandwidth       int64 `json:"egressBandwidth,omitempty"`
	EgressBurst           int64 `json:"egressBurst,omitempty"`
	EgressPeakrate        int64 `json:"egressPeakrate,omitempty"`
	EgressMinburst        int64 `json:"egressMinburst,omitempty"`
	IngressPacketRate     int64 `json:"ingressPacketRate,omitempty"`
	IngressPacketBurst    int64 `json:"ingressPacketBurst,omitempty"`
	EgressPacketRate      int64 `json:"egressPacketRate,omitempty"`
	EgressPacketBurst     int64 `json:"egressPacketBurst,omitempty"`
	IngressMaxConnections int64 `json:"ingressMaxConnections,omitempty"`
	EgressMaxConnections  int64 `json:"egressMaxConnections,omitempty"`
	DSCP                  *DSCP `json:"dscp,omitempty"`
}
