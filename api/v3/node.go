package v3

// Node is Calico's view of a host (cluster-scoped). Calico always stores
// its status, so an empty status is written as "status":{}.
type Node struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       NodeSpec   `json:"spec"`
	Status     NodeStatus `json:"status"`
}

// NodeSpec is the desired state of a Node.
type NodeSpec struct {
	BGP *NodeBGPSpec `json:"bgp,omitempty"`
	// IPv4VXLANTunnelAddr is the IPv4 address of the node's vxlan.calico device.
	IPv4VXLANTunnelAddr string `json:"ipv4VXLANTunnelAddr,omitempty"`
	// VXLANTunnelMACAddr is the MAC of the IPv4 VXLAN device; computed when empty.
	VXLANTunnelMACAddr string `json:"vxlanTunnelMACAddr,omitempty"`
	// IPv6VXLANTunnelAddr is the IPv6 address of the node's vxlan-v6.calico device.
	IPv6VXLANTunnelAddr string `json:"ipv6VXLANTunnelAddr,omitempty"`
	// VXLANTunnelMACAddrV6 is the MAC of the IPv6 VXLAN device; computed when empty.
	VXLANTunnelMACAddrV6 string             `json:"vxlanTunnelMACAddrV6,omitempty"`
	OrchRefs             []OrchRef          `json:"orchRefs,omitempty"`
	Wireguard            *NodeWireguardSpec `json:"wireguard,omitempty"`
	Addresses            []NodeAddress      `json:"addresses,omitempty"`
	Interfaces           []NodeInterface    `json:"interfaces,omitempty"`
}

// NodeBGPSpec is a node's BGP identity.
type NodeBGPSpec struct {
	// ASNumber overrides the global default AS for this node.
	ASNumber *ASNumber `json:"asNumber,omitempty"`
	// IPv4Address is the node's IPv4 address with its subnet, e.g. 10.0.0.5/24.
	IPv4Address string `json:"ipv4Address,omitempty"`
	// IPv6Address is the node's IPv6 address with its subnet.
	IPv6Address string `json:"ipv6Address,omitempty"`
	// IPv4IPIPTunnelAddr is the address of the node's tunl0 device.
	IPv4IPIPTunnelAddr string `json:"ipv4IPIPTunnelAddr,omitempty"`
	// RouteReflectorClusterID, when set, makes the node a route reflector.
	RouteReflectorClusterID string `json:"routeReflectorClusterID,omitempty"`
}

// NodeWireguardSpec holds the node's WireGuard interface addresses.
type NodeWireguardSpec struct {
	InterfaceIPv4Address string `json:"interfaceIPv4Address,omitempty"`
	InterfaceIPv6Address string `json:"interfaceIPv6Address,omitempty"`
}

// OrchRef ties a Calico node to its name in an orchestrator.
type OrchRef struct {
	NodeName     string `json:"nodeName,omitempty"`
	Orchestrator string `json:"orchestrator"`
}

// NodeAddress is an address at which the node can be reached.
type NodeAddress struct {
	Address string `json:"address"`
	// Type is CalicoNodeIP, InternalIP or ExternalIP.
	Type string `json:"type,omitempty"`
}

// Node address types.
const (
	NodeAddressCalicoNodeIP = "CalicoNodeIP"
	NodeAddressInternalIP   = "InternalIP"
	NodeAddressExternalIP   = "ExternalIP"
)

// NodeInterface is one host interface and its addresses.
type NodeInterface struct {
	Name      string   `json:"name,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
}

// NodeStatus is written by the node's own agents.
type NodeStatus struct {
	WireguardPublicKey   string   `json:"wireguardPublicKey,omitempty"`
	WireguardPublicKeyV6 string   `json:"wireguardPublicKeyV6,omitempty"`
	PodCIDRs             []string `json:"podCIDRs,omitempty"`
}
