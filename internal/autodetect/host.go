package autodetect

import (
	"context"
	"fmt"
	"net/netip"
)

// Host is what autodetection reads from the machine. Implementations:
// NetlinkHost (the kernel) and FakeHost (tests).
type Host interface {
	// Interfaces lists the network interfaces in the kernel's order
	// (ascending ifindex, as `ip link` prints them), each with all its
	// addresses (both families) in the kernel's order.
	Interfaces() ([]Interface, error)
	// RouteTo reports the route the kernel would use to reach dst and the
	// source address it would pick, without sending anything.
	RouteTo(dst netip.Addr) (Route, error)
	// LookupHost resolves a host name to its addresses of family f.
	LookupHost(ctx context.Context, name string, f Family) ([]netip.Addr, error)
}

// Interface is one network interface.
type Interface struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
	Up    bool   `json:"up"`
	// Addrs are the interface's addresses with their prefix lengths
	// (10.0.0.5/24), IPv4 ones unmapped.
	Addrs []netip.Prefix `json:"addrs"`
}

// Route is the kernel's answer to "how would you reach this address".
type Route struct {
	Interface string     // the outgoing interface
	Source    netip.Addr // the source address the kernel would use
	Gateway   netip.Addr // the next hop; invalid for a directly connected destination
}

// Family is an IP version: IPv4 or IPv6.
type Family int

// The two families; their values are the IP version numbers.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// String returns "IPv4" or "IPv6".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// Holds reports whether a is an address of family f.
func (f Family) Holds(a netip.Addr) bool {
	a = a.Unmap()
	return (f == IPv4 && a.Is4()) || (f == IPv6 && a.Is6())
}

func (f Family) valid() error {
	if f != IPv4 && f != IPv6 {
		return fmt.Errorf("address family %d: must be 4 or 6", int(f))
	}
	return nil
}
