package linklayer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/nlsafe"
)

// Netlink is the real Kernel: it reads and changes devices through a
// netlink handle and writes entries through an nlsafe.Writer, many to a
// request.
type Netlink struct {
	h *netlink.Handle
	w *nlsafe.Writer
}

// NewNetlink returns a Kernel using h (see nlsafe.Handle for nil) and w
// (nil: a Writer opened for each WriteEntries, in the network namespace of
// the calling thread).
func NewNetlink(h *netlink.Handle, w *nlsafe.Writer) *Netlink {
	return &Netlink{h: nlsafe.Handle(h), w: w}
}

// Device implements Kernel.
func (n *Netlink) Device(name string) (*Device, error) {
	l, err := n.h.LinkByName(name)
	if err != nil {
		if nlsafe.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("look up %s: %w", name, err)
	}
	a := l.Attrs()
	d := &Device{Name: a.Name, Index: a.Index, Kind: l.Type(), Up: a.Flags&net.FlagUp != 0, MTU: a.MTU, MAC: a.HardwareAddr}
	if v, ok := l.(*netlink.Vxlan); ok {
		d.VXLAN = &VXLANAttrs{VNI: v.VxlanId, Port: v.Port, LocalIP: nlsafe.Addr(v.SrcAddr), ParentIndex: v.VtepDevIndex, Learning: v.Learning}
	}
	addrs, err := nlsafe.Dump("addresses of "+name, func() ([]netlink.Addr, error) { return n.h.AddrList(l, netlink.FAMILY_V4) })
	if err != nil {
		return nil, err
	}
	for _, ad := range addrs {
		if p, ok := nlsafe.Prefix(ad.IPNet, false); ok {
			d.Addrs = append(d.Addrs, p)
		}
	}
	return d, nil
}

// AddVXLAN implements Kernel.
func (n *Netlink) AddVXLAN(name string, mac net.HardwareAddr, mtu int, a VXLANAttrs) error {
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU, la.HardwareAddr = name, mtu, mac
	return n.h.LinkAdd(&netlink.Vxlan{LinkAttrs: la, VxlanId: a.VNI, Port: a.Port,
		SrcAddr: nlsafe.IP(a.LocalIP), VtepDevIndex: a.ParentIndex, Learning: a.Learning})
}

// link is a stand-in carrying only an index, which is all the library
// reads for these calls.
func link(index int) netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: index}}
}

// DeleteDevice implements Kernel.
func (n *Netlink) DeleteDevice(index int) error { return n.h.LinkDel(link(index)) }

// SetUp implements Kernel.
func (n *Netlink) SetUp(index int) error { return n.h.LinkSetUp(link(index)) }

// SetMTU implements Kernel.
func (n *Netlink) SetMTU(index, mtu int) error { return n.h.LinkSetMTU(link(index), mtu) }

// SetMAC implements Kernel.
func (n *Netlink) SetMAC(index int, mac net.HardwareAddr) error {
	return n.h.LinkSetHardwareAddr(link(index), mac)
}

// AddAddr implements Kernel.
func (n *Netlink) AddAddr(index int, p netip.Prefix) error {
	err := n.h.AddrAdd(link(index), &netlink.Addr{IPNet: nlsafe.IPNet(p)})
	if nlsafe.IsExist(err) {
		return nil
	}
	return err
}

// DelAddr implements Kernel.
func (n *Netlink) DelAddr(index int, p netip.Prefix) error {
	return n.h.AddrDel(link(index), &netlink.Addr{IPNet: nlsafe.IPNet(p)})
}

// LoadModule implements Kernel by running modprobe.
func (n *Netlink) LoadModule(ctx context.Context, name string) error {
	out, err := exec.CommandContext(ctx, "modprobe", name).CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}

// Neighbors implements Kernel.
func (n *Netlink) Neighbors() ([]Neighbor, error) {
	ns, err := nlsafe.Dump("IPv4 neighbours", func() ([]netlink.Neigh, error) { return n.h.NeighList(0, netlink.FAMILY_V4) })
	if err != nil {
		return nil, err
	}
	out := make([]Neighbor, 0, len(ns))
	for _, e := range ns {
		ip := nlsafe.Addr(e.IP)
		if !ip.IsValid() {
			continue
		}
		out = append(out, Neighbor{LinkIndex: e.LinkIndex, IP: ip, MAC: e.HardwareAddr, Permanent: e.State&netlink.NUD_PERMANENT != 0})
	}
	return out, nil
}

// FDB implements Kernel.
func (n *Netlink) FDB(index int) ([]FDBEntry, error) {
	ns, err := nlsafe.Dump("fdb entries", func() ([]netlink.Neigh, error) { return n.h.NeighList(index, unix.AF_BRIDGE) })
	if err != nil {
		return nil, err
	}
	out := make([]FDBEntry, 0, len(ns))
	for _, e := range ns {
		dst := nlsafe.Addr(e.IP)
		if !dst.IsValid() || e.LinkIndex != index {
			continue // the device's own unicast and multicast addresses
		}
		out = append(out, FDBEntry{LinkIndex: index, MAC: e.HardwareAddr, Dst: dst, Permanent: e.State&netlink.NUD_PERMANENT != 0})
	}
	return out, nil
}

// WriteEntries implements Kernel.
func (n *Netlink) WriteEntries(ops []EntryOp) []error {
	reqs := make([]nlsafe.Request, len(ops))
	for i, op := range ops {
		reqs[i] = entryRequest(op)
	}
	errs, err := nlsafe.Do(n.w, reqs)
	for i := range errs {
		switch {
		case err != nil:
			errs[i] = err
		case ops[i].Kind == DelNeighbor || ops[i].Kind == DelFDB:
			if nlsafe.IsNotFound(errs[i]) {
				errs[i] = nil // already gone
			}
		case errors.Is(errs[i], unix.ENODEV):
			errs[i] = fmt.Errorf("%w: %w", ErrNoDevice, errs[i])
		}
	}
	return errs
}

// entryRequest is op as an rtnetlink message: an ndmsg, the address and
// the MAC.
func entryRequest(op EntryOp) nlsafe.Request {
	typ, flags := uint16(unix.RTM_NEWNEIGH), uint16(unix.NLM_F_CREATE|unix.NLM_F_REPLACE)
	family, ndFlags, state := byte(unix.AF_INET), byte(0), uint16(unix.NUD_PERMANENT)
	switch op.Kind {
	case DelNeighbor:
		typ, flags, state = unix.RTM_DELNEIGH, 0, 0
	case SetFDB:
		family, ndFlags = unix.AF_BRIDGE, unix.NTF_SELF
	case DelFDB:
		typ, flags, family, ndFlags = unix.RTM_DELNEIGH, 0, unix.AF_BRIDGE, unix.NTF_SELF
	}
	b := make([]byte, 0, 40)
	b = append(b, family, 0, 0, 0)
	b = binary.NativeEndian.AppendUint32(b, uint32(op.Index))
	b = binary.NativeEndian.AppendUint16(b, state)
	b = append(b, ndFlags, 0)
	b = nlsafe.Attr(b, unix.NDA_DST, op.IP.AsSlice()...)
	if op.Kind != DelNeighbor && len(op.MAC) > 0 {
		b = nlsafe.Attr(b, unix.NDA_LLADDR, op.MAC...)
	}
	return nlsafe.Request{Type: typ, Flags: flags, Data: b}
}
