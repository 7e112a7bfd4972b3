package ipam

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
)

// Report is the result of Check: what `tortiectl ipam check` prints and
// writes with -o. Leaked addresses carry their handle and allocation
// sequence number, so releasing from a report can free exactly them and
// never an address that has been reallocated since. Everything in it was
// read at one datastore revision (Revision).
type Report struct {
	ClusterGUID                string `json:"clusterGUID"`
	ClusterType                string `json:"clusterType,omitempty"`
	ClusterInformationRevision string `json:"clusterInformationRevision"`
	DatastoreLocked            bool   `json:"datastoreLocked"`
	Version                    string `json:"tortiectlVersion,omitempty"`
	Revision                   int64  `json:"revision"`

	Blocks        []BlockSummary `json:"blocks"`
	Pools         []string       `json:"pools"`
	Allocations   int            `json:"allocations"`
	NodeTunnelIPs int            `json:"nodeTunnelIPs"`
	WorkloadIPs   int            `json:"workloadIPs"`
	InUse         int            `json:"inUse"`
	GoodHandles   int            `json:"handlesWithIPs"`

	Leaked            []LeakedIP      `json:"leakedIPs"`
	NotAllocated      []InUseIP       `json:"inUseNotAllocated"`
	OutsidePools      []InUseIP       `json:"inUseOutsidePools"`
	MultipleOwners    []InUseIP       `json:"multipleOwners,omitempty"`
	HandleMismatches  []HandleProblem `json:"handleMismatches"`
	MissingHandles    []HandleProblem `json:"missingHandles"`
	EmptyHandles      []string        `json:"handlesWithoutIPs"`
	StaleAffinities   []StaleAffinity `json:"staleAffinities"`
	AllocationsByNode map[string]int  `json:"allocationsByNode"`
	AllocationsByPool map[string]int  `json:"allocationsByPool"`
	// NodesWithoutEndpoints are nodes that hold workload allocations
	// but have no WorkloadEndpoint at all: the IPAM plugin used without
	// tortie's CNI plugin looks like this, and then those allocations
	// are not leaks.
	NodesWithoutEndpoints []string `json:"nodesWithoutEndpoints,omitempty"`
}

// BlockSummary is one block in a report.
type BlockSummary struct {
	CIDR     string `json:"cidr"`
	Affinity string `json:"affinity"`
	InUse    int    `json:"inUse"`
	Size     int    `json:"size"`
}

// LeakedIP is an allocation no workload or node uses.
type LeakedIP struct {
	IP             string `json:"ip"`
	Handle         string `json:"handle"`
	Node           string `json:"node,omitempty"`
	Block          string `json:"block"`
	Pool           string `json:"pool,omitempty"`
	SequenceNumber uint64 `json:"sequenceNumber"`
}

// InUseIP is an address a node or workload uses, with who uses it
// ("Node(name)", "Workload(namespace/name)").
type InUseIP struct {
	IP     string   `json:"ip"`
	Owners []string `json:"owners"`
}

// HandleProblem is a handle whose record disagrees with the blocks.
type HandleProblem struct {
	Handle   string `json:"handle"`
	Block    string `json:"block"`
	Recorded int    `json:"recorded"`
	Actual   int    `json:"actual"`
}

// StaleAffinity is an affinity of a node that does not exist.
type StaleAffinity struct {
	Host  string `json:"host"`
	Block string `json:"block"`
}

// Problems counts what the report found wrong.
func (r *Report) Problems() int {
	return len(r.Leaked) + len(r.NotAllocated) + len(r.OutsidePools) + len(r.HandleMismatches) +
		len(r.MissingHandles) + len(r.EmptyHandles) + len(r.StaleAffinities)
}

// Check reads the whole IPAM state, the nodes and the workload endpoints
// in one listing of the datastore, so at one revision: what it reports is
// a state the datastore really had, even while addresses are being
// allocated and released. It works on the etcd datastore (calicoctl's
// needs Kubernetes). It changes nothing.
func (m *IPAM) Check(ctx context.Context) (*Report, error) {
	kvs, rev, err := m.s.List(ctx, datastore.Root)
	if err != nil {
		return nil, fmt.Errorf("read the datastore: %w", err)
	}
	in, ci, err := decodeSnapshot(kvs)
	if err != nil {
		return nil, err
	}
	r := analyze(in)
	r.Revision = rev
	if ci != nil {
		r.ClusterGUID, r.ClusterType = ci.Spec.ClusterGUID, ci.Spec.ClusterType
		r.ClusterInformationRevision = ci.ResourceVersion
		r.DatastoreLocked = ci.Spec.DatastoreReady != nil && !*ci.Spec.DatastoreReady
	}
	return r, nil
}

type checkInput struct {
	blocks     []*Block
	affinities []AffinityRecord
	handles    map[string]Handle
	nodes      []*v3.Node
	weps       []*v3.WorkloadEndpoint
	pools      []*v3.IPPool
}

// decodeSnapshot sorts one listing of the whole tree into what Check
// needs, and the ClusterInformation (nil when there is none).
func decodeSnapshot(kvs []datastore.KV) (checkInput, *v3.ClusterInformation, error) {
	in := checkInput{handles: map[string]Handle{}}
	var ci *v3.ClusterInformation
	resources := map[string]v3.KindInfo{}
	for _, k := range []string{"Node", "WorkloadEndpoint", "IPPool", "ClusterInformation"} {
		ki, _ := v3.LookupKind(k)
		resources[ki.Plural] = ki
	}
	for _, kv := range kvs {
		switch {
		case strings.HasPrefix(kv.Key, BlockPrefix("ipv4")) || strings.HasPrefix(kv.Key, BlockPrefix("ipv6")):
			b, err := decodeBlock(kv)
			if err != nil {
				return in, nil, err
			}
			in.blocks = append(in.blocks, b.Block)
		case strings.HasPrefix(kv.Key, HandlePrefix()):
			var h Handle
			if err := json.Unmarshal(kv.Value, &h); err != nil {
				return in, nil, fmt.Errorf("decode handle %s: %w", kv.Key, err)
			}
			in.handles[strings.TrimPrefix(kv.Key, HandlePrefix())] = h
		case strings.HasPrefix(kv.Key, HostPrefix()):
			if host, cidr, ok := parseAffinityKey(kv.Key); ok {
				var a Affinity
				if err := json.Unmarshal(kv.Value, &a); err != nil {
					return in, nil, fmt.Errorf("decode affinity %s: %w", kv.Key, err)
				}
				in.affinities = append(in.affinities, AffinityRecord{Host: host, CIDR: cidr, State: a.State})
			}
		case strings.HasPrefix(kv.Key, datastore.ResourcePrefix):
			plural, _, _ := strings.Cut(strings.TrimPrefix(kv.Key, datastore.ResourcePrefix), "/")
			ki, ok := resources[plural]
			if !ok {
				continue
			}
			if _, _, ok := datastore.SplitResourceKey(plural, kv.Key, ki.Namespaced); !ok {
				continue
			}
			r, err := client.Decode(ki, kv)
			if err != nil {
				return in, nil, err
			}
			switch o := r.(type) {
			case *v3.Node:
				in.nodes = append(in.nodes, o)
			case *v3.WorkloadEndpoint:
				in.weps = append(in.weps, o)
			case *v3.IPPool:
				in.pools = append(in.pools, o)
			case *v3.ClusterInformation:
				if o.Name == v3.SingletonName {
					ci = o
				}
			}
		}
	}
	return in, ci, nil
}
