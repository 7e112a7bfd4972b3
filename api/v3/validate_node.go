package v3

import (
	"encoding/base64"
)

func validateNode(e *errs, n *Node) {
	s := &n.Spec
	if b := s.BGP; b != nil {
		if *b == (NodeBGPSpec{}) {
			e.add("spec.bgp", nil, "must not be empty when present")
		}
		if b.IPv4Address != "" {
			e.cidr("spec.bgp.ipv4Address", b.IPv4Address, 4)
		}
		if b.IPv6Address != "" {
			e.cidr("spec.bgp.ipv6Address", b.IPv6Address, 6)
		}
		if b.IPv4IPIPTunnelAddr != "" {
			e.ip("spec.bgp.ipv4IPIPTunnelAddr", b.IPv4IPIPTunnelAddr, 4)
		}
		if b.RouteReflectorClusterID != "" {
			e.ip("spec.bgp.routeReflectorClusterID", b.RouteReflectorClusterID, 4)
		}
	}
	if s.IPv4VXLANTunnelAddr != "" {
		e.ip("spec.ipv4VXLANTunnelAddr", s.IPv4VXLANTunnelAddr, 4)
	}
	if s.IPv6VXLANTunnelAddr != "" {
		e.ip("spec.ipv6VXLANTunnelAddr", s.IPv6VXLANTunnelAddr, 6)
	}
	if s.VXLANTunnelMACAddr != "" {
		e.mac("spec.vxlanTunnelMACAddr", s.VXLANTunnelMACAddr)
	}
	if s.VXLANTunnelMACAddrV6 != "" {
		e.mac("spec.vxlanTunnelMACAddrV6", s.VXLANTunnelMACAddrV6)
	}
	if w := s.Wireguard; w != nil {
		if w.InterfaceIPv4Address != "" {
			e.ip("spec.wireguard.interfaceIPv4Address", w.InterfaceIPv4Address, 4)
		}
		if w.InterfaceIPv6Address != "" {
			e.ip("spec.wireguard.interfaceIPv6Address", w.InterfaceIPv6Address, 6)
		}
	}
	for i, a := range s.Addresses {
		f := at("spec.addresses", i)
		e.cidr(f+".address", a.Address, 0)
		e.oneOf(f+".type", a.Type, NodeAddressCalicoNodeIP, NodeAddressInternalIP, NodeAddressExternalIP)
	}
	for i, ifc := range s.Interfaces {
		f := at("spec.interfaces", i)
		if ifc.Name != "" {
			e.iface(f+".name", ifc.Name)
		}
		for j, a := range ifc.Addresses {
			e.cidr(at(f+".addresses", j), a, 0)
		}
	}
	validateWireguardKey(e, "status.wireguardPublicKey", n.Status.WireguardPublicKey)
	validateWireguardKey(e, "status.wireguardPublicKeyV6", n.Status.WireguardPublicKeyV6)
	for i, c := range n.Status.PodCIDRs {
		e.cidr(at("status.podCIDRs", i), c, 0)
	}
}

// validateWireguardKey checks a base64-encoded 32-byte WireGuard key.
func validateWireguardKey(e *errs, field, k string) {
	if k == "" {
		return
	}
	b, err := base64.StdEncoding.DecodeString(k)
	if err != nil || len(b) != 32 {
		e.add(field, k, "must be a base64-encoded 32-byte WireGuard public key")
	}
}
