//go:build linux

package main

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/ns"
	"github.com/tortienet/tortie/test/vm/vmproto"
)

// underlay makes the bridges in the root namespace, which routes between
// them.
func underlay(bridges []vmproto.Bridge) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return err
	}
	for _, b := range bridges {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: b.Name}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("bridge %s: %w", b.Name, err)
		}
		if err := addAddr(netlink.AddrAdd, br, b.Addr); err != nil {
			return fmt.Errorf("bridge %s: %w", b.Name, err)
		}
		if err := netlink.LinkSetUp(br); err != nil {
			return fmt.Errorf("bridge %s: %w", b.Name, err)
		}
	}
	return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
}

func addAddr(add func(netlink.Link, *netlink.Addr) error, l netlink.Link, cidr string) error {
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	return add(l, a)
}

// plumbNode makes the node's namespace with eth0 on its bridge, its
// address and a default route.
func plumbNode(n vmproto.NodeSpec) error {
	if err := ns.Create(n.Name); err != nil {
		return err
	}
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	fd, err := ns.Open(n.Name)
	if err != nil {
		return err
	}
	defer fd.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: "u-" + n.Name, MasterIndex: br.Attrs().Index},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(fd)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth: %w", err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return err
	}
	h, err := ns.Handle(n.Name)
	if err != nil {
		return err
	}
	defer h.Close()
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := addAddr(h.AddrAdd, eth0, n.Addr); err != nil {
		return fmt.Errorf("eth0 address: %w", err)
	}
	if err := h.LinkSetUp(eth0); err != nil {
		return err
	}
	gw, err := netip.ParseAddr(n.Gateway)
	if err != nil {
		return fmt.Errorf("gateway %q: %w", n.Gateway, err)
	}
	return h.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw.AsSlice()})
}

// linkInfo describes an interface in the named namespace.
func linkInfo(netns, name string) (vmproto.Link, error) {
	var out vmproto.Link
	h, err := ns.Handle(netns)
	if err != nil {
		return out, err
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return out, nil // absent
	}
	out.Exists, out.Kind, out.MTU = true, l.Type(), l.Attrs().MTU
	out.Up = l.Attrs().Flags&unix.IFF_UP != 0
	as, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return out, err
	}
	for _, a := range as {
		out.Addrs = append(out.Addrs, a.IPNet.String())
	}
	return out, nil
}

var routeTypes = map[int]string{
	unix.RTN_UNICAST: "unicast", unix.RTN_LOCAL: "local", unix.RTN_BROADCAST: "broadcast",
	unix.RTN_BLACKHOLE: "blackhole", unix.RTN_UNREACHABLE: "unreachable", unix.RTN_PROHIBIT: "prohibit",
}

// routes lists the main table's IPv4 routes in the named namespace.
func routes(netns string) ([]vmproto.Route, error) {
	h, err := ns.Handle(netns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var rs []netlink.Route
	err = ns.Retry(func() (err error) {
		rs, err = h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		return err
	})
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	if ls, err := h.LinkList(); err == nil {
		for _, l := range ls {
			names[l.Attrs().Index] = l.Attrs().Name
		}
	}
	out := make([]vmproto.Route, 0, len(rs))
	for _, r := range rs {
		v := vmproto.Route{Dst: "0.0.0.0/0", Dev: names[r.LinkIndex], Onlink: r.Flags&unix.RTNH_F_ONLINK != 0,
			Proto: int(r.Protocol), Type: routeTypes[r.Type]}
		if v.Type == "" {
			v.Type = fmt.Sprint(r.Type)
		}
		if r.Dst != nil {
			v.Dst = r.Dst.String()
		}
		if r.Gw != nil {
			v.Gw = r.Gw.String()
		}
		out = append(out, v)
	}
	return out, nil
}
