package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// makeNamespace records and creates one namespace.
func (l *Lab) makeNamespace(kind, member, name string) error {
	if err := l.rec.update(func(st *State) {
		st.Namespaces = append(st.Namespaces, NamespaceRecord{Name: name, Kind: kind, Member: member})
	}); err != nil {
		return err
	}
	return ns.Create(name)
}

// recordLinks records links before they are made.
func (l *Lab) recordLinks(links ...LinkRecord) error {
	return l.rec.update(func(st *State) { st.Links = append(st.Links, links...) })
}

// plumbUnderlay makes the underlay namespace: a bridge per subnet holding
// the subnet's gateway address, and forwarding on, so it routes between
// subnets (and to the outside).
func (l *Lab) plumbUnderlay(context.Context) error {
	ul := l.ulNS()
	if err := l.makeNamespace(topo.KindUnderlay, "", ul); err != nil {
		return err
	}
	if err := ns.Sysctl(ul, "net.ipv4.ip_forward", "1"); err != nil {
		return err
	}
	h, err := ns.Handle(ul)
	if err != nil {
		return err
	}
	defer h.Close()
	for _, s := range l.top.Subnets {
		name := topo.BridgeName(s.Name)
		if err := l.recordLinks(LinkRecord{Netns: ul, Name: name, Kind: "bridge"}); err != nil {
			return err
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: s.MTU}}
		if err := h.LinkAdd(br); err != nil {
			return fmt.Errorf("add bridge %s: %w", name, err)
		}
		if err := setUpWithAddr(h, name, netip.PrefixFrom(s.GatewayIP, s.Prefix.Bits())); err != nil {
			return err
		}
	}
	return nil
}

// plumbHosts makes the node and router namespaces and their interfaces.
func (l *Lab) plumbHosts(context.Context) error {
	for _, n := range l.top.Nodes {
		if err := l.plumbHost(topo.KindNode, n.Name, l.nodeNS(n.Name), n.Interfaces); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	for _, r := range l.top.Routers {
		if err := l.plumbHost(topo.KindRouter, r.Name, l.routerNS(r.Name), r.Interfaces); err != nil {
			return fmt.Errorf("router %s: %w", r.Name, err)
		}
	}
	return nil
}

// plumbHost makes a host namespace with one veth per interface into its
// subnet's bridge, and a default route via the first subnet's gateway.
func (l *Lab) plumbHost(kind, name, netns string, ifaces []topo.Interface) error {
	if err := l.makeNamespace(kind, name, netns); err != nil {
		return err
	}
	for _, ifc := range ifaces {
		if err := l.connect(netns, ifc); err != nil {
			return err
		}
	}
	first, _ := l.top.Subnet(ifaces[0].Subnet)
	h, err := ns.Handle(netns)
	if err != nil {
		return err
	}
	defer h.Close()
	return addDefaultRoute(h, ifaces[0].Name, first.GatewayIP)
}

// connect makes the veth of one interface: its host end is created right
// inside the host's namespace and its other end in the underlay namespace,
// so nothing ever appears in the machine's own namespace.
func (l *Lab) connect(hostNS string, ifc topo.Interface) error {
	s, _ := l.top.Subnet(ifc.Subnet)
	ul := l.ulNS()
	if err := l.recordLinks(
		LinkRecord{Netns: hostNS, Name: ifc.Name, Kind: "veth", Peer: ifc.BridgePort},
		LinkRecord{Netns: ul, Name: ifc.BridgePort, Kind: "veth", Peer: ifc.Name},
	); err != nil {
		return err
	}
	if err := vethBetween(ul, ifc.BridgePort, hostNS, ifc.Name, s.MTU); err != nil {
		return err
	}
	ulh, err := ns.Handle(ul)
	if err != nil {
		return err
	}
	defer ulh.Close()
	port, err := ulh.LinkByName(ifc.BridgePort)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", ifc.BridgePort, ul, err)
	}
	br, err := ulh.LinkByName(topo.BridgeName(s.Name))
	if err != nil {
		return fmt.Errorf("find bridge of subnet %s: %w", s.Name, err)
	}
	if err := ulh.LinkSetMaster(port, br); err != nil {
		return fmt.Errorf("attach %s to %s: %w", ifc.BridgePort, br.Attrs().Name, err)
	}
	if err := ulh.LinkSetUp(port); err != nil {
		return fmt.Errorf("set %s up: %w", ifc.BridgePort, err)
	}
	h, err := ns.Handle(hostNS)
	if err != nil {
		return err
	}
	defer h.Close()
	if a6 := s.Addr6(ifc.Addr); a6.IsValid() {
		if err := addAddr6(h, ifc.Name, netip.PrefixFrom(a6, s.Prefix6.Bits())); err != nil {
			return err
		}
	}
	return setUpWithAddr(h, ifc.Name, netip.PrefixFrom(ifc.Addr, s.Prefix.Bits()))
}

