package veth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Linux wires interfaces in the running kernel. The calling process must be
// in the node's network namespace; the pod's namespace is entered only on a
// locked thread, through ns.Do.
type Linux struct{}

// Probe reports what exists under the spec's names. A pod namespace that
// cannot be opened is an error.
func (Linux) Probe(s *Spec) (State, error) {
	var st State
	host, err := linkByName(s.HostIfName)
	if err != nil {
		return st, err
	}
	if host != nil {
		if st.Host, err = describe(host); err != nil {
			return st, err
		}
	}
	err = ns.WithNetNSPath(s.NetNS, func(ns.NetNS) error {
		l, err := linkByName(s.IfName)
		if err != nil || l == nil {
			return err
		}
		st.Container, err = describe(l)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("pod network namespace %s: %w", s.NetNS, err)
	}
	return st, nil
}

// Setup creates the veth pair and configures both sides. The names must be
// free (see Probe). On failure it removes the pair again, so that nothing it
// made is left behind. When s.ContainerMAC is nil it is filled in with the
// MAC the kernel chose.
func (Linux) Setup(s *Spec) (err error) {
	if err := s.validate(); err != nil {
		return err
	}
	podNS, err := ns.GetNS(s.NetNS)
	if err != nil {
		return fmt.Errorf("open pod network namespace: %w", err)
	}
	defer podNS.Close()

	la := netlink.NewLinkAttrs()
	la.Name, la.MTU, la.HardwareAddr = s.HostIfName, s.MTU, HostMAC
	if s.NumQueues > 0 {
		la.NumTxQueues, la.NumRxQueues = s.NumQueues, s.NumQueues
	}
	pair := netlink.NewVeth(la)
	pair.PeerName = s.IfName
	pair.PeerHardwareAddr = s.ContainerMAC
	pair.PeerNamespace = netlink.NsFd(int(podNS.Fd()))
	if err := netlink.LinkAdd(pair); err != nil {
		if isExist(err) {
			return fmt.Errorf("create veth %s (pod side %s in %s): an interface with one of these names already exists: %w", s.HostIfName, s.IfName, s.NetNS, err)
		}
		return fmt.Errorf("create veth %s (pod side %s in %s): %w", s.HostIfName, s.IfName, s.NetNS, err)
	}
	defer func() {
		if err != nil {
			if derr := netlink.LinkDel(pair); derr != nil {
				err = errors.Join(err, fmt.Errorf("remove veth %s after failure: %w", s.HostIfName, derr))
			}
		}
	}()

	if err := apply(hostSysctls(s), s.HasV6()); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(pair); err != nil {
		return fmt.Errorf("set %s up: %w", s.HostIfName, err)
	}
	if err := podNS.Do(func(ns.NetNS) error { return setupContainer(s) }); err != nil {
		return err
	}
	return setupHostRoutes(s, pair.Attrs().Index)
}

// setupContainer configures the pod side; it runs inside the pod's
// namespace.
func setupContainer(s *Spec) error {
	l, err := linkByName(s.IfName)
	if err != nil {
		return err
	}
	if l == nil {
		return fmt.Errorf("pod side %s vanished after creation", s.IfName)
	}
	if s.ContainerMAC == nil {
		s.ContainerMAC = l.Attrs().HardwareAddr
	}
	if err := apply(containerSysctls(s), s.HasV6()); err != nil {
		return err
	}
	for _, a := range s.Addrs {
		addr := &netlink.Addr{IPNet: ipNet(a)}
		if a.Addr().Is6() {
			addr.Flags = nodad
		}
		if err := netlink.AddrAdd(l, addr); err != nil && !isExist(err) {
			return fmt.Errorf("add address %s to %s: %w", a, s.IfName, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", s.IfName, err)
	}
	idx := l.Attrs().Index
	for _, gw := range gateways(s) {
		n := &netlink.Neigh{LinkIndex: idx, Family: family(gw), State: netlink.NUD_PERMANENT, IP: gw.AsSlice(), HardwareAddr: HostMAC}
		if err := netlink.NeighSet(n); err != nil {
			return fmt.Errorf("add neighbour %s lladdr %s dev %s: %w", gw, HostMAC, s.IfName, err)
		}
		if gw.Is4() {
			link := &netlink.Route{LinkIndex: idx, Dst: hostNet(gw), Scope: netlink.SCOPE_LINK}
			if err := netlink.RouteReplace(link); err != nil {
				return fmt.Errorf("add route %s dev %s scope link: %w", gw, s.IfName, err)
			}
		}
		def := &netlink.Route{LinkIndex: idx, Gw: gw.AsSlice(), Family: family(gw)}
		if err := netlink.RouteReplace(def); err != nil {
			return fmt.Errorf("add route default via %s dev %s: %w", gw, s.IfName, err)
		}
	}
	return nil
}

// setupHostRoutes adds, on the host side, a route and a permanent
// neighbour entry for each pod address. A route to the address through
// another interface means the address is in use twice: that is an error,
// not something to take over.
func setupHostRoutes(s *Spec, hostIndex int) error {
	for _, a := range s.Addrs {
		r := hostRoute(a.Addr(), hostIndex)
		if err := netlink.RouteAdd(r); err != nil {
			if !isExist(err) {
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
	r := &netlink.Route{LinkIndex: index, Dst: hostNet(a), Protocol: RouteProtocol, Family: family(a)}
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

const nodad = unix.IFA_F_NODAD

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
