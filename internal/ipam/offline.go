package ipam

import (
	"net/netip"
	"time"
)

// NewAffineBlock is an empty block for cidr affine to host ("" for none),
// as a claim leaves it: for tools that write a cluster's IPAM state
// directly (the simulated cluster of the benchmarks), with the affinity
// key beside it (AffinityKey, Affinity{State: StateConfirmed}).
func NewAffineBlock(cidr netip.Prefix, host string, now time.Time) *Block {
	return newBlock(cidr, host, now)
}

// Assign allocates address a of the block to handle with attrs (AttrNode,
// AttrPod, ...), as an allocation does; it fails if a is outside the
// block or in use.
func (b *Block) Assign(a netip.Addr, handle string, attrs map[string]string) error {
	return b.assign(a, handle, attrs)
}
