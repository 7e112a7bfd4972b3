package lab

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// fakeWorld is a lab described by hand: links per namespace and a route
// table per namespace (longest prefix wins).
type fakeWorld struct {
	names  map[string]string
	nets   map[string][]Link
	routes map[string][]Route
	neighs map[string]string // "netns dev ip" -> mac
	fdb    map[string]netip.Addr
}

func (f *fakeWorld) member(netns string) string { return f.names[netns] }
func (f *fakeWorld) links(netns string) []Link  { return f.nets[netns] }
func (f *fakeWorld) route(netns string, dst, _ netip.Addr, _ string) (Route, error) {
	best, found := Route{}, false
	for _, r := range f.routes[netns] {
		if r.Dst.Contains(dst) && (!found || r.Dst.Bits() > best.Dst.Bits()) {
			best, found = r, true
		}
	}
	if !found {
		return Route{}, errors.New("network is unreachable")
	}
	return best, nil
}
func (f *fakeWorld) neighbor(netns, dev string, ip netip.Addr) (string, string) {
	if mac, ok := f.neighs[netns+" "+dev+" "+ip.String()]; ok {
		return mac, "REACHABLE"
	}
	return "", ""
}
func (f *fakeWorld) fdbRemote(netns, dev, mac string) (netip.Addr, bool) {
	a, ok := f.fdb[netns+" "+dev+" "+mac]
	return a, ok
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func veth(name, addr, peerNS, peer string) Link {
	l := Link{Name: name, Type: "veth", PeerNetns: peerNS, PeerName: peer}
	if addr != "" {
		l.Addrs = []netip.Prefix{pfx(addr)}
	}
	return l
}

// twoNodes: pod a on n1, pod b on n2, one bridge in ul, Calico-style
// routes; n1 reaches n2's block over the underlay or a VXLAN device.
func twoNodes(vxlan bool) *fakeWorld {
	f := &fakeWorld{
		names: map[string]string{"ul": "underlay", "n1": "node1", "n2": "node2", "pa": "default/a", "pb": "default/b"},
		nets: map[string][]Link{
			"pa": {veth("eth0", "10.244.1.2/32", "n1", "calia")},
			"pb": {veth("eth0", "10.244.2.2/32", "n2", "calib")},
			"n1": {veth("eth0", "172.31.1.10/24", "ul", "node1-eth0"), veth("calia", "", "pa", "eth0")},
			"n2": {veth("eth0", "172.31.1.11/24", "ul", "node2-eth0"), veth("calib", "", "pb", "eth0")},
			"ul": {
				{Name: "br-s1", Type: "bridge", Addrs: []netip.Prefix{pfx("172.31.1.1/24")}},
				{Name: "node1-eth0", Type: "veth", Master: "br-s1", PeerNetns: "n1", PeerName: "eth0"},
				{Name: "node2-eth0", Type: "veth", Master: "br-s1", PeerNetns: "n2", PeerName: "eth0"},
			},
		},
		routes: map[string][]Route{
			"pa": {{Dst: pfx("0.0.0.0/0"), Gw: ip("169.254.1.1"), Dev: "eth0"}},
			"pb": {{Dst: pfx("0.0.0.0/0"), Gw: ip("169.254.1.1"), Dev: "eth0"}},
			"n1": {
				{Dst: pfx("10.244.1.0/26"), Type: "blackhole"},
				{Dst: pfx("10.244.1.2/32"), Dev: "calia", Scope: "link"},
				{Dst: pfx("10.244.2.0/26"), Gw: ip("172.31.1.11"), Dev: "eth0", Proto: "bird"},
				{Dst: pfx("172.31.1.0/24"), Dev: "eth0", Scope: "link"},
			},
			"n2": {{Dst: pfx("10.244.2.0/26"), Type: "blackhole"}, {Dst: pfx("10.244.2.2/32"), Dev: "calib", Scope: "link"}},
		},
		neighs: map[string]string{"n1 eth0 172.31.1.11": "aa:bb:cc:00:00:02"},
		fdb:    map[string]netip.Addr{},
	}
	if vxlan {
		f.nets["n1"] = append(f.nets["n1"], Link{Name: "vxlan.calico", Type: "vxlan", Addrs: []netip.Prefix{pfx("10.244.1.0/32")}})
		f.nets["n2"] = append(f.nets["n2"], Link{Name: "vxlan.calico", Type: "vxlan", Addrs: []netip.Prefix{pfx("10.244.2.0/32")}})
		f.routes["n1"][2] = Route{Dst: pfx("10.244.2.0/26"), Gw: ip("10.244.2.0"), Dev: "vxlan.calico", Scope: "link"}
		f.neighs["n1 vxlan.calico 10.244.2.0"] = "66:00:00:00:00:02"
		f.fdb["n1 vxlan.calico 66:00:00:00:00:02"] = ip("172.31.1.11")
	}
	return f
}

func where(hops []Hop) string {
	var parts []string
	for _, h := range hops {
		w := h.Where + ":" + h.In + ">" + h.Out
		if h.Outer {
			w = "(" + w + ")"
		}
		parts = append(parts, w)
	}
	return strings.Join(parts, " ")
}

func TestTraceUnderlay(t *testing.T) {
	hops := trace(twoNodes(false), "pa", ip("10.244.1.2"), ip("10.244.2.2"))
	want := "default/a:>eth0 node1:calia>eth0 underlay:node1-eth0> node2:eth0>calib default/b:eth0>"
	if got := where(hops); got != want {
		t.Fatalf("hops\n got %s\nwant %s", got, want)
	}
	if r := hops[1].Route; r != "10.244.2.0/26 via 172.31.1.11 dev eth0 proto bird" {
		t.Errorf("node1's route %q", r)
	}
	if n := hops[1].Note; !strings.Contains(n, "lladdr aa:bb:cc:00:00:02 REACHABLE") {
		t.Errorf("node1's note %q", n)
	}
	if n := hops[2].Note; n != "switched by bridge br-s1" {
		t.Errorf("bridge note %q", n)
	}
	if n := hops[4].Note; n != "delivered: 10.244.2.2 is on eth0" {
		t.Errorf("last note %q", n)
	}
}

func TestTraceVXLAN(t *testing.T) {
	hops := trace(twoNodes(true), "pa", ip("10.244.1.2"), ip("10.244.2.2"))
	want := "default/a:>eth0 node1:calia>vxlan.calico (node1:>eth0) (underlay:node1-eth0>) (node2:eth0>) node2:vxlan.calico>calib default/b:eth0>"
	if got := where(hops); got != want {
		t.Fatalf("hops\n got %s\nwant %s", got, want)
	}
	if n := hops[1].Note; !strings.Contains(n, "encapsulated: VXLAN to 172.31.1.11 (VTEP 10.244.2.0 lladdr 66:00:00:00:00:02); decapsulated by vxlan.calico at node2") {
		t.Errorf("tunnel note %q", n)
	}
}

func TestTraceDrops(t *testing.T) {
	w := twoNodes(false)
	hops := trace(w, "pa", ip("10.244.1.2"), ip("10.244.1.9")) // unused address of a's own block
	last := hops[len(hops)-1]
	if last.Where != "node1" || last.Note != "dropped by the blackhole route" || last.Route != "blackhole 10.244.1.0/26" {
		t.Errorf("last hop %+v", last)
	}
	hops = trace(w, "pb", ip("10.244.2.2"), ip("10.244.1.2")) // n2 has no route back
	if last := hops[len(hops)-1]; last.Where != "node2" || !strings.Contains(last.Note, "no route to 10.244.1.2") {
		t.Errorf("last hop %+v", last)
	}
}

func TestTraceLoop(t *testing.T) {
	w := twoNodes(false)
	// n1 and n2 send 10.9.0.0/16 to each other.
	w.routes["n1"] = append(w.routes["n1"], Route{Dst: pfx("10.9.0.0/16"), Gw: ip("172.31.1.11"), Dev: "eth0"})
	w.routes["n2"] = append(w.routes["n2"], Route{Dst: pfx("10.9.0.0/16"), Gw: ip("172.31.1.10"), Dev: "eth0"},
		Route{Dst: pfx("172.31.1.0/24"), Dev: "eth0"})
	hops := trace(w, "n1", ip("172.31.1.10"), ip("10.9.0.1"))
	if last := hops[len(hops)-1]; !strings.Contains(last.Note, "routing loop") {
		t.Errorf("last hop %+v", last)
	}
}
