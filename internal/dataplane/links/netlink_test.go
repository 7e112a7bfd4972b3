package links

import (
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/tortienet/tortie/internal/ns/nstest"
)

func TestNetlink(t *testing.T) {
	ns := nstest.New(t, "tdp")
	ns.MustRun(t, "ip", "link", "add", "cali1", "type", "veth", "peer", "name", "peer1")
	ns.MustRun(t, "ip", "link", "set", "cali1", "up")
	var h *netlink.Handle
	if err := ns.Do(func() (err error) { h, err = netlink.NewHandle(); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	k := NewNetlink(h)
	ls, err := k.Links()
	if err != nil || len(ls) != 3 {
		t.Fatalf("links %+v %v; want lo, cali1, peer1", ls, err)
	}
	l, ok, err := k.LinkByName("cali1")
	if err != nil || !ok || l.Name != "cali1" || l.Index == 0 || !l.Up {
		t.Fatalf("cali1: %+v %v %v", l, ok, err)
	}
	if p, ok, err := k.LinkByName("peer1"); err != nil || !ok || p.Up {
		t.Fatalf("peer1: %+v %v %v; want it down", p, ok, err)
	}
	if _, ok, err := k.LinkByName("cali2"); err != nil || ok {
		t.Fatalf("cali2: %v %v; want not found, no error", ok, err)
	}
}
