package routes

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/nlsafe"
)

// Netlink is the real Kernel, through one netlink handle.
type Netlink struct {
	h *netlink.Handle
}

// NewNetlink returns a Kernel using h (see nlsafe.Handle for nil).
func NewNetlink(h *netlink.Handle) *Netlink { return &Netlink{h: nlsafe.Handle(h)} }

// Routes implements Kernel.
func (n *Netlink) Routes(ipv6 bool) ([]Route, error) {
	rs, err := nlsafe.Dump("main-table IPv4 routes", func() ([]netlink.Route, error) {
		return n.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, err
	}
	if ipv6 {
		rs6, err := nlsafe.Dump("main-table IPv6 routes", func() ([]netlink.Route, error) {
			return n.h.RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		})
		if err != nil {
			return nil, err
		}
		rs = append(rs, rs6...)
	}
	out := make([]Route, 0, len(rs))
	for _, r := range rs {
		dst, ok := nlsafe.Prefix(r.Dst, true)
		if !ok {
			continue
		}
		if r.Type == unix.RTN_BLACKHOLE {
			r.LinkIndex = 0 // the kernel shows an IPv6 blackhole on lo
		}
		out = append(out, Route{
			Dst: dst, TOS: r.Tos, Priority: r.Priority, Type: r.Type,
			LinkIndex: r.LinkIndex, Gw: nlsafe.Addr(r.Gw), OnLink: r.Flags&int(netlink.FLAG_ONLINK) != 0,
			Scope: int(r.Scope), Protocol: int(r.Protocol), Multipath: len(r.MultiPath) > 0,
		})
	}
	return out, nil
}

// AddRoute implements Kernel.
func (n *Netlink) AddRoute(r Route) error { return writeErr(n.h.RouteAdd(toNetlink(r))) }

// ReplaceRoute implements Kernel.
func (n *Netlink) ReplaceRoute(r Route) error { return writeErr(n.h.RouteReplace(toNetlink(r))) }

// writeErr marks the errors that say the reconciler's memory was wrong.
func writeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w: %w", ErrExists, err)
	case errors.Is(err, unix.ENODEV):
		return fmt.Errorf("%w: %w", ErrNoDevice, err)
	}
	return err
}

// DeleteRoute implements Kernel.
func (n *Netlink) DeleteRoute(r Route) error {
	err := n.h.RouteDel(toNetlink(r))
	if nlsafe.IsNotFound(err) {
		return nil // already gone
	}
	return err
}

func toNetlink(r Route) *netlink.Route {
	fam := netlink.FAMILY_V4
	if r.Dst.Addr().Is6() {
		fam = netlink.FAMILY_V6
	}
	nr := &netlink.Route{
		Family: fam, Table: unix.RT_TABLE_MAIN, Dst: nlsafe.IPNet(r.Dst),
		Tos: r.TOS, Priority: r.Priority, Type: r.Type, LinkIndex: r.LinkIndex,
		Gw: nlsafe.IP(r.Gw), Scope: netlink.Scope(r.Scope), Protocol: netlink.RouteProtocol(r.Protocol),
	}
	if r.OnLink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	return nr
}
