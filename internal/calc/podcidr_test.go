package calc

import (
	"net/netip"
	"reflect"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

func TestPodCIDRBlocks(t *testing.T) {
	node := func(name string, cidrs ...string) *v3.Node {
		n := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: name}}
		n.Status.PodCIDRs = cidrs
		return n
	}
	nodes := []*v3.Node{node("a", "10.244.1.0/24", "fd00:1::/64"), node("b"), node("c", "10.244.3.7/24")}
	got := PodCIDRBlocks(nodes)
	want := []Block{{CIDR: netip.MustParsePrefix("10.244.1.0/24"), Host: "a"}, {CIDR: netip.MustParsePrefix("10.244.3.0/24"), Host: "c"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("blocks %v, want %v", got, want)
	}
	if a, ok := PodCIDRTunnelAddr(nodes[0]); !ok || a != netip.MustParseAddr("10.244.1.1") {
		t.Errorf("tunnel address of a: %v %v", a, ok)
	}
	if _, ok := PodCIDRTunnelAddr(nodes[1]); ok {
		t.Error("a node without a pod CIDR has a tunnel address")
	}
}
