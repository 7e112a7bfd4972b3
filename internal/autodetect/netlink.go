package autodetect

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/nlsafe"
)

// NetlinkHost reads the kernel over netlink.
type NetlinkHost struct {
	nl       *netlink.Handle
	resolver *net.Resolver
}

// NewNetlinkHost returns a Host backed by h. With a nil h every call opens
// its netlink socket afresh, so it reads the network namespace of the
// calling OS thread at that moment: the namespace the process runs in,
// or the one a caller locked its thread into. Host names are resolved
// with the standard resolver.
func NewNetlinkHost(h *netlink.Handle) *NetlinkHost {
	return &NetlinkHost{nl: nlsafe.Handle(h), resolver: net.DefaultResolver}
}

// Interfaces implements Host.
func (h *NetlinkHost) Interfaces() ([]Interface, error) {
	links, err := nlsafe.Retry(h.nl.LinkList)
	if err != nil {
		return nil, fmt.Errorf("netlink link list: %w", err)
	}
	addrs, err := nlsafe.Retry(func() ([]netlink.Addr, error) { return h.nl.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("netlink address list: %w", err)
	}
	byIndex := make(map[int][]netip.Prefix)
	for _, a := range addrs {
		if p, ok := nlsafe.Prefix(a.IPNet, false); ok {
			byIndex[a.LinkIndex] = append(byIndex[a.LinkIndex], p)
		}
	}
	out := make([]Interface, 0, len(links))
	for _, l := range links {
		attrs := l.Attrs()
		out = append(out, Interface{
			Name:  attrs.Name,
			Index: attrs.Index,
			Up:    attrs.Flags&net.FlagUp != 0,
			Addrs: byIndex[attrs.Index],
		})
	}
	return out, nil
}

// RouteTo implements Host with RTM_GETROUTE, as `ip route get` does.
func (h *NetlinkHost) RouteTo(dst netip.Addr) (Route, error) {
	routes, err := h.nl.RouteGet(net.IP(dst.AsSlice()))
	if err != nil {
		return Route{}, err
	}
	if len(routes) == 0 {
		return Route{}, unix.ENETUNREACH
	}
	r := routes[0]
	out := Route{}
	if src, ok := netip.AddrFromSlice(r.Src); ok {
		out.Source = src.Unmap()
	}
	if gw, ok := netip.AddrFromSlice(r.Gw); ok {
		out.Gateway = gw.Unmap()
	}
	if l, err := h.nl.LinkByIndex(r.LinkIndex); err == nil {
		out.Interface = l.Attrs().Name
	} else {
		out.Interface = fmt.Sprintf("ifindex %d", r.LinkIndex)
	}
	return out, nil
}

// LookupHost implements Host with the standard resolver.
func (h *NetlinkHost) LookupHost(ctx context.Context, name string, f Family) ([]netip.Addr, error) {
	network := "ip4"
	if f == IPv6 {
		network = "ip6"
	}
	return h.resolver.LookupNetIP(ctx, network, name)
}
