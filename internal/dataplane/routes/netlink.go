package routes

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/nlsafe"
)

// Netlink is the real Kernel: it reads through a netlink handle and
// writes through an nlsafe.Writer, many routes to a request.
type Netlink struct {
	h *netlink.Handle
	w *nlsafe.Writer
}

// NewNetlink returns a Kernel reading with h (see nlsafe.Handle for nil)
// and writing with w (nil: a Writer opened for each Write, in the network
// namespace of the calling thread).
func NewNetlink(h *netlink.Handle, w *nlsafe.Writer) *Netlink {
	return &Netlink{h: nlsafe.Handle(h), w: w}
}

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

// Write implements Kernel.
func (n *Netlink) Write(ops []Op) []error {
	reqs := make([]nlsafe.Request, len(ops))
	for i, op := range ops {
		reqs[i] = request(op)
	}
	errs, err := nlsafe.Do(n.w, reqs)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i, err := range errs {
		if ops[i].Kind == OpDelete {
			if nlsafe.IsNotFound(err) {
				errs[i] = nil // already gone
			}
			continue
		}
		errs[i] = writeErr(err)
	}
	return errs
}

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

// request is op as an rtnetlink message: an rtmsg of the main table and
// the destination, gateway, metric and interface attributes.
func request(op Op) nlsafe.Request {
	r := op.Route
	typ, flags := uint16(unix.RTM_NEWROUTE), uint16(unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	switch op.Kind {
	case OpReplace:
		flags = unix.NLM_F_CREATE | unix.NLM_F_REPLACE
	case OpDelete:
		typ, flags = unix.RTM_DELROUTE, 0
	}
	var rtFlags uint32
	if r.OnLink {
		rtFlags = unix.RTNH_F_ONLINK
	}
	family := byte(unix.AF_INET)
	if r.Dst.Addr().Is6() {
		family = unix.AF_INET6
	}
	b := make([]byte, 0, 64)
	b = append(b, family, byte(r.Dst.Bits()), 0, byte(r.TOS), unix.RT_TABLE_MAIN, byte(r.Protocol), byte(r.Scope), byte(r.Type))
	b = binary.NativeEndian.AppendUint32(b, rtFlags)
	b = nlsafe.Attr(b, unix.RTA_DST, r.Dst.Addr().AsSlice()...)
	if r.Gw.IsValid() {
		b = nlsafe.Attr(b, unix.RTA_GATEWAY, r.Gw.AsSlice()...)
	}
	if r.Priority != 0 {
		b = nlsafe.Attr(b, unix.RTA_PRIORITY, nlsafe.Uint32(uint32(r.Priority))...)
	}
	if r.LinkIndex != 0 {
		b = nlsafe.Attr(b, unix.RTA_OIF, nlsafe.Uint32(uint32(r.LinkIndex))...)
	}
	return nlsafe.Request{Type: typ, Flags: flags, Data: b}
}
