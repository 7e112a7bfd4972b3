package veth

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/nlsafe"
)

// The netlink quirks, wrapped once: "not found" as a nil link rather than
// an error, interrupted dumps retried, EEXIST recognised, and conversions
// between netip and the net types the library wants.

// linkByName returns the link called name in the calling thread's
// namespace, or nil when there is none.
func linkByName(name string) (netlink.Link, error) {
	l, err := netlinksafe.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, nil
		}
		return nil, fmt.Errorf("look up interface %s: %w", name, err)
	}
	return l, nil
}

// describe summarises a link and its global addresses.
func describe(l netlink.Link) (*Link, error) {
	a := l.Attrs()
	out := &Link{Name: a.Name, Kind: l.Type(), Index: a.Index, MAC: a.HardwareAddr}
	if out.Kind == "veth" {
		out.PeerIndex = a.ParentIndex
	}
	addrs, err := netlinksafe.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", a.Name, err)
	}
	for _, ad := range addrs {
		if ad.Scope != unix.RT_SCOPE_UNIVERSE {
			continue // link-local IPv6, host-scope
		}
		if p, ok := nlsafe.Prefix(ad.IPNet, false); ok {
			out.Addrs = append(out.Addrs, p)
		}
	}
	return out, nil
}

// neighList lists a link's neighbour entries of one family, retrying a
// dump the kernel interrupted.
func neighList(index, family int) ([]netlink.Neigh, error) {
	return nlsafe.Retry(func() ([]netlink.Neigh, error) { return netlink.NeighList(index, family) })
}

// nodad marks an IPv6 address as needing no duplicate address detection.
const nodad = unix.IFA_F_NODAD

func family(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// writeSysctl sets /proc/sys/<name> in the calling thread's namespace.
func writeSysctl(name, value string) error {
	if err := os.WriteFile(filepath.Join("/proc/sys", name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("set sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

// readSysctl reads /proc/sys/<name> in the calling thread's namespace.
func readSysctl(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", name))
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", name, err)
	}
	return string(trimNL(b)), nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
