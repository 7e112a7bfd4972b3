package ipam

import (
	"errors"
	"strings"
	"testing"
)

func TestPlanRelease(t *testing.T) {
	leak := func(ip, node, handle string, seq uint64) LeakedIP {
		return LeakedIP{IP: ip, Handle: handle, Node: node, Block: "10.0.0.0/29", Pool: "10.0.0.0/24", SequenceNumber: seq}
	}
	a, b, c := leak("10.0.0.1", "n1", "net.a", 1), leak("10.0.0.2", "n1", "net.b", 2), leak("10.0.0.3", "n2", "net.c", 3)
	now := &Report{ClusterGUID: "g", Leaked: []LeakedIP{a, b, c}, AllocationsByPool: map[string]int{"10.0.0.0/24": 10}}
	tests := []struct {
		name    string
		now     *Report
		reports []*Report
		opts    ReleaseReportOptions
		want    int
		err     string
	}{
		{name: "leaked in all reports and now", now: now, reports: []*Report{{ClusterGUID: "g", Leaked: []LeakedIP{a, b}}, {ClusterGUID: "g", Leaked: []LeakedIP{b, c}}}, want: 1},
		{name: "reallocated since (other sequence number)", now: now, reports: []*Report{{ClusterGUID: "g", Leaked: []LeakedIP{leak("10.0.0.1", "n1", "net.a", 9)}}}, want: 0},
		{name: "other cluster", now: now, reports: []*Report{{ClusterGUID: "h"}}, err: `cluster "h"`},
		{name: "node without endpoints", now: &Report{ClusterGUID: "g", Leaked: now.Leaked, AllocationsByPool: now.AllocationsByPool, NodesWithoutEndpoints: []string{"n2"}},
			reports: []*Report{{ClusterGUID: "g", Leaked: []LeakedIP{a, c}}}, err: "no WorkloadEndpoint at all (n2)"},
		{name: "node without endpoints, forced", now: &Report{ClusterGUID: "g", Leaked: now.Leaked, NodesWithoutEndpoints: []string{"n2"}},
			reports: []*Report{{ClusterGUID: "g", Leaked: []LeakedIP{a, c}}}, opts: ReleaseReportOptions{Force: true}, want: 2},
		{name: "runtime knows the container", now: now, reports: []*Report{{ClusterGUID: "g", Leaked: []LeakedIP{a, b}}},
			opts: ReleaseReportOptions{RuntimeKnows: func(h string) bool { return h == "net.b" }}, err: "10.0.0.2 (net.b)"},
		{name: "most of the pool", now: &Report{ClusterGUID: "g", Leaked: now.Leaked, AllocationsByPool: map[string]int{"10.0.0.0/24": 4}},
			reports: []*Report{{ClusterGUID: "g", Leaked: []LeakedIP{a, b, c}}}, err: "3 of the 4 allocations of pool 10.0.0.0/24"},
		{name: "half the pool is allowed", now: &Report{ClusterGUID: "g", Leaked: now.Leaked, AllocationsByPool: map[string]int{"10.0.0.0/24": 4}},
			reports: []*Report{{ClusterGUID: "g", Leaked: []LeakedIP{a, b}}}, want: 2},
	}
	for _, tt := range tests {
		plan, err := planRelease(tt.now, tt.reports, tt.opts)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want one with %q", tt.name, err, tt.err)
			}
			if strings.Contains(tt.err, "cluster") == errors.Is(err, ErrUnsafeRelease) {
				t.Errorf("%s: ErrUnsafeRelease is %v", tt.name, errors.Is(err, ErrUnsafeRelease))
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case len(plan) != tt.want:
			t.Errorf("%s: plan %v, want %d addresses", tt.name, plan, tt.want)
		}
	}
}
