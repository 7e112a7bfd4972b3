// Package simcluster writes a simulated cluster into a datastore, in
// Calico's layout, for trying tortie at scale and for the scale
// benchmark: N nodes, each with its Node (an address and a VXLAN tunnel
// address), one IPAM block with a confirmed affinity (the block and its
// affinity key), and E WorkloadEndpoints whose addresses are allocated in
// that block with their IPAM handles; one pool, VXLAN Always. What it
// writes is what calico-node and the CNI plugin would have left: `tortiectl
// ipam check` finds nothing wrong with it, and a tortie-node routes every
// block.
//
// The keys are written in large transactions from several goroutines,
// so 100,000 endpoints take seconds, not the hours one pod at a time
// would.
package simcluster

import (
	"fmt"
	"net"
	"net/netip"

	v3 "github.com/tortienet/tortie/api/v3"
)

// Spec describes a simulated cluster. The zero value of a field takes its
// default (see Defaults).
type Spec struct {
	// Nodes is how many nodes to write.
	Nodes int
	// EndpointsPerNode is how many WorkloadEndpoints each node holds;
	// with the node's VXLAN tunnel address they must fit in its block.
	EndpointsPerNode int
	// PoolCIDR is the one IPPool; node i gets its i-th block.
	PoolCIDR netip.Prefix
	// BlockSize is the pool's block size (prefix length).
	BlockSize int
	// NodeCIDR holds the nodes' addresses: node i has its (i+1)-th.
	NodeCIDR netip.Prefix
	// Prefix starts every name: the nodes (prefix + index), the pool
	// (prefix + "-pool") and the endpoints' namespace.
	Prefix string
}

// Defaults of Spec.
var (
	DefaultPoolCIDR = netip.MustParsePrefix("10.0.0.0/8")
	DefaultNodeCIDR = netip.MustParsePrefix("172.16.0.0/12")
)

// Defaults fills the fields left zero.
func (s *Spec) Defaults() {
	if !s.PoolCIDR.IsValid() {
		s.PoolCIDR = DefaultPoolCIDR
	}
	if s.BlockSize == 0 {
		s.BlockSize = 26
	}
	if !s.NodeCIDR.IsValid() {
		s.NodeCIDR = DefaultNodeCIDR
	}
	if s.Prefix == "" {
		s.Prefix = "sim"
	}
}

// Validate checks a defaulted Spec; errors name the field and value.
func (s *Spec) Validate() error {
	switch {
	case s.Nodes < 1:
		return fmt.Errorf("nodes = %d: must be at least 1", s.Nodes)
	case s.EndpointsPerNode < 0:
		return fmt.Errorf("endpoints-per-node = %d: must not be negative", s.EndpointsPerNode)
	case !s.PoolCIDR.Addr().Is4() || s.PoolCIDR.Masked() != s.PoolCIDR:
		return fmt.Errorf("pool-cidr = %s: must be an IPv4 network address with its prefix length", s.PoolCIDR)
	case s.BlockSize < max(20, s.PoolCIDR.Bits()) || s.BlockSize > 32:
		return fmt.Errorf("block-size = %d: must be between 20 (and the pool's prefix length, %d) and 32", s.BlockSize, s.PoolCIDR.Bits())
	case s.EndpointsPerNode+1 > 1<<(32-s.BlockSize):
		return fmt.Errorf("endpoints-per-node = %d: a /%d block holds %d addresses, one of them the node's tunnel address",
			s.EndpointsPerNode, s.BlockSize, 1<<(32-s.BlockSize))
	case s.Nodes > 1<<(s.BlockSize-s.PoolCIDR.Bits()):
		return fmt.Errorf("nodes = %d: pool %s has only %d /%d blocks", s.Nodes, s.PoolCIDR, 1<<(s.BlockSize-s.PoolCIDR.Bits()), s.BlockSize)
	case !s.NodeCIDR.Addr().Is4() || uint64(s.Nodes)+2 > 1<<(32-s.NodeCIDR.Bits()):
		return fmt.Errorf("node-cidr = %s: must be IPv4 and hold %d node addresses", s.NodeCIDR, s.Nodes)
	case v3.Validate(&v3.Node{ObjectMeta: v3.ObjectMeta{Name: s.NodeName(0)}}) != nil:
		return fmt.Errorf("prefix = %q: %v", s.Prefix, v3.Validate(&v3.Node{ObjectMeta: v3.ObjectMeta{Name: s.NodeName(0)}}))
	}
	return nil
}

// The accessors below need a defaulted Spec (Defaults).

// NodeName is the name of node i.
func (s *Spec) NodeName(i int) string { return fmt.Sprintf("%s%05d", s.Prefix, i) }

// PoolName is the name of the IPPool.
func (s *Spec) PoolName() string { return s.Prefix + "-pool" }

// Namespace is the namespace of every endpoint.
func (s *Spec) Namespace() string { return s.Prefix }

// NodeAddr is node i's address, with NodeCIDR's prefix length.
func (s *Spec) NodeAddr(i int) netip.Prefix {
	return netip.PrefixFrom(addrAdd(s.NodeCIDR.Addr(), uint32(i)+1), s.NodeCIDR.Bits())
}

// Block is node i's block: the pool's i-th.
func (s *Spec) Block(i int) netip.Prefix {
	return netip.PrefixFrom(addrAdd(s.PoolCIDR.Addr(), uint32(i)<<(32-s.BlockSize)), s.BlockSize)
}

// TunnelAddr is node i's VXLAN tunnel address: the first of its block.
func (s *Spec) TunnelAddr(i int) netip.Addr { return s.Block(i).Addr() }

// EndpointAddr is the address of node i's endpoint j: the block's
// (j+1)-th, after the tunnel address.
func (s *Spec) EndpointAddr(i, j int) netip.Addr { return addrAdd(s.Block(i).Addr(), uint32(j)+1) }

// VTEPMAC is node i's VXLAN MAC, as the node agent records it on its Node.
func (s *Spec) VTEPMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x66, 0x51, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

func addrAdd(a netip.Addr, n uint32) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
