package cni

import (
	"strings"
	"testing"
)

func TestSwapPodCIDRs(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		cidrs    []string
		want     string // substring of the result, or of the error
		changed  bool
	}{
		{"subnet", `{"ipam":{"type":"host-local","subnet":"usePodCidr"}}`, []string{"10.244.3.0/24"}, `"subnet":"10.244.3.0/24"`, true},
		{"ranges, dual stack", `{"ipam":{"type":"host-local","ranges":[[{"subnet":"usePodCidr"}],[{"subnet":"usePodCidrIPv6"}]]}}`,
			[]string{"fd00:10::/64", "10.244.3.0/24"}, `"ranges":[[{"subnet":"10.244.3.0/24"}],[{"subnet":"fd00:10::/64"}]]`, true},
		{"nothing to swap", `{"ipam":{"type":"host-local","subnet":"10.1.0.0/16"}}`, nil, `"subnet":"10.1.0.0/16"`, false},
		{"no v6 pod CIDR", `{"ipam":{"type":"host-local","subnet":"usePodCidrIPv6"}}`, []string{"10.244.3.0/24"}, "no such pod CIDR", true},
	} {
		out, changed, err := swapPodCIDRs([]byte(tc.in), tc.cidrs)
		got := string(out)
		if err != nil {
			got = err.Error()
		}
		if changed != tc.changed || !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %s (changed %v), want %s (changed %v)", tc.name, got, changed, tc.want, tc.changed)
		}
	}
	if !wantsPodCIDR([]byte(`{"ipam":{"subnet":"usePodCidr"}}`)) || wantsPodCIDR([]byte(`{"ipam":{"type":"tortie-ipam"}}`)) {
		t.Error("wantsPodCIDR")
	}
}
