package ipam

import (
	"time"
)

// Block is one IPAM block exactly as Calico stores it
// (/calico/ipam/v2/assignment/ipv4/block/10.244.1.0-26).
//
// Allocations[ord] is the index into Attributes of the owner of the
// address base+ord, or nil when free. Unallocated is the FIFO of free
// ordinals: allocation pops from the head, release appends to the tail, so
// a freed address is reused last.
type Block struct {
	CIDR                        string                `json:"cidr"`
	Affinity                    *string               `json:"affinity"`
	AffinityClaimTime           *time.Time            `json:"affinity_claim_time,omitempty"`
	Allocations                 []*int                `json:"allocations"`
	Unallocated                 []int                 `json:"unallocated"`
	Attributes                  []AllocationAttribute `json:"attributes"`
	SequenceNumber              uint64                `json:"sequenceNumber"`
	SequenceNumberForAllocation map[string]uint64     `json:"sequenceNumberForAllocation"`
	Deleted                     bool                  `json:"deleted"`
}

// AllocationAttribute is the owner of one or more addresses of a block.
type AllocationAttribute struct {
	HandleID            string            `json:"handle_id,omitempty"`
	ActiveOwnerAttrs    map[string]string `json:"secondary,omitempty"`
	AlternateOwnerAttrs map[string]string `json:"alternateOwnerAttrs,omitempty"`
	ReleasedAt          *time.Time        `json:"releasedAt,omitempty"`
}

// Attribute keys Calico records with an allocation.
const (
	AttrNode      = "node"
	AttrPod       = "pod"
	AttrNamespace = "namespace"
	AttrTimestamp = "timestamp"
	AttrType      = "type"

	TypeIPIPTunnel  = "ipipTunnelAddress"
	TypeVXLANTunnel = "vxlanTunnelAddress"
)

// Affinity states (BlockAffinity.spec.state).
const (
	StatePending         = "pending"
	StateConfirmed       = "confirmed"
	StatePendingDeletion = "pendingDeletion"
)

// Affinity is the value of a block-affinity key
// (/calico/ipam/v2/host/<node>/ipv4/block/<cidr>).
type Affinity struct {
	State   string `json:"state"`
	Deleted bool   `json:"deleted"`
}

// Handle counts a handle's allocations per block
// (/calico/ipam/v2/handle/<id>), so release by handle finds its blocks.
type Handle struct {
	Block   map[string]int `json:"block"`
	Deleted bool           `json:"deleted"`
}

// Config is the cluster's IPAM configuration (/calico/ipam/v2/config).
type Config struct {
	StrictAffinity     bool   `json:"strict_affinity,omitempty"`
	AutoAllocateBlocks bool   `json:"auto_allocate_blocks"`
	MaxBlocksPerHost   int    `json:"maxBlocksPerHost,omitempty"`
	KubeVirtPersist    string `json:"kubeVirtVMAddressPersistence,omitempty"`
}

// DefaultConfig is what Calico writes when no configuration exists.
func DefaultConfig() Config {
	return Config{AutoAllocateBlocks: true, KubeVirtPersist: "Enabled"}
}

// DefaultMaxBlocksPerHost applies when neither the config nor the request sets a cap.
const DefaultMaxBlocksPerHost = 20
