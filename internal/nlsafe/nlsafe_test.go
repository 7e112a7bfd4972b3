package nlsafe

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestDumpRetriesInterrupted(t *testing.T) {
	calls := 0
	got, err := Dump("things", func() (int, error) {
		calls++
		if calls < 3 {
			return 0, netlink.ErrDumpInterrupted
		}
		return 42, nil
	})
	if err != nil || got != 42 || calls != 3 {
		t.Fatalf("got %d, %v after %d calls", got, err, calls)
	}
	_, err = Dump("things", func() (int, error) { return 1, netlink.ErrDumpInterrupted })
	if !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Fatalf("endless interruption: %v", err)
	}
	_, err = Dump("things", func() (int, error) { calls++; return 0, errors.New("boom") })
	if err == nil || err.Error() != "list things: boom" {
		t.Fatalf("other error: %v", err)
	}
}

func TestConversions(t *testing.T) {
	p := netip.MustParsePrefix("10.244.1.0/26")
	back, ok := Prefix(IPNet(p), true)
	if !ok || back != p {
		t.Fatalf("round trip %s -> %v %v", p, back, ok)
	}
	_, n, _ := net.ParseCIDR("10.0.0.0/8")
	n.IP = n.IP.To16() // the library sometimes hands out 16-byte IPv4
	if got, _ := Prefix(&net.IPNet{IP: n.IP, Mask: net.CIDRMask(104, 128)}, true); got.String() != "10.0.0.0/8" {
		t.Fatalf("16-byte form: %v", got)
	}
	if got, ok := Prefix(nil, true); !ok || got.String() != "0.0.0.0/0" {
		t.Fatalf("nil: %v %v", got, ok)
	}
	if IP(netip.Addr{}) != nil || Addr(nil).IsValid() {
		t.Fatal("invalid addresses must convert to nil and back")
	}
}
