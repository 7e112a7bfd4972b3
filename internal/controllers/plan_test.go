package controllers

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/ipam"
)

func block(cidr string, owners ...ipam.AllocationAttribute) *ipam.Block {
	b := &ipam.Block{CIDR: cidr, Allocations: make([]*int, 4), Attributes: owners}
	for i := range owners {
		b.Allocations[i] = &i
	}
	return b
}

func pod(handle, ns, name string) ipam.AllocationAttribute {
	return ipam.AllocationAttribute{HandleID: handle, ActiveOwnerAttrs: map[string]string{ipam.AttrNamespace: ns, ipam.AttrPod: name, ipam.AttrNode: "n1"}}
}

func TestPlan(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	const grace = 15 * time.Minute
	st := State{
		Blocks: []*ipam.Block{block("10.0.0.0/30",
			pod("h-live", "ns", "live"), pod("h-gone", "ns", "gone"),
			ipam.AllocationAttribute{HandleID: "ipip-tunnel-addr-n2", ActiveOwnerAttrs: map[string]string{ipam.AttrNode: "n2"}},
			ipam.AllocationAttribute{HandleID: "h-unknown"})},
		Affinities: []ipam.AffinityRecord{{Host: "n1", CIDR: netip.MustParsePrefix("10.0.0.0/30")}, {Host: "n2", CIDR: netip.MustParsePrefix("10.0.0.4/30")}},
		Pods:       map[string]bool{"ns/live": true},
		Nodes:      map[string]bool{"n1": true},
	}
	for _, tc := range []struct {
		name     string
		suspects map[string]time.Time
		now      time.Time
		handles  []string
		hosts    []string
		still    []string
	}{
		{"first sight: only suspected", nil, t0, nil, nil,
			[]string{"handle:h-gone", "handle:ipip-tunnel-addr-n2", "host:n2"}},
		{"within the grace period", map[string]time.Time{"handle:h-gone": t0, "host:n2": t0}, t0.Add(grace - time.Second), nil, nil,
			[]string{"handle:h-gone", "handle:ipip-tunnel-addr-n2", "host:n2"}},
		{"after the grace period", map[string]time.Time{"handle:h-gone": t0, "host:n2": t0, "handle:ipip-tunnel-addr-n2": t0}, t0.Add(grace),
			[]string{"h-gone", "ipip-tunnel-addr-n2"}, []string{"n2"}, nil},
		{"a suspect that came back is forgotten", map[string]time.Time{"handle:h-live": t0}, t0.Add(grace), nil, nil,
			[]string{"handle:h-gone", "handle:ipip-tunnel-addr-n2", "host:n2"}},
	} {
		a := Plan(st, tc.suspects, tc.now, grace)
		var still []string
		for k := range a.Suspects {
			still = append(still, k)
		}
		slices.Sort(still)
		if !reflect.DeepEqual(a.Handles, tc.handles) || !reflect.DeepEqual(a.Hosts, tc.hosts) || !reflect.DeepEqual(still, tc.still) {
			t.Errorf("%s: handles %v hosts %v suspects %v; want %v %v %v", tc.name, a.Handles, a.Hosts, still, tc.handles, tc.hosts, tc.still)
		}
	}
}
