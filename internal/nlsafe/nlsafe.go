// Package nlsafe wraps the netlink library's quirks once, for every
// reconciler of the dataplane: dumps the kernel interrupted are retried,
// "no such thing" errors are recognised, and addresses are converted between
// net/netip (used everywhere inside tortie) and the net types the library
// wants. Writer sends the dataplane's many writes (routes, neighbour and
// FDB entries) in batches on a socket of its own.
package nlsafe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpAttempts bounds the retries of an interrupted dump. The kernel
// interrupts a dump when the table changes under it; a few retries always
// get a consistent one unless something rewrites the table continuously.
const dumpAttempts = 5

// Retry runs list again while the kernel reports the dump was interrupted
// (the result would be inconsistent); the last attempt's result and error
// are returned as they are.
func Retry[T any](list func() (T, error)) (T, error) {
	var out T
	var err error
	for range dumpAttempts {
		out, err = list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return out, err
}

// Dump is Retry with an error that names the dump (what).
func Dump[T any](what string, list func() (T, error)) (T, error) {
	out, err := Retry(list)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}

// IsNotFound reports errors meaning the object does not exist.
func IsNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV) ||
		errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH)
}

// IsExist reports errors meaning the object already exists.
func IsExist(err error) bool { return errors.Is(err, unix.EEXIST) }

// IPNet converts a prefix to the library's form.
func IPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Prefix converts the library's form to a prefix; nil (how the library
// sometimes reports a default route) is 0.0.0.0/0 when v4 is set.
func Prefix(n *net.IPNet, v4 bool) (netip.Prefix, bool) {
	if n == nil {
		if v4 {
			return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
		}
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	if a.Is4() && bits == 128 {
		ones -= 96
	}
	return netip.PrefixFrom(a, ones), true
}

// Addr converts an IP; nil or malformed gives the invalid Addr.
func Addr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// IP converts an address to the library's form; the invalid Addr gives nil.
func IP(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return a.AsSlice()
}

// Handle returns h, or when h is nil a handle that opens its sockets, per
// call, in the network namespace of the calling thread.
func Handle(h *netlink.Handle) *netlink.Handle {
	if h == nil {
		return &netlink.Handle{}
	}
	return h
}
