package veth

import (
	"fmt"
	"net"
	"net/netip"
)

// HostMAC is the MAC address of every host-side interface. The pod's
// gateway neighbour entry points at it.
var HostMAC = net.HardwareAddr{0xee, 0xee, 0xee, 0xee, 0xee, 0xee}

var (
	// GatewayV4 is the pod's IPv4 next hop: a link-local address that no
	// interface holds; the pod reaches it through a permanent neighbour entry.
	GatewayV4 = netip.MustParseAddr("169.254.1.1")
	// GatewayV6 is the pod's IPv6 next hop: the EUI-64 link-local address
	// the kernel gives the host side because of its fixed MAC.
	GatewayV6 = netip.MustParseAddr("fe80::ecee:eeff:feee:eeee")
)

// Spec is one workload interface: what Setup creates and Verify checks.
type Spec struct {
	// NetNS is the path of the pod's network namespace.
	NetNS string
	// IfName is the interface name inside the pod (CNI_IFNAME).
	IfName string
	// HostIfName is the host side's name (cali + 11 hex characters).
	HostIfName string
	// ContainerMAC is the MAC of the pod side; nil lets the kernel choose
	// (Setup then fills it in).
	ContainerMAC net.HardwareAddr
	// MTU of both sides.
	MTU int
	// NumQueues is the number of tx and rx queues of each side (0: the
	// kernel's default).
	NumQueues int
	// Addrs are the pod's addresses, each a single address (/32 or /128).
	Addrs []netip.Prefix
	// AllowIPForwarding lets the pod forward packets (container_settings).
	AllowIPForwarding bool
}

// HasV4 and HasV6 tell which families the workload has addresses of.
func (s *Spec) HasV4() bool { return s.has(true) }
func (s *Spec) HasV6() bool { return s.has(false) }

func (s *Spec) has(v4 bool) bool {
	for _, a := range s.Addrs {
		if a.Addr().Is4() == v4 {
			return true
		}
	}
	return false
}

func (s *Spec) validateNames() error {
	if s.NetNS == "" || s.IfName == "" || s.HostIfName == "" {
		return fmt.Errorf("veth spec incomplete: netns %q, ifname %q, host ifname %q", s.NetNS, s.IfName, s.HostIfName)
	}
	return nil
}

func (s *Spec) validate() error {
	if err := s.validateNames(); err != nil {
		return err
	}
	if len(s.Addrs) == 0 {
		return fmt.Errorf("veth spec for %s: no addresses", s.HostIfName)
	}
	for _, a := range s.Addrs {
		if !a.IsSingleIP() {
			return fmt.Errorf("veth spec for %s: address %s is not a single address", s.HostIfName, a)
		}
	}
	return nil
}

// State is what exists under the names a Spec would use.
type State struct {
	// Container is the link named IfName in the pod's namespace, nil when
	// there is none (or the namespace itself is gone).
	Container *Link
	// Host is the link named HostIfName in the node's namespace, or nil.
	Host *Link
}

// Paired reports whether the container link is a veth whose peer is the
// host link: the attachment exists, fully or in part.
func (s State) Paired() bool {
	return s.Container != nil && s.Host != nil &&
		s.Container.Kind == "veth" && s.Host.Kind == "veth" &&
		s.Container.PeerIndex == s.Host.Index
}

// Link is the part of an interface that decides ownership.
type Link struct {
	Name string
	// Kind is the rtnetlink link kind ("veth", "dummy", "device", ...).
	Kind  string
	Index int
	// PeerIndex is the ifindex of a veth's peer (in the peer's namespace).
	PeerIndex int
	MAC       net.HardwareAddr
	// Addrs are the link's global addresses, as single-address prefixes.
	Addrs []netip.Prefix
}
