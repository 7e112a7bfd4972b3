package lab

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/nlsafe"
	"github.com/tortienet/tortie/internal/ns"
)

// labWorld is the world of a live lab: netlink in each namespace.
type labWorld struct {
	inv     inventory
	names   map[string]string // netns -> member name
	handles map[string]*netlink.Handle
}

func (l *Lab) newWorld() (*labWorld, error) {
	ms := l.Members()
	inv, err := readInventory(ms)
	if err != nil {
		return nil, err
	}
	w := &labWorld{inv: inv, names: map[string]string{}, handles: map[string]*netlink.Handle{}}
	for _, m := range ms {
		w.names[m.Netns] = m.Name
	}
	return w, nil
}

func (w *labWorld) close() {
	for _, h := range w.handles {
		h.Close()
	}
}

func (w *labWorld) handle(netns string) (*netlink.Handle, error) {
	if h, ok := w.handles[netns]; ok {
		return h, nil
	}
	h, err := ns.Handle(netns)
	if err != nil {
		return nil, err
	}
	w.handles[netns] = h
	return h, nil
}

func (w *labWorld) member(netns string) string {
	if n, ok := w.names[netns]; ok {
		return n
	}
	return netns
}

func (w *labWorld) links(netns string) []Link { return w.inv[netns] }

func (w *labWorld) linkName(netns string, index int) string {
	for _, lk := range w.inv[netns] {
		if lk.Index == index {
			return lk.Name
		}
	}
	return ""
}

// route asks the kernel twice: with FIBMatch for the matching route
// (prefix, type, protocol) and without for the path it picks (gateway,
// device; this also resolves multipath routes).
func (w *labWorld) route(netns string, dst, src netip.Addr, iif string) (Route, error) {
	h, err := w.handle(netns)
	if err != nil {
		return Route{}, err
	}
	opts := netlink.RouteGetOptions{}
	if iif != "" && src.IsValid() {
		opts.Iif, opts.SrcAddr = iif, src.AsSlice()
	}
	var r Route
	fibOpts := opts
	fibOpts.FIBMatch = true
	fib, err := h.RouteGetWithOptions(dst.AsSlice(), &fibOpts)
	if err != nil && opts.Iif != "" {
		r.InputErr = err.Error()
		opts = netlink.RouteGetOptions{}
		fib, err = h.RouteGetWithOptions(dst.AsSlice(), &netlink.RouteGetOptions{FIBMatch: true})
	}
	if err != nil {
		return Route{}, err
	}
	if len(fib) == 0 {
		return Route{}, fmt.Errorf("no route")
	}
	f := fib[0]
	r.Dst, _ = nlsafe.Prefix(f.Dst, true)
	r.Type, r.Proto, r.Scope = routeType(f.Type), protoName(f.Protocol), scopeName(f.Scope)
	r.Gw, r.Dev = nlsafe.Addr(f.Gw), w.linkName(netns, f.LinkIndex)
	if path, err := h.RouteGetWithOptions(dst.AsSlice(), &opts); err == nil && len(path) > 0 {
		r.Gw, r.Dev = nlsafe.Addr(path[0].Gw), w.linkName(netns, path[0].LinkIndex)
	}
	return r, nil
}

func (w *labWorld) neighbor(netns, dev string, ip netip.Addr) (string, string) {
	h, err := w.handle(netns)
	lk, ok := linkNamed(w.inv[netns], dev)
	if err != nil || !ok {
		return "", ""
	}
	var neighs []netlink.Neigh
	if ns.Retry(func() (err error) { neighs, err = h.NeighList(lk.Index, netlink.FAMILY_V4); return err }) != nil {
		return "", ""
	}
	for _, n := range neighs {
		if a, ok := netip.AddrFromSlice(n.IP.To4()); ok && a == ip {
			mac := ""
			if n.HardwareAddr != nil {
				mac = n.HardwareAddr.String()
			}
			return mac, neighState(n.State)
		}
	}
	return "", "(no neighbour entry yet)"
}

func (w *labWorld) fdbRemote(netns, dev, mac string) (netip.Addr, bool) {
	h, err := w.handle(netns)
	lk, ok := linkNamed(w.inv[netns], dev)
	if err != nil || !ok || mac == "" {
		return netip.Addr{}, false
	}
	var fdb []netlink.Neigh
	if ns.Retry(func() (err error) { fdb, err = h.NeighList(lk.Index, unix.AF_BRIDGE); return err }) != nil {
		return netip.Addr{}, false
	}
	for _, n := range fdb {
		if n.HardwareAddr.String() == mac {
			a, ok := netip.AddrFromSlice(n.IP.To4())
			return a, ok
		}
	}
	return netip.Addr{}, false
}

func routeType(t int) string {
	switch t {
	case unix.RTN_UNICAST:
		return "unicast"
	case unix.RTN_LOCAL:
		return "local"
	case unix.RTN_BROADCAST:
		return "broadcast"
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	case unix.RTN_THROW:
		return "throw"
	}
	return fmt.Sprintf("type%d", t)
}

// protoName names a route's protocol, hiding "boot" and "unspec" as
// `ip route` does.
func protoName(p netlink.RouteProtocol) string {
	if p == unix.RTPROT_BOOT || p == unix.RTPROT_UNSPEC {
		return ""
	}
	return p.String()
}

func scopeName(s netlink.Scope) string {
	switch s {
	case netlink.SCOPE_LINK:
		return "link"
	case netlink.SCOPE_HOST:
		return "host"
	}
	return ""
}

func neighState(s int) string {
	names := []struct {
		bit  int
		name string
	}{
		{netlink.NUD_PERMANENT, "PERMANENT"}, {netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_REACHABLE, "REACHABLE"},
		{netlink.NUD_STALE, "STALE"}, {netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"},
		{netlink.NUD_FAILED, "FAILED"}, {netlink.NUD_INCOMPLETE, "INCOMPLETE"},
	}
	for _, n := range names {
		if s&n.bit != 0 {
			return n.name
		}
	}
	return "NONE"
}
