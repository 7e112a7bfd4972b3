package topo

import (
	"fmt"
	"net/netip"
	"os"

	"sigs.k8s.io/yaml"
)

// Underlay kinds.
const (
	// UnderlayL2 is one subnet: one bridge, every node on it.
	UnderlayL2 = "l2"
	// UnderlayRouted is several subnets joined by the underlay namespace,
	// which forwards between them.
	UnderlayRouted = "routed"
)

// CNI flavors: which plugin chain makes the pods.
const (
	// CNIAuto picks tortie when its plugin answers VERSION, else ptp.
	CNIAuto = "auto"
	// CNITortie is tortie's own plugin with tortie-ipam.
	CNITortie = "tortie"
	// CNIPtp is the upstream ptp plugin with host-local (one /24 per node).
	CNIPtp = "ptp"
	// CNIBridge is the upstream bridge plugin with host-local.
	CNIBridge = "bridge"
)

// Datastores: where the cluster keeps its resources.
const (
	// DatastoreEtcd is the lab's embedded etcd (Calico's etcdv3).
	DatastoreEtcd = "etcdv3"
	// DatastoreKubernetes is a kube-apiserver the lab runs (on the same
	// etcd), the lab acting as each node's kubelet: it registers the
	// Kubernetes Nodes and creates each Pod object before its CNI ADD.
	DatastoreKubernetes = "kubernetes"
)

// Router kinds.
const (
	RouterBird2 = "bird2"
	RouterFRR   = "frr"
	RouterNone  = "none" // a plain namespace, e.g. a host to test against
)

// Topology is a lab: what the YAML file holds. After Resolve every address
// and name is filled in.
type Topology struct {
	// Name is the lab's name ([a-z0-9-], at most MaxLabName bytes).
	Name string `json:"name,omitempty"`
	// Underlay is "l2" or "routed"; informational once Subnets are given.
	Underlay string `json:"underlay,omitempty"`
	// Subnets are the L2 segments of the underlay, each a bridge in the
	// underlay namespace, which holds each subnet's gateway address and
	// routes between them.
	Subnets []Subnet `json:"subnets,omitempty"`
	// Outside, when set, is a namespace beyond the underlay gateway that
	// stands for the internet (for natOutgoing tests).
	Outside *Outside `json:"outside,omitempty"`
	// Pool is the IP pool tortie-node creates (CALICO_IPV4POOL_*).
	Pool Pool `json:"pool,omitempty"`
	// CNI is the plugin flavor: auto, tortie, ptp or bridge.
	CNI string `json:"cni,omitempty"`
	// Datastore is etcdv3 (default) or kubernetes (which needs the tortie
	// CNI flavor and the kube-apiserver test/k8s/build-apiserver.sh builds).
	Datastore string `json:"datastore,omitempty"`
	// UsePodCIDR (kubernetes only): the lab gives each Node a podCIDR
	// (the i-th /24 of the pool), pods take their addresses from it with
	// host-local (subnet: usePodCidr) and tortie-node routes it
	// (USE_POD_CIDR=true).
	UsePodCIDR bool `json:"usePodCIDR,omitempty"`
	// Autodetect is the default IP_AUTODETECTION_METHOD of the nodes.
	Autodetect string            `json:"autodetect,omitempty"`
	Nodes      []Node            `json:"nodes"`
	Pods       []Pod             `json:"pods,omitempty"`
	Routers    []Router          `json:"routers,omitempty"`
	Env        map[string]string `json:"env,omitempty"` // extra tortie-node environment, every node
	// Apply is YAML (projectcalico.org/v3 resources, several documents)
	// applied with tortiectl once the nodes run: a BGPConfiguration that
	// turns the mesh off, BGPPeers, labels on Nodes.
	Apply string `json:"apply,omitempty"`
}

// Subnet is one underlay segment.
type Subnet struct {
	Name string `json:"name"`
	CIDR string `json:"cidr"`
	// Gateway is the underlay namespace's address here (default: the
	// first host address).
	Gateway string `json:"gateway,omitempty"`
	MTU     int    `json:"mtu,omitempty"` // default 1500
	// CIDR6, when set, is an IPv6 network on the same segment (a /64 to
	// a /120): each interface on the subnet gets the address of the same
	// host number as its IPv4 one (Addr6), and a node's agent gets it as
	// IP6 (spec.bgp.ipv6Address).
	CIDR6 string `json:"cidr6,omitempty"`

	Prefix    netip.Prefix `json:"-"` // CIDR, parsed by Resolve
	Prefix6   netip.Prefix `json:"-"` // CIDR6, parsed by Resolve
	GatewayIP netip.Addr   `json:"-"` // Gateway, parsed or defaulted by Resolve
}

// Outside is the network beyond the gateway.
type Outside struct {
	// CIDR links the underlay namespace (first host) and the outside
	// namespace (second host). Default 172.31.254.0/24.
	CIDR string `json:"cidr,omitempty"`
	// Address is an extra address on the outside namespace's loopback, the
	// "internet host" pods try to reach. Default 198.51.100.1.
	Address string `json:"address,omitempty"`

	Prefix netip.Prefix `json:"-"` // CIDR, parsed by Resolve
	Host   netip.Addr   `json:"-"` // Address, parsed by Resolve
}

