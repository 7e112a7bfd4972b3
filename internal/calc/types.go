package calc

import (
	"net"
	"net/netip"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
)

// Defaults for the VXLAN device and encapsulation overheads.
const (
	DefaultVXLANVNI  = 4096
	DefaultVXLANPort = 4789
	IPIPOverhead     = 20
	VXLANOverhead    = 50
	DefaultHostMTU   = 1500
)

// Input is one node's view of the cluster.
type Input struct {
	// Node is this node's name.
	Node string
	// Nodes, Pools, Blocks and Endpoints are the datastore's contents.
	Nodes     []*v3.Node
	Pools     []*v3.IPPool
	Blocks    []Block
	Endpoints []*v3.WorkloadEndpoint
	// Felix is the effective FelixConfiguration spec for this node (nil: defaults).
	Felix *v3.FelixConfigurationSpec
	// Backend is CALICO_NETWORKING_BACKEND: "bird" (default), "vxlan" or "none".
	Backend string
	// RouteUnencapsulated makes the node program routes to remote blocks of
	// pools without encapsulation from the datastore (until BGP does it).
	RouteUnencapsulated bool
	// ParentDevice is the underlay interface holding this node's address.
	ParentDevice string
	// HostMTU is the underlay MTU (0: DefaultHostMTU).
	HostMTU int
	// IPIPSupported says whether the kernel can do IP-in-IP.
	IPIPSupported bool
}

// Block is an IPAM block and the host it is affine to ("" for none).
type Block struct {
	CIDR netip.Prefix
	Host string
}

// RouteType is what a route does with a packet.
type RouteType int

const (
	// Unicast forwards to Dev (through Gw when set).
	Unicast RouteType = iota
	// Blackhole drops: for the unused addresses of a local block.
	Blackhole
)

// Route is one route the node must have in its main table.
type Route struct {
	Dst    netip.Prefix
	Type   RouteType
	Dev    string
	Gw     netip.Addr // invalid: directly connected (scope link)
	OnLink bool
	// Workload marks the /32 route of a local workload (scope link on
	// its cali interface), which only exists once the interface does.
	Workload bool
}

// Neighbor is a permanent neighbour (ARP) entry.
type Neighbor struct {
	Dev string
	IP  netip.Addr
	MAC net.HardwareAddr
}

// FDBEntry sends frames for a remote VTEP's MAC to its node.
type FDBEntry struct {
	Dev string
	MAC net.HardwareAddr
	Dst netip.Addr
}

// IPIPDeviceSpec is the wanted state of tunl0.
type IPIPDeviceSpec struct {
	Addr netip.Addr // invalid until the node has a tunnel address
	MTU  int
}

// VXLANDeviceSpec is the wanted state of vxlan.calico.
type VXLANDeviceSpec struct {
	VNI     int
	Port    int
	MAC     net.HardwareAddr
	Addr    netip.Addr // invalid until the node has a tunnel address
	LocalIP netip.Addr // the node's underlay address
	Parent  string
	MTU     int
}

// NAT is what natOutgoing needs: traffic from MasqPools to anything
// outside AllPools is masqueraded.
type NAT struct {
	MasqPools []netip.Prefix
	AllPools  []netip.Prefix
}

// Desired is everything the node's kernel must hold.
type Desired struct {
	Routes    []Route
	Neighbors []Neighbor
	FDB       []FDBEntry
	IPIP      *IPIPDeviceSpec  // nil: no IPIP device wanted
	VXLAN     *VXLANDeviceSpec // nil: no VXLAN device wanted (remove ours)
	NAT       NAT
	// PodMTU is what the CNI plugin gives veths (the MTU file).
	PodMTU int
	// Policy is what this node enforces (nil: no policy programmed at
	// all). It comes from package policy, beside this calculation.
	Policy *policy.Program
	// Problems are conditions that keep part of the state from being
	// programmed (shown in the log, health and status).
	Problems []string
}
