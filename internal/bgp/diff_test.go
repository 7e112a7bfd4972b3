package bgp

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestDiffPeers(t *testing.T) {
	a := Peer{Name: "Mesh_10_0_0_2", Address: netip.MustParseAddr("10.0.0.2"), ASN: 64512}
	b := Peer{Name: "Mesh_10_0_0_3", Address: netip.MustParseAddr("10.0.0.3"), ASN: 64512, Passive: true}
	c := Peer{Name: "Global_10_0_0_9", Address: netip.MustParseAddr("10.0.0.9"), ASN: 65001}
	b2 := b
	b2.Password = "secret"
	held := map[netip.Addr]Peer{a.Address: a, b.Address: b}
	for _, tc := range []struct {
		name string
		want []Peer
		diff peerDiff
	}{
		{"unchanged", []Peer{a, b}, peerDiff{}},
		{"one added", []Peer{a, b, c}, peerDiff{Add: []Peer{c}}},
		{"one removed", []Peer{b}, peerDiff{Delete: []Peer{a}}},
		{"one changed", []Peer{a, b2}, peerDiff{Replace: []Peer{b2}}},
		{"all removed", nil, peerDiff{Delete: []Peer{a, b}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := diffPeers(held, tc.want); !reflect.DeepEqual(got, tc.diff) {
				t.Errorf("diff = %+v, want %+v", got, tc.diff)
			}
		})
	}
}

func TestDiffRoutes(t *testing.T) {
	r1 := Route{Prefix: netip.MustParsePrefix("10.244.1.0/26"), NextHop: netip.MustParseAddr("10.0.0.1")}
	r2 := Route{Prefix: netip.MustParsePrefix("10.244.2.0/26"), NextHop: netip.MustParseAddr("10.0.0.1")}
	r2c := r2
	r2c.Communities = []string{"65000:100"}
	held := map[netip.Prefix]Route{r1.Prefix: r1, r2.Prefix: r2}
	for _, tc := range []struct {
		name string
		want []Route
		diff routeDiff
	}{
		{"unchanged", []Route{r2, r1}, routeDiff{}},
		{"withdrawn", []Route{r1}, routeDiff{Withdraw: []Route{r2}}},
		{"community added", []Route{r1, r2c}, routeDiff{Announce: []Route{r2c}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := diffRoutes(held, tc.want); !reflect.DeepEqual(got, tc.diff) {
				t.Errorf("diff = %+v, want %+v", got, tc.diff)
			}
		})
	}
}

func TestSocketError(t *testing.T) {
	for in, want := range map[string]string{
		"dial tcp 10.0.0.2:179: connect: connection refused": "Connection refused",
		"dial tcp 10.0.0.2:179: i/o timeout":                 "Connection timed out",
		"":                                                   "",
	} {
		if got := socketError(in); got != want {
			t.Errorf("socketError(%q) = %q, want %q", in, got, want)
		}
	}
}