// Gateway is the underlay namespace's address on the outside link.
func (o *Outside) Gateway() netip.Addr { return o.Prefix.Addr().Next() }

// Peer is the outside namespace's address on the outside link.
func (o *Outside) Peer() netip.Addr { return o.Prefix.Addr().Next().Next() }

// Pool is the default IP pool of the lab.
type Pool struct {
	CIDR        string `json:"cidr,omitempty"`      // default 10.244.0.0/16
	BlockSize   int    `json:"blockSize,omitempty"` // default 26
	IPIPMode    string `json:"ipipMode,omitempty"`  // Never (default), Always, CrossSubnet
	VXLANMode   string `json:"vxlanMode,omitempty"` // Never (default), Always, CrossSubnet
	NATOutgoing *bool  `json:"natOutgoing,omitempty"`
	// CIDR6, when set, is an IPv6 pool (blocks of /122, no encapsulation)
	// the lab creates beside the IPv4 one; with the tortie CNI flavor
	// every pod then gets an IPv6 address too (assign_ipv6).
	CIDR6 string `json:"cidr6,omitempty"`

	Prefix  netip.Prefix `json:"-"` // CIDR, parsed by Resolve
	Prefix6 netip.Prefix `json:"-"` // CIDR6, parsed by Resolve
}

// Node is one node namespace.
type Node struct {
	Name string `json:"name"`
	// Interfaces are the node's underlay interfaces; the first one's subnet
	// gateway is the default route. Default: eth0 on the first subnet.
	Interfaces []Interface `json:"interfaces,omitempty"`
	// Autodetect overrides Topology.Autodetect for this node.
	Autodetect string            `json:"autodetect,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
}

// Interface is a host's leg on a subnet: a veth whose other end is a port of
// the subnet's bridge in the underlay namespace.
type Interface struct {
	Name    string `json:"name"`
	Subnet  string `json:"subnet,omitempty"`  // default: the first subnet
	Address string `json:"address,omitempty"` // default: the next free host address

	Addr netip.Addr `json:"-"` // Address, parsed or assigned by Resolve
	// BridgePort is the name of the veth end in the underlay namespace
	// (set by Resolve).
	BridgePort string `json:"-"`
}

// Pod is a workload: a namespace attached by the CNI plugin of its node.
type Pod struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"` // Kubernetes namespace, default "default"
	Node      string            `json:"node"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// Key is "namespace/name".
func (p Pod) Key() string { return p.Namespace + "/" + p.Name }

// Router is an extra namespace on the underlay, running bird2 or frr as
// a top-of-rack router: it peers with every node and router on its
// subnets (eBGP where the AS differs; in the nodes' AS it is their route
// reflector), and the lab gives each of those nodes a BGPPeer to it.
type Router struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"` // bird2, frr or none (default none)
	// AS is the router's AS (default 65000).
	AS         uint32      `json:"as,omitempty"`
	Interfaces []Interface `json:"interfaces,omitempty"`
}

// Parse reads a topology document (YAML or JSON). Unknown fields are errors.
// The result is not yet resolved: call Resolve.
func Parse(data []byte) (*Topology, error) {
	var t Topology
	if err := yaml.UnmarshalStrict(data, &t); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	return &t, nil
}

// ParseFile reads and parses path.
func ParseFile(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Node returns the node called name.
func (t *Topology) Node(name string) (*Node, bool) {
	for i := range t.Nodes {
		if t.Nodes[i].Name == name {
			return &t.Nodes[i], true
		}
	}
	return nil, false
}

// Subnet returns the subnet called name.
func (t *Topology) Subnet(name string) (*Subnet, bool) {
	for i := range t.Subnets {
		if t.Subnets[i].Name == name {
			return &t.Subnets[i], true
		}
	}
	return nil, false
}

// PodsOn returns the pods of node, in topology order.
func (t *Topology) PodsOn(node string) []Pod {
	var out []Pod
	for _, p := range t.Pods {
		if p.Node == node {
			out = append(out, p)
		}
	}
	return out
}

// DatastoreAddr is where the lab's datastore listens: the gateway of the
// first subnet, reachable from every node over its default route.
func (t *Topology) DatastoreAddr() netip.AddrPort {
	return netip.AddrPortFrom(t.Subnets[0].GatewayIP, DatastorePort)
}

// DatastorePort is the datastore's client port.
const DatastorePort = 2379

// Addr6 is the IPv6 address of the host at a on the subnet: the host
// number of a in Prefix, in Prefix6. Invalid when the subnet has no IPv6
// network or a is not in it.
func (s Subnet) Addr6(a netip.Addr) netip.Addr {
	if !s.Prefix6.IsValid() || !s.Prefix.Contains(a) {
		return netip.Addr{}
	}
	n, h := s.Prefix.Addr().As4(), a.As4()
	host := (uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])) -
		(uint32(n[0])<<24 | uint32(n[1])<<16 | uint32(n[2])<<8 | uint32(n[3]))
	b := s.Prefix6.Addr().As16()
	for i := 15; i >= 12 && host > 0; i-- {
		b[i] |= byte(host)
		host >>= 8
	}
	return netip.AddrFrom16(b)
}
