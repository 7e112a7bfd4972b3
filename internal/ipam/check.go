package ipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// Report is the result of Check: what `tortiectl ipam check` prints and
// writes with -o. Leaked addresses carry their handle and allocation
// sequence number, so releasing from a report can free exactly them and
// never an address that has been reallocated since.
type Report struct {
	ClusterGUID                string `json:"clusterGUID"`
	ClusterInformationRevision string `json:"clusterInformationRevision"`
	Version                    string `json:"tortiectlVersion,omitempty"`

	Blocks      []BlockSummary `json:"blocks"`
	Pools       []string       `json:"pools"`
	Allocations int            `json:"allocations"`
	InUse       int            `json:"inUse"`

	Leaked            []LeakedIP      `json:"leakedIPs"`
	NotAllocated      []string        `json:"inUseNotAllocated"`
	OutsidePools      []string        `json:"inUseOutsidePools"`
	HandleMismatches  []HandleProblem `json:"handleMismatches"`
	MissingHandles    []HandleProblem `json:"missingHandles"`
	EmptyHandles      []string        `json:"handlesWithoutIPs"`
	StaleAffinities   []StaleAffinity `json:"staleAffinities"`
	AllocationsByNode map[string]int  `json:"allocationsByNode"`
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
	SequenceNumber uint64 `json:"sequenceNumber"`
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
// and reports inconsistencies. It works on the etcd datastore (calicoctl's
// needs Kubernetes). It changes nothing.
func (m *IPAM) Check(ctx context.Context) (*Report, error) {
	var in checkInput
	var err error
	if in.blocks, err = m.ListBlocks(ctx); err != nil {
		return nil, err
	}
	if in.affinities, err = m.ListAffinities(ctx); err != nil {
		return nil, err
	}
	if in.handles, err = m.listHandles(ctx); err != nil {
		return nil, err
	}
	if in.nodes, err = listAs[*v3.Node](ctx, m.c, "Node"); err != nil {
		return nil, err
	}
	if in.weps, err = listAs[*v3.WorkloadEndpoint](ctx, m.c, "WorkloadEndpoint"); err != nil {
		return nil, err
	}
	if in.pools, err = listAs[*v3.IPPool](ctx, m.c, "IPPool"); err != nil {
		return nil, err
	}
	r := analyze(in)
	ki, _ := v3.LookupKind("ClusterInformation")
	if ci, err := m.c.Get(ctx, ki, "", "default"); err == nil {
		r.ClusterGUID = ci.(*v3.ClusterInformation).Spec.ClusterGUID
		r.ClusterInformationRevision = ci.GetObjectMeta().ResourceVersion
	} else if !errors.Is(err, datastore.ErrNotFound) {
		return nil, err
	}
	return r, nil
}

func (m *IPAM) listHandles(ctx context.Context) (map[string]Handle, error) {
	kvs, _, err := m.s.List(ctx, HandlePrefix())
	if err != nil {
		return nil, fmt.Errorf("list handles: %w", err)
	}
	out := make(map[string]Handle, len(kvs))
	for _, kv := range kvs {
		var h Handle
		if err := json.Unmarshal(kv.Value, &h); err != nil {
			return nil, fmt.Errorf("decode handle %s: %w", kv.Key, err)
		}
		out[strings.TrimPrefix(kv.Key, HandlePrefix())] = h
	}
	return out, nil
}

type checkInput struct {
	blocks     []*Block
	affinities []AffinityRecord
	handles    map[string]Handle
	nodes      []*v3.Node
	weps       []*v3.WorkloadEndpoint
	pools      []*v3.IPPool
}

// analyze is Check's pure part.
func analyze(in checkInput) *Report {
	r := &Report{AllocationsByNode: map[string]int{}}
	nodes := map[string]bool{}
	for _, n := range in.nodes {
		nodes[n.Name] = true
	}
	inUse := map[netip.Addr]bool{}
	for _, w := range in.weps {
		for _, n := range w.Spec.IPNetworks {
			if p, err := netip.ParsePrefix(n); err == nil {
				inUse[p.Addr()] = true
			}
		}
	}
	pools := parsePools(in.pools)
	for _, p := range pools {
		r.Pools = append(r.Pools, p.cidr.String())
	}
	allocated := map[netip.Addr]bool{}
	perHandle := map[string]map[string]int{}
	for _, b := range in.blocks {
		r.Blocks = append(r.Blocks, BlockSummary{CIDR: b.CIDR, Affinity: ptrString(b.Affinity), InUse: b.InUse(), Size: b.Size()})
		for ord := range b.Allocations {
			owner, held := b.Owner(ord)
			if !held {
				continue
			}
			a := b.Addr(ord)
			allocated[a] = true
			r.Allocations++
			node := owner.ActiveOwnerAttrs[AttrNode]
			r.AllocationsByNode[node]++
			if perHandle[owner.HandleID] == nil {
				perHandle[owner.HandleID] = map[string]int{}
			}
			perHandle[owner.HandleID][b.CIDR]++
			if tunnelNode, ok := tunnelOwner(owner); ok {
				if nodes[tunnelNode] {
					r.InUse++
					continue
				}
			} else if inUse[a] {
				r.InUse++
				continue
			}
			r.Leaked = append(r.Leaked, LeakedIP{IP: a.String(), Handle: owner.HandleID, Node: node, Block: b.CIDR,
				SequenceNumber: b.SequenceNumberForAllocation[strconv.Itoa(ord)]})
		}
	}
	for a := range inUse {
		switch {
		case !inAnyPool(pools, a):
			r.OutsidePools = append(r.OutsidePools, a.String())
		case !allocated[a]:
			r.NotAllocated = append(r.NotAllocated, a.String())
		}
	}
	for id, blocks := range perHandle {
		h, ok := in.handles[id]
		for cidr, n := range blocks {
			switch {
			case !ok:
				r.MissingHandles = append(r.MissingHandles, HandleProblem{Handle: id, Block: cidr, Actual: n})
			case h.Block[cidr] != n:
				r.HandleMismatches = append(r.HandleMismatches, HandleProblem{Handle: id, Block: cidr, Recorded: h.Block[cidr], Actual: n})
			}
		}
	}
	for id, h := range in.handles {
		for cidr, n := range h.Block {
			if _, ok := perHandle[id][cidr]; !ok && n > 0 {
				r.HandleMismatches = append(r.HandleMismatches, HandleProblem{Handle: id, Block: cidr, Recorded: n})
			}
		}
		if len(perHandle[id]) == 0 {
			r.EmptyHandles = append(r.EmptyHandles, id)
		}
	}
	for _, a := range in.affinities {
		if !nodes[a.Host] {
			r.StaleAffinities = append(r.StaleAffinities, StaleAffinity{Host: a.Host, Block: a.CIDR.String()})
		}
	}
	r.sort()
	return r
}

// tunnelOwner tells whether an allocation is a node's tunnel address.
func tunnelOwner(a AllocationAttribute) (string, bool) {
	for _, p := range []string{"ipip-tunnel-addr-", "vxlan-tunnel-addr-", "vxlan-v6-tunnel-addr-", "wireguard-tunnel-addr-"} {
		if n, ok := strings.CutPrefix(a.HandleID, p); ok {
			return n, true
		}
	}
	switch a.ActiveOwnerAttrs[AttrType] {
	case TypeIPIPTunnel, TypeVXLANTunnel, "vxlanV6TunnelAddress", "wireguardTunnelAddress", "wireguardV6TunnelAddress":
		return a.ActiveOwnerAttrs[AttrNode], true
	}
	return "", false
}

func inAnyPool(pools []pool, a netip.Addr) bool {
	for _, p := range pools {
		if p.cidr.Contains(a) {
			return true
		}
	}
	return false
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (r *Report) sort() {
	sort.Slice(r.Leaked, func(i, j int) bool { return addrLess(r.Leaked[i].IP, r.Leaked[j].IP) })
	sort.Slice(r.NotAllocated, func(i, j int) bool { return addrLess(r.NotAllocated[i], r.NotAllocated[j]) })
	sort.Slice(r.OutsidePools, func(i, j int) bool { return addrLess(r.OutsidePools[i], r.OutsidePools[j]) })
	byHandle := func(ps []HandleProblem) {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Handle+ps[i].Block < ps[j].Handle+ps[j].Block })
	}
	byHandle(r.HandleMismatches)
	byHandle(r.MissingHandles)
	sort.Strings(r.EmptyHandles)
	sort.Slice(r.StaleAffinities, func(i, j int) bool {
		return r.StaleAffinities[i].Host+r.StaleAffinities[i].Block < r.StaleAffinities[j].Host+r.StaleAffinities[j].Block
	})
}

