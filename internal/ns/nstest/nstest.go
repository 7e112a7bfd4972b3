// Package nstest gives privileged tests a throwaway network namespace, one
// way to run code inside it (internal/ns's locked-thread discipline), and
// a few helpers to furnish it. Each namespace is named
// "<prefix>-<test>-<random>", made by the test and removed when the test
// ends, passed or not. The host's own namespace is never changed.
package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/nlsafe"
	"github.com/tortienet/tortie/internal/ns"
)

// RequireRoot skips tb, saying why, unless the process runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("skipped: needs root to create network namespaces (CI runs as root)")
	}
}

// NS is a named network namespace made for one test.
type NS struct {
	Name string
	nl   *netlink.Handle
}

// New creates a namespace (loopback up) removed when tb ends. It skips tb
// without root.
func New(tb testing.TB, prefix string) *NS {
	tb.Helper()
	RequireRoot(tb)
	name := nameFor(prefix, tb.Name())
	if err := ns.Create(name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := ns.Delete(name); err != nil {
			tb.Errorf("%v", err)
		}
	})
	h, err := ns.Handle(name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(h.Close)
	return &NS{Name: name, nl: h}
}

// nameFor is prefix, a short safe form of the test name and a random part.
func nameFor(prefix, test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	s := strings.TrimPrefix(b.String(), "test")
	if len(s) > 16 {
		s = s[:16]
	}
	rnd := make([]byte, 3)
	_, _ = rand.Read(rnd)
	return prefix + "-" + s + "-" + hex.EncodeToString(rnd)
}

// Do runs fn on a locked OS thread inside the namespace and returns its
// error. fn runs on another goroutine, so it must not call t.Fatal.
func (n *NS) Do(fn func() error) error { return ns.Do(n.Name, fn) }

// Run runs a command inside the namespace and returns its combined output.
func (n *NS) Run(name string, args ...string) (string, error) {
	var out []byte
	err := n.Do(func() error {
		var err error
		out, err = exec.Command(name, args...).CombinedOutput()
		return err
	})
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// MustRun is Run that fails tb on error.
func (n *NS) MustRun(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := n.Run(name, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// AddVeth adds a veth pair, name and peer, both up, and gives name the
// addresses (CIDRs such as 10.0.1.5/24; IPv6 ones skip duplicate address
// detection so that they are usable at once).
func (n *NS) AddVeth(name, peer string, addrs ...string) error {
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}
	if err := n.nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("namespace %s: add veth %s/%s: %w", n.Name, name, peer, err)
	}
	link, err := n.nl.LinkByName(name)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", n.Name, err)
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return fmt.Errorf("namespace %s: address %q: %w", n.Name, a, err)
		}
		addr := &netlink.Addr{IPNet: nlsafe.IPNet(p)}
		if p.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := n.nl.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("namespace %s: add %s to %s: %w", n.Name, a, name, err)
		}
	}
	for _, l := range []string{peer, name} {
		if err := n.setUp(l); err != nil {
			return err
		}
	}
	return nil
}

// AddRoute adds a route to dst (a CIDR) via gateway gw (an address).
func (n *NS) AddRoute(dst, gw string) error {
	d, err := netip.ParsePrefix(dst)
	if err != nil {
		return fmt.Errorf("namespace %s: route %q: %w", n.Name, dst, err)
	}
	g, err := netip.ParseAddr(gw)
	if err != nil {
		return fmt.Errorf("namespace %s: gateway %q: %w", n.Name, gw, err)
	}
	if err := n.nl.RouteAdd(&netlink.Route{Dst: nlsafe.IPNet(d), Gw: nlsafe.IP(g)}); err != nil {
		return fmt.Errorf("namespace %s: add route %s via %s: %w", n.Name, dst, gw, err)
	}
	return nil
}

func (n *NS) setUp(name string) error {
	link, err := n.nl.LinkByName(name)
	if err == nil {
		err = n.nl.LinkSetUp(link)
	}
	if err != nil {
		return fmt.Errorf("namespace %s: set %s up: %w", n.Name, name, err)
	}
	return nil
}
