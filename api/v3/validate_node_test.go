package v3

import "testing"

func TestValidateNode(t *testing.T) {
	type N = *Node
	base := func() N {
		return &Node{ObjectMeta: ObjectMeta{Name: "ca-node1"}, Spec: NodeSpec{BGP: &NodeBGPSpec{IPv4Address: "10.99.0.1/24"}}}
	}
	key := "IOPNvBTo0mQZY3Uov+uQAHgJhuV2eD0Kgh7ZFUbVAUU="
	runCases(t, base, []vcase[N]{
		ok("no bgp", func(n N) { n.Spec.BGP = nil }),
		bad("empty bgp", "spec.bgp", "must not be empty", func(n N) { n.Spec.BGP = &NodeBGPSpec{} }),
		ok("ipv4Address plain IP", func(n N) { n.Spec.BGP.IPv4Address = "10.99.0.1" }),
		bad("ipv4Address not v4", "spec.bgp.ipv4Address", `"fd00::1/64"`, func(n N) { n.Spec.BGP.IPv4Address = "fd00::1/64" }),
		bad("ipv4Address garbage", "spec.bgp.ipv4Address", `"10.99.0.1/33"`, func(n N) { n.Spec.BGP.IPv4Address = "10.99.0.1/33" }),
		ok("ipv6Address", func(n N) { n.Spec.BGP.IPv6Address = "fd00::1/64" }),
		bad("ipv6Address not v6", "spec.bgp.ipv6Address", `"10.0.0.1/24"`, func(n N) { n.Spec.BGP.IPv6Address = "10.0.0.1/24" }),
		ok("ipip tunnel addr", func(n N) { n.Spec.BGP.IPv4IPIPTunnelAddr = "10.244.0.1" }),
		bad("ipip tunnel addr is CIDR", "spec.bgp.ipv4IPIPTunnelAddr", `"10.244.0.1/32"`, func(n N) { n.Spec.BGP.IPv4IPIPTunnelAddr = "10.244.0.1/32" }),
		bad("ipip tunnel addr v6", "spec.bgp.ipv4IPIPTunnelAddr", `"fd00::1"`, func(n N) { n.Spec.BGP.IPv4IPIPTunnelAddr = "fd00::1" }),
		ok("route reflector id", func(n N) { n.Spec.BGP.RouteReflectorClusterID = "224.0.0.1" }),
		bad("route reflector id", "spec.bgp.routeReflectorClusterID", `"rr-1"`, func(n N) { n.Spec.BGP.RouteReflectorClusterID = "rr-1" }),
		ok("asNumber", func(n N) { as := ASNumber(65001); n.Spec.BGP.ASNumber = &as }),
		ok("vxlan addrs", func(n N) {
			n.Spec.IPv4VXLANTunnelAddr, n.Spec.IPv6VXLANTunnelAddr = "10.244.0.2", "fd00::2"
			n.Spec.VXLANTunnelMACAddr, n.Spec.VXLANTunnelMACAddrV6 = "66:0a:0b:0c:0d:0e", "66:0a:0b:0c:0d:0f"
		}),
		bad("vxlan v4 addr", "spec.ipv4VXLANTunnelAddr", `"fd00::2"`, func(n N) { n.Spec.IPv4VXLANTunnelAddr = "fd00::2" }),
		bad("vxlan v6 addr", "spec.ipv6VXLANTunnelAddr", `"10.0.0.1"`, func(n N) { n.Spec.IPv6VXLANTunnelAddr = "10.0.0.1" }),
		bad("vxlan mac", "spec.vxlanTunnelMACAddr", `"66:0a:0b"`, func(n N) { n.Spec.VXLANTunnelMACAddr = "66:0a:0b" }),
		bad("vxlan mac v6", "spec.vxlanTunnelMACAddrV6", `"zz:00:00:00:00:00"`, func(n N) { n.Spec.VXLANTunnelMACAddrV6 = "zz:00:00:00:00:00" }),
		ok("wireguard addrs", func(n N) {
			n.Spec.Wireguard = &NodeWireguardSpec{InterfaceIPv4Address: "10.244.0.3", InterfaceIPv6Address: "fd00::3"}
		}),
		bad("wireguard v4", "spec.wireguard.interfaceIPv4Address", `"x"`, func(n N) { n.Spec.Wireguard = &NodeWireguardSpec{InterfaceIPv4Address: "x"} }),
		bad("wireguard v6", "spec.wireguard.interfaceIPv6Address", `"10.0.0.1"`, func(n N) { n.Spec.Wireguard = &NodeWireguardSpec{InterfaceIPv6Address: "10.0.0.1"} }),
		ok("addresses", func(n N) {
			n.Spec.Addresses = []NodeAddress{{Address: "10.99.0.1/24", Type: "CalicoNodeIP"}, {Address: "1.2.3.4", Type: "ExternalIP"}, {Address: "10.0.0.1", Type: "InternalIP"}}
		}),
		bad("address type", "spec.addresses[0].type", `"Public"`, func(n N) { n.Spec.Addresses = []NodeAddress{{Address: "1.2.3.4", Type: "Public"}} }),
		bad("address value", "spec.addresses[0].address", `"host"`, func(n N) { n.Spec.Addresses = []NodeAddress{{Address: "host"}} }),
		ok("interfaces", func(n N) { n.Spec.Interfaces = []NodeInterface{{Name: "eth0", Addresses: []string{"10.99.0.1/24"}}} }),
		bad("interface name", "spec.interfaces[0].name", `"a-very-long-interface"`, func(n N) { n.Spec.Interfaces = []NodeInterface{{Name: "a-very-long-interface"}} }),
		bad("interface address", "spec.interfaces[0].addresses[0]", `"x"`, func(n N) { n.Spec.Interfaces = []NodeInterface{{Name: "eth0", Addresses: []string{"x"}}} }),
		ok("status", func(n N) {
			n.Status = NodeStatus{WireguardPublicKey: key, WireguardPublicKeyV6: key, PodCIDRs: []string{"10.244.0.0/24"}}
		}),
		bad("wireguard key", "status.wireguardPublicKey", `"abc"`, func(n N) { n.Status.WireguardPublicKey = "abc" }),
		bad("wireguard key v6", "status.wireguardPublicKeyV6", `"!!"`, func(n N) { n.Status.WireguardPublicKeyV6 = "!!" }),
		bad("pod cidr", "status.podCIDRs[0]", `"x/24"`, func(n N) { n.Status.PodCIDRs = []string{"x/24"} }),
		ok("node name rule", func(n N) { n.Name = "node-1.example.com" }),
		bad("node name rule", "metadata.name", `"Node_1"`, func(n N) { n.Name = "Node_1" }),
	})
}
