package links

import (
	"net"

	"github.com/vishvananda/netlink"

	"github.com/tortienet/tortie/internal/nlsafe"
)

// Netlink is the real Kernel, through one netlink handle.
type Netlink struct {
	h *netlink.Handle
}

// NewNetlink returns a Kernel using h (see nlsafe.Handle for nil).
func NewNetlink(h *netlink.Handle) *Netlink { return &Netlink{h: nlsafe.Handle(h)} }

// Links implements Kernel.
func (n *Netlink) Links() ([]Link, error) {
	ls, err := nlsafe.Dump("interfaces", n.h.LinkList)
	if err != nil {
		return nil, err
	}
	out := make([]Link, 0, len(ls))
	for _, l := range ls {
		out = append(out, fromNetlink(l))
	}
	return out, nil
}

// LinkByName implements Kernel.
func (n *Netlink) LinkByName(name string) (Link, bool, error) {
	l, err := n.h.LinkByName(name)
	if nlsafe.IsNotFound(err) {
		return Link{}, false, nil
	}
	if err != nil {
		return Link{}, false, err
	}
	return fromNetlink(l), true, nil
}

func fromNetlink(l netlink.Link) Link {
	a := l.Attrs()
	return Link{Name: a.Name, Index: a.Index, Up: a.Flags&net.FlagUp != 0}
}
