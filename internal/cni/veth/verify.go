package veth

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/tortienet/tortie/internal/nlsafe"
)

// mismatch is one thing that is not as the spec says.
type mismatch struct{ what, want, got string }

func (m *mismatch) Error() string {
	return fmt.Sprintf("%s: want %s, have %s", m.what, m.want, m.got)
}

// Verify checks that everything Setup makes is in place: both links (a veth
// pair, up, with the expected MACs and MTU), the pod's addresses, routes and
// gateway neighbour entry, the host routes and neighbour entries, and the
// sysctls on both sides. It reports every difference it finds. The host
// routes' protocol is not checked: the node agent may adopt them.
func (Linux) Verify(s *Spec) error {
	if err := s.validate(); err != nil {
		return err
	}
	var errs []error
	host, err := linkByName(s.HostIfName)
	switch {
	case err != nil:
		return err
	case host == nil:
		return fmt.Errorf("host interface %s does not exist", s.HostIfName)
	}
	errs = append(errs, checkLink(host, s.HostIfName, HostMAC, s.MTU)...)
	errs = append(errs, check(hostSysctls(s), s.HasV6()))
	errs = append(errs, checkHostRoutes(s, host.Attrs().Index)...)

	err = ns.WithNetNSPath(s.NetNS, func(ns.NetNS) error {
		l, err := linkByName(s.IfName)
		switch {
		case err != nil:
			return err
		case l == nil:
			return fmt.Errorf("interface %s does not exist in the pod", s.IfName)
		}
		errs = append(errs, checkLink(l, s.IfName, s.ContainerMAC, s.MTU)...)
		if l.Attrs().ParentIndex != host.Attrs().Index {
			errs = append(errs, fmt.Errorf("%s is not the peer of host interface %s", s.IfName, s.HostIfName))
		}
		errs = append(errs, check(containerSysctls(s), s.HasV6()))
		errs = append(errs, checkContainer(s, l)...)
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("pod network namespace %s: %w", s.NetNS, err))
	}
	return errors.Join(errs...)
}

func checkLink(l netlink.Link, name string, mac net.HardwareAddr, mtu int) []error {
	var errs []error
	a := l.Attrs()
	if l.Type() != "veth" {
		errs = append(errs, &mismatch{what: name + " kind", want: "veth", got: l.Type()})
	}
	if a.Flags&net.FlagUp == 0 {
		errs = append(errs, fmt.Errorf("%s is down", name))
	}
	if mac != nil && !bytes.Equal(a.HardwareAddr, mac) {
		errs = append(errs, &mismatch{what: name + " MAC", want: mac.String(), got: a.HardwareAddr.String()})
	}
	if mtu > 0 && a.MTU != mtu {
		errs = append(errs, &mismatch{what: name + " MTU", want: fmt.Sprint(mtu), got: fmt.Sprint(a.MTU)})
	}
	return errs
}

func checkHostRoutes(s *Spec, index int) []error {
	var errs []error
	for _, a := range s.Addrs {
		rs, err := routesTo(nlsafe.IPNet(netip.PrefixFrom(a.Addr(), a.Addr().BitLen())))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !slices.ContainsFunc(rs, func(r netlink.Route) bool { return r.LinkIndex == index }) {
			errs = append(errs, fmt.Errorf("host has no route %s dev %s", a.Addr(), s.HostIfName))
		}
		errs = append(errs, checkNeigh(index, a.Addr(), s.ContainerMAC, s.HostIfName))
	}
	return errs
}

// checkContainer runs inside the pod namespace.
func checkContainer(s *Spec, l netlink.Link) []error {
	var errs []error
	desc, err := describe(l)
	if err != nil {
		return []error{err}
	}
	for _, a := range s.Addrs {
		if !slices.Contains(desc.Addrs, a) {
			errs = append(errs, fmt.Errorf("%s in the pod lacks address %s (has %v)", s.IfName, a, desc.Addrs))
		}
	}
	idx := l.Attrs().Index
	for _, gw := range gateways(s) {
		rs, err := netlinksafe.RouteList(l, family(gw))
		if err != nil {
			errs = append(errs, fmt.Errorf("list pod routes: %w", err))
			continue
		}
		if gw.Is4() && !slices.ContainsFunc(rs, func(r netlink.Route) bool {
			d, ok := nlsafe.Prefix(r.Dst, false)
			return ok && d == netip.PrefixFrom(gw, 32) && r.Scope == netlink.SCOPE_LINK
		}) {
			errs = append(errs, fmt.Errorf("pod has no route %s dev %s scope link", gw, s.IfName))
		}
		if !slices.ContainsFunc(rs, func(r netlink.Route) bool {
			d, ok := nlsafe.Prefix(r.Dst, false)
			isDefault := !ok || d.Bits() == 0
			return isDefault && nlsafe.Addr(r.Gw) == gw
		}) {
			errs = append(errs, fmt.Errorf("pod has no route default via %s dev %s", gw, s.IfName))
		}
		errs = append(errs, checkNeigh(idx, gw, HostMAC, s.IfName))
	}
	return errs
}

// checkNeigh checks for a permanent neighbour entry ip -> mac on a link.
func checkNeigh(index int, ip netip.Addr, mac net.HardwareAddr, ifName string) error {
	ns, err := neighList(index, family(ip))
	if err != nil {
		return fmt.Errorf("list neighbours of %s: %w", ifName, err)
	}
	for _, n := range ns {
		if nlsafe.Addr(n.IP) == ip {
			if n.State&netlink.NUD_PERMANENT == 0 || (mac != nil && !bytes.Equal(n.HardwareAddr, mac)) {
				return &mismatch{what: "neighbour " + ip.String() + " on " + ifName, want: "lladdr " + mac.String() + " PERMANENT", got: "lladdr " + n.HardwareAddr.String() + fmt.Sprintf(" state %#x", n.State)}
			}
			return nil
		}
	}
	return fmt.Errorf("no neighbour entry %s on %s", ip, ifName)
}
