// Package nstest makes throwaway named network namespaces for privileged
// tests of code that reads the kernel, and runs that code inside them.
//
// Namespace discipline lives here only: code under test runs on its own
// goroutine locked to its OS thread, and the thread is handed back to the
// scheduler only once it is back in its original namespace (if it cannot
// get back, it stays locked and exits with its goroutine). Interfaces and
// routes are added through a netlink handle bound to the test namespace,
// so the host's own namespace is never written to.
package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// runDir is where `ip netns` and netns.NewNamed keep named namespaces.
const runDir = "/run/netns"

// Namespace is one named network namespace made by a test.
type Namespace struct {
	Name string
	nl   *netlink.Handle
}

// New makes a namespace named prefix-<random> and deletes it when the test
// ends, whatever happens. It skips the test, saying why, unless it runs as
// root.
func New(t testing.TB, prefix string) *Namespace {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: creating network namespaces needs root; run the tests as root")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := prefix + "-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if err := remove(name); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	err := onLockedThread(netns.None(), func() error {
		h, err := netns.NewNamed(name) // leaves this thread inside it; onLockedThread moves it back
		if err == nil {
			h.Close()
		}
		return err
	})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	target, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	defer target.Close()
	nl, err := netlink.NewHandleAt(target, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink in namespace %s: %v", name, err)
	}
	t.Cleanup(nl.Close)
	ns := &Namespace{Name: name, nl: nl}
	if err := ns.setUp("lo"); err != nil {
		t.Fatal(err)
	}
	return ns
}

// remove unmounts and deletes a named namespace; a missing one is fine.
func remove(name string) error {
	p := filepath.Join(runDir, name)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	return os.Remove(p)
}

// Do runs fn inside the namespace, on a locked OS thread, and returns its
// error. Goroutines fn starts run in the test binary's own namespace.
func (n *Namespace) Do(fn func() error) error {
	target, err := netns.GetFromName(n.Name)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", n.Name, err)
	}
	defer target.Close()
	return onLockedThread(target, fn)
}

// onLockedThread runs fn on a fresh goroutine locked to its thread, first
// entering target unless it is netns.None(), and restores the thread's
// namespace afterwards.
func onLockedThread(target netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current namespace: %w", err)
			return
		}
		defer orig.Close()
		ferr := func() error {
			if target.IsOpen() {
				if err := netns.Set(target); err != nil {
					return fmt.Errorf("enter namespace: %w", err)
				}
			}
			return fn()
		}()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore namespace: %w", err))
			return // the thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// AddVeth adds a veth pair, name and peer, both up, and gives name the
// addresses (CIDRs such as 10.0.1.5/24; IPv6 ones skip duplicate address
// detection so that they are usable at once). Pairs get interface indexes
// in the order they are added.
func (n *Namespace) AddVeth(name, peer string, addrs ...string) error {
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}
	if err := n.nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("namespace %s: add veth %s/%s: %w", n.Name, name, peer, err)
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return fmt.Errorf("namespace %s: address %q: %w", n.Name, a, err)
		}
		link, err := n.nl.LinkByName(name)
		if err != nil {
			return fmt.Errorf("namespace %s: %w", n.Name, err)
		}
		addr := &netlink.Addr{IPNet: ipNet(p)}
		if p.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := n.nl.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("namespace %s: add %s to %s: %w", n.Name, a, name, err)
		}
	}
	if err := n.setUp(peer); err != nil {
		return err
	}
	return n.setUp(name)
}

// AddRoute adds a route to dst (a CIDR) via gateway gw (an address).
func (n *Namespace) AddRoute(dst, gw string) error {
	d, err := netip.ParsePrefix(dst)
	if err != nil {
		return fmt.Errorf("namespace %s: route %q: %w", n.Name, dst, err)
	}
	g, err := netip.ParseAddr(gw)
	if err != nil {
		return fmt.Errorf("namespace %s: gateway %q: %w", n.Name, gw, err)
	}
	r := &netlink.Route{Dst: ipNet(d), Gw: net.IP(g.AsSlice())}
	if err := n.nl.RouteAdd(r); err != nil {
		return fmt.Errorf("namespace %s: add route %s via %s: %w", n.Name, dst, gw, err)
	}
	return nil
}

func (n *Namespace) setUp(name string) error {
	link, err := n.nl.LinkByName(name)
	if err == nil {
		err = n.nl.LinkSetUp(link)
	}
	if err != nil {
		return fmt.Errorf("namespace %s: set %s up: %w", n.Name, name, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