// addAddr6 adds an IPv6 address to a link, without duplicate address
// detection (the lab hands out each address once).
func addAddr6(h *netlink.Handle, name string, addr netip.Prefix) error {
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find link %s: %w", name, err)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), 128)}, Flags: unix.IFA_F_NODAD}
	if err := h.AddrAdd(link, a); err != nil {
		return fmt.Errorf("add %s to %s: %w", addr, name, err)
	}
	return nil
}

// vethBetween makes a veth pair with end aName in namespace a and end
// bName in namespace b, sent from a's netlink socket.
func vethBetween(a, aName, b, bName string, mtu int) error {
	h, err := ns.Handle(a)
	if err != nil {
		return err
	}
	defer h.Close()
	bfd, err := ns.Open(b)
	if err != nil {
		return err
	}
	defer bfd.Close()
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: bName, MTU: mtu, Namespace: netlink.NsFd(int(bfd))},
		PeerName:  aName,
	}
	if err := h.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s (%s) - %s (%s): %w", aName, a, bName, b, err)
	}
	return nil
}

// setUpWithAddr adds addr (if valid) to the link and sets it up.
func setUpWithAddr(h *netlink.Handle, name string, addr netip.Prefix) error {
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if addr.IsValid() {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), 32)}}
		if err := h.AddrAdd(link, a); err != nil {
			return fmt.Errorf("add %s to %s: %w", addr, name, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

func addDefaultRoute(h *netlink.Handle, dev string, gw netip.Addr) error {
	link, err := h.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("find link %s: %w", dev, err)
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw.AsSlice(),
		Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}}
	if err := h.RouteAdd(r); err != nil {
		return fmt.Errorf("default route via %s dev %s: %w", gw, dev, err)
	}
	return nil
}

func addRoute(h *netlink.Handle, dst netip.Prefix, gw netip.Addr) error {
	r := &netlink.Route{Gw: gw.AsSlice(),
		Dst: &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), 32)}}
	if err := h.RouteAdd(r); err != nil {
		return fmt.Errorf("route %s via %s: %w", dst, gw, err)
	}
	return nil
}

// outsideLink is the underlay's end of the link to the outside namespace.
const outsideLink = "outside"

// plumbOutside makes the outside namespace: linked to the underlay
// namespace, holding the "internet" address on its loopback, with a
// default route back through the underlay (which has no route to pods:
// only masqueraded traffic gets answered).
func (l *Lab) plumbOutside(context.Context) error {
	o := l.top.Outside
	if o == nil {
		return nil
	}
	ul, out := l.ulNS(), l.outNS()
	if err := l.makeNamespace(topo.KindOutside, "", out); err != nil {
		return err
	}
	if err := l.recordLinks(
		LinkRecord{Netns: ul, Name: outsideLink, Kind: "veth", Peer: topo.DefaultIfName},
		LinkRecord{Netns: out, Name: topo.DefaultIfName, Kind: "veth", Peer: outsideLink},
	); err != nil {
		return err
	}
	if err := vethBetween(ul, outsideLink, out, topo.DefaultIfName, topo.DefaultMTU); err != nil {
		return err
	}
	bits := o.Prefix.Bits()
	ulh, err := ns.Handle(ul)
	if err != nil {
		return err
	}
	defer ulh.Close()
	if err := setUpWithAddr(ulh, outsideLink, netip.PrefixFrom(o.Gateway(), bits)); err != nil {
		return err
	}
	if err := addRoute(ulh, netip.PrefixFrom(o.Host, 32), o.Peer()); err != nil {
		return err
	}
	oh, err := ns.Handle(out)
	if err != nil {
		return err
	}
	defer oh.Close()
	if err := setUpWithAddr(oh, topo.DefaultIfName, netip.PrefixFrom(o.Peer(), bits)); err != nil {
		return err
	}
	if err := setUpWithAddr(oh, "lo", netip.PrefixFrom(o.Host, 32)); err != nil {
		return err
	}
	return addDefaultRoute(oh, topo.DefaultIfName, o.Gateway())
}
