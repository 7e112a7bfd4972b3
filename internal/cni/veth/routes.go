package veth

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/nlsafe"
)

// setupHostRoutes adds, on the host side, a route and a permanent
// neighbour entry for each pod address. A route to the address through
// another interface means the address is in use twice: that is an error,
// not something to take over.
func setupHostRoutes(s *Spec, hostIndex int) error {
	for _, a := range s.Addrs {
		r := hostRoute(a.Addr(), hostIndex)
		if err := netlink.RouteAdd(r); err != nil {
			if !nlsafe.IsExist(err) {
				return fmt.Errorf("add route %s dev %s: %w", a, s.HostIfName, err)
			}
			if err := takeOwnRoute(r, s.HostIfName); err != nil {
				return err
			}
		}
		n := &netlink.Neigh{LinkIndex: hostIndex, Family: family(a.Addr()), State: netlink.NUD_PERMANENT, IP: a.Addr().AsSlice(), HardwareAddr: s.ContainerMAC}
		if err := netlink.NeighSet(n); err != nil {
			return fmt.Errorf("add neighbour %s lladdr %s dev %s: %w", a.Addr(), s.ContainerMAC, s.HostIfName, err)
		}
	}
	return nil
}

// hostRoute is the node's route to a pod address.
func hostRoute(a netip.Addr, index int) *netlink.Route {
	r := &netlink.Route{LinkIndex: index, Dst: nlsafe.IPNet(netip.PrefixFrom(a, a.BitLen())), Protocol: conventions.ProtocolCNI, Family: family(a)}
	if a.Is4() {
		r.Scope = netlink.SCOPE_LINK
	}
	return r
}

// routesTo lists the main table's routes to exactly dst.
func routesTo(dst *net.IPNet) ([]netlink.Route, error) {
	fam := netlink.FAMILY_V4
	if dst.IP.To4() == nil {
		fam = netlink.FAMILY_V6
	}
	rs, err := netlinksafe.RouteListFiltered(fam, &netlink.Route{Dst: dst, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes to %s: %w", dst, err)
	}
	return rs, nil
}

// gateways are the pod's next hops, one per address family it has.
func gateways(s *Spec) []netip.Addr {
	var gws []netip.Addr
	if s.HasV4() {
		gws = append(gws, GatewayV4)
	}
	if s.HasV6() {
		gws = append(gws, GatewayV6)
	}
	return gws
}

// takeOwnRoute handles an existing route to a pod address: fine (replaced
// with ours) when it already goes through our interface, an error naming
// the other interface otherwise.
func takeOwnRoute(r *netlink.Route, ifName string) error {
	existing, err := routesTo(r.Dst)
	if err != nil {
		return err
	}
	for _, e := range existing {
		if e.LinkIndex != r.LinkIndex {
			other := fmt.Sprintf("ifindex %d", e.LinkIndex)
			if l, err := netlink.LinkByIndex(e.LinkIndex); err == nil {
				other = l.Attrs().Name
			}
			return fmt.Errorf("add route %s dev %s: the node already routes this address to %s: is it in use by another workload?", r.Dst, ifName, other)
		}
	}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("replace route %s dev %s: %w", r.Dst, ifName, err)
	}
	return nil
}
