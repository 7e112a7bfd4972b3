package autodetect

import (
	"context"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// FakeHost is an in-memory Host for tests. Its routing table is the
// connected routes of its up interfaces' addresses plus Routes; RouteTo
// picks the longest prefix, explicit routes winning ties.
type FakeHost struct {
	// Links are the interfaces, in kernel order.
	Links []Interface
	// Routes are routes besides the connected ones.
	Routes []FakeRoute
	// Names maps host names to addresses for LookupHost.
	Names map[string][]netip.Addr
	// Err, when set, is returned by every method.
	Err error
}

// FakeRoute is one route of a FakeHost.
type FakeRoute struct {
	Dst       netip.Prefix
	Gateway   netip.Addr // invalid: directly connected
	Interface string
	// Source is the preferred source; invalid means the first address of
	// the destination's family on Interface.
	Source netip.Addr
}

// Interfaces implements Host.
func (h *FakeHost) Interfaces() ([]Interface, error) {
	if h.Err != nil {
		return nil, h.Err
	}
	out := make([]Interface, len(h.Links))
	for i, l := range h.Links {
		l.Addrs = append([]netip.Prefix(nil), l.Addrs...)
		if l.Index == 0 {
			l.Index = i + 1
		}
		out[i] = l
	}
	return out, nil
}

// RouteTo implements Host.
func (h *FakeHost) RouteTo(dst netip.Addr) (Route, error) {
	if h.Err != nil {
		return Route{}, h.Err
	}
	best, ok := FakeRoute{}, false
	for _, r := range h.table() {
		if r.Dst.Contains(dst) && (!ok || r.Dst.Bits() > best.Dst.Bits()) {
			best, ok = r, true
		}
	}
	if !ok {
		return Route{}, fmt.Errorf("route to %s: %w", dst, unix.ENETUNREACH)
	}
	src := best.Source
	if !src.IsValid() {
		src = h.pickSource(best, dst)
	}
	if !src.IsValid() {
		return Route{}, fmt.Errorf("route to %s: no source address on %s: %w", dst, best.Interface, unix.EADDRNOTAVAIL)
	}
	return Route{Interface: best.Interface, Source: src, Gateway: best.Gateway}, nil
}

// pickSource chooses a source on the route's interface roughly as the
// kernel does: an address on the gateway's subnet, else the first global
// unicast one, else the first one of the family.
func (h *FakeHost) pickSource(r FakeRoute, dst netip.Addr) netip.Addr {
	f := IPv4
	if dst.Is6() {
		f = IPv6
	}
	var first, global netip.Addr
	for _, l := range h.Links {
		if l.Name != r.Interface {
			continue
		}
		for _, a := range ofFamily(l.Addrs, f) {
			if r.Gateway.IsValid() && a.Contains(r.Gateway) {
				return a.Addr()
			}
			if !first.IsValid() {
				first = a.Addr()
			}
			if !global.IsValid() && unusable(a.Addr()) == "" {
				global = a.Addr()
			}
		}
	}
	if global.IsValid() {
		return global
	}
	return first
}

// table lists the explicit routes first, then the connected ones.
func (h *FakeHost) table() []FakeRoute {
	t := append([]FakeRoute(nil), h.Routes...)
	for _, l := range h.Links {
		if !l.Up {
			continue
		}
		for _, a := range l.Addrs {
			t = append(t, FakeRoute{Dst: a.Masked(), Interface: l.Name, Source: a.Addr()})
		}
	}
	return t
}

// LookupHost implements Host.
func (h *FakeHost) LookupHost(_ context.Context, name string, f Family) ([]netip.Addr, error) {
	if h.Err != nil {
		return nil, h.Err
	}
	var out []netip.Addr
	for _, a := range h.Names[name] {
		if f.Holds(a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup %s: no such host", name)
	}
	return out, nil
}