func addrLess(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil {
		return a < b
	}
	return x.Less(y)
}

// ReleaseReport frees the addresses that every report lists as leaked and
// that are still leaked now, each only if it is still the same allocation
// (same handle and sequence number). It refuses reports of another
// cluster. It returns the addresses released.
func (m *IPAM) ReleaseReport(ctx context.Context, reports ...*Report) ([]string, error) {
	if len(reports) == 0 {
		return nil, errors.New("no report given")
	}
	now, err := m.Check(ctx)
	if err != nil {
		return nil, err
	}
	for i, r := range reports {
		if r.ClusterGUID != now.ClusterGUID {
			return nil, fmt.Errorf("report %d is of cluster %q, this datastore is cluster %q", i+1, r.ClusterGUID, now.ClusterGUID)
		}
	}
	still := map[LeakedIP]bool{}
	for _, l := range now.Leaked {
		still[l] = true
	}
	var opts []ReleaseOptions
	var names []string
	for _, l := range reports[0].Leaked {
		inAll := still[l]
		for _, r := range reports[1:] {
			inAll = inAll && containsLeak(r.Leaked, l)
		}
		if !inAll {
			continue
		}
		a, err := netip.ParseAddr(l.IP)
		if err != nil {
			return nil, fmt.Errorf("report lists %q: %w", l.IP, err)
		}
		opts = append(opts, ReleaseOptions{Address: a, Handle: l.Handle, SequenceNumber: l.SequenceNumber})
		names = append(names, l.IP)
	}
	if len(opts) == 0 {
		return nil, nil
	}
	if _, err := m.ReleaseIPs(ctx, opts...); err != nil {
		return nil, err
	}
	return names, nil
}

func containsLeak(ls []LeakedIP, l LeakedIP) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}
