package veth

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/tortienet/tortie/internal/nlsafe"
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

// Setup is Create followed by Configure. On failure it removes the pair
// again, so that nothing it made is left behind.
func (l Linux) Setup(s *Spec) (err error) {
	if err := s.validate(); err != nil {
		return err
	}
	if err := l.Create(s); err != nil {
		return err
	}
	if err := l.Configure(s); err != nil {
		if derr := l.RemoveHost(s.HostIfName); derr != nil {
			err = errors.Join(err, fmt.Errorf("remove veth %s after failure: %w", s.HostIfName, derr))
		}
		return err
	}
	return nil
}

// Create makes the veth pair, the pod side directly in the pod's namespace
// under its final name, with the MTU and MACs, and sets the host side's
// IPv4 sysctls; both sides stay down. It needs no addresses, so it can run
// while IPAM does. The names must be free (see Probe); on failure nothing
// is left.
func (Linux) Create(s *Spec) (err error) {
	if err := s.validateNames(); err != nil {
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
		if nlsafe.IsExist(err) {
			return fmt.Errorf("create veth %s (pod side %s in %s): an interface with one of these names already exists: %w", s.HostIfName, s.IfName, s.NetNS, err)
		}
		return fmt.Errorf("create veth %s (pod side %s in %s): %w", s.HostIfName, s.IfName, s.NetNS, err)
	}
	if err := apply(hostBaseSysctls(s.HostIfName), false); err != nil {
		if derr := netlink.LinkDel(pair); derr != nil {
			err = errors.Join(err, fmt.Errorf("remove veth %s after failure: %w", s.HostIfName, derr))
		}
		return err
	}
	return nil
}

// Configure finishes what Create began, once the addresses are known: the
// host side's IPv6 sysctls (before it comes up, so that its link-local
// gateway address skips DAD), both sides up, the pod's sysctls, addresses,
// gateway neighbour entry and routes, and the host's routes and neighbour
// entries. On failure the caller removes the pair (RemoveHost). When
// s.ContainerMAC is nil it is filled in with the MAC the kernel chose.
func (Linux) Configure(s *Spec) error {
	if err := s.validate(); err != nil {
		return err
	}
	host, err := linkByName(s.HostIfName)
	if err != nil {
		return err
	}
	if host == nil {
		return fmt.Errorf("host interface %s vanished before it was configured", s.HostIfName)
	}
	if s.HasV6() {
		if err := apply(hostV6Sysctls(s.HostIfName), true); err != nil {
			return err
		}
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("set %s up: %w", s.HostIfName, err)
	}
	if err := ns.WithNetNSPath(s.NetNS, func(ns.NetNS) error { return setupContainer(s) }); err != nil {
		return err
	}
	return setupHostRoutes(s, host.Attrs().Index)
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
		addr := &netlink.Addr{IPNet: nlsafe.IPNet(a)}
		if a.Addr().Is6() {
			addr.Flags = nodad
		}
		if err := netlink.AddrAdd(l, addr); err != nil && !nlsafe.IsExist(err) {
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
			link := &netlink.Route{LinkIndex: idx, Dst: nlsafe.IPNet(netip.PrefixFrom(gw, gw.BitLen())), Scope: netlink.SCOPE_LINK}
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
