package lab

import (
	"fmt"
	"net/netip"
	"strings"
)

// Hop is one namespace a packet passes on its way, with the reason it
// goes where it goes.
type Hop struct {
	Where string `json:"where"` // lab member ("node1", "default/web", "underlay")
	Netns string `json:"netns"`
	In    string `json:"in,omitempty"`    // interface it arrived on
	Out   string `json:"out,omitempty"`   // interface it leaves by
	Route string `json:"route,omitempty"` // the route that chose Out
	Note  string `json:"note,omitempty"`
	// Outer marks hops of an encapsulated packet's outer header.
	Outer bool `json:"outer,omitempty"`
}

// Route is the kernel's answer to a route lookup, reduced to what a path
// shows.
type Route struct {
	Dst   netip.Prefix // the matching route's destination
	Gw    netip.Addr
	Dev   string
	Type  string // unicast, local, blackhole, unreachable, prohibit, ...
	Proto string
	Scope string
	// InputErr is set when the lookup as forwarded traffic (from the
	// interface the packet came in on) failed and this is the lookup as
	// locally sent traffic instead.
	InputErr string
}

func (r Route) String() string {
	var b strings.Builder
	if r.Type != "" && r.Type != "unicast" {
		b.WriteString(r.Type + " ")
	}
	b.WriteString(r.Dst.String())
	if r.Gw.IsValid() {
		b.WriteString(" via " + r.Gw.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Proto != "" {
		b.WriteString(" proto " + r.Proto)
	}
	if r.Scope != "" {
		b.WriteString(" scope " + r.Scope)
	}
	return b.String()
}

// world is what tracing needs from the kernel; the lab reads it from its
// namespaces, tests provide a fake.
type world interface {
	// member names the lab member that owns a namespace.
	member(netns string) string
	// links lists a namespace's links with their veth peers resolved.
	links(netns string) []Link
	// route looks dst up in netns, as a packet from src arriving on iif
	// would be (iif empty: sent by netns itself).
	route(netns string, dst, src netip.Addr, iif string) (Route, error)
	// neighbor is the neighbour entry of ip on dev: MAC and state.
	neighbor(netns, dev string, ip netip.Addr) (mac, state string)
	// fdbRemote is the VXLAN remote of mac on dev.
	fdbRemote(netns, dev, mac string) (netip.Addr, bool)
}

// maxHops bounds a trace (routing loops).
const maxHops = 24

// tracer follows one packet through the lab.
type tracer struct {
	w    world
	hops []Hop
}

// trace follows a packet from src (in netns from) to dst.
func trace(w world, from string, src, dst netip.Addr) []Hop {
	t := &tracer{w: w}
	t.follow(from, "", src, dst, false)
	return t.hops
}

// follow walks dst's packet from netns (arrived on iif) until it is
// delivered or dropped; it returns where it was delivered ("" if not).
func (t *tracer) follow(netns, iif string, src, dst netip.Addr, outer bool) string {
	for range maxHops {
		hop := Hop{Where: t.w.member(netns), Netns: netns, In: iif, Outer: outer}
		if dev, ok := owns(t.w.links(netns), dst); ok {
			hop.Note = fmt.Sprintf("delivered: %s is on %s", dst, dev)
			t.hops = append(t.hops, hop)
			return netns
		}
		r, err := t.w.route(netns, dst, src, iif)
		if err != nil {
			hop.Note = fmt.Sprintf("no route to %s: %v", dst, err)
			t.hops = append(t.hops, hop)
			return ""
		}
		hop.Route, hop.Out = r.String(), r.Dev
		if r.InputErr != "" {
			hop.Note = "forwarding lookup failed (" + r.InputErr + "); showing the local lookup"
		}
		switch r.Type {
		case "blackhole", "unreachable", "prohibit", "throw":
			hop.Note = join(hop.Note, "dropped by the "+r.Type+" route")
			t.hops = append(t.hops, hop)
			return ""
		}
		idx := len(t.hops)
		t.hops = append(t.hops, hop)
		next, nextIf, note := t.nextHop(netns, r, dst)
		t.hops[idx].Note = join(t.hops[idx].Note, note)
		for k := idx + 1; outer && k < len(t.hops); k++ {
			t.hops[k].Outer = true // e.g. the bridge an outer packet crossed
		}
		if next == "" {
			return ""
		}
		netns, iif = next, nextIf
	}
	t.hops = append(t.hops, Hop{Note: fmt.Sprintf("gave up after %d hops (routing loop?)", maxHops)})
	return ""
}

// nextHop works out where the packet leaving by r.Dev arrives.
func (t *tracer) nextHop(netns string, r Route, dst netip.Addr) (next, nextIf, note string) {
	out, ok := linkNamed(t.w.links(netns), r.Dev)
	if !ok {
		return "", "", "no link " + r.Dev
	}
	nh := dst
	if r.Gw.IsValid() {
		nh = r.Gw
	}
	switch out.Type {
	case "veth":
		if out.PeerNetns == "" {
			return "", "", "the other end of " + out.Name + " is not in the lab"
		}
		peer, _ := linkNamed(t.w.links(out.PeerNetns), out.PeerName)
		if peer.Master == "" {
			return out.PeerNetns, out.PeerName, t.neighNote(netns, r.Dev, nh)
		}
		// A bridge port: the packet crosses an L2 segment.
		t.hops = append(t.hops, Hop{Where: t.w.member(out.PeerNetns), Netns: out.PeerNetns, In: out.PeerName,
			Note: "switched by bridge " + peer.Master})
		n, i, ok := t.acrossBridge(out.PeerNetns, peer.Master, nh)
		if !ok {
			return "", "", fmt.Sprintf("nobody on bridge %s has %s", peer.Master, nh)
		}
		return n, i, t.neighNote(netns, r.Dev, nh)
	case "bridge":
		n, i, ok := t.acrossBridge(netns, out.Name, nh)
		if !ok {
			return "", "", fmt.Sprintf("nobody on bridge %s has %s", out.Name, nh)
		}
		return n, i, t.neighNote(netns, r.Dev, nh)
	case "vxlan", "ipip":
		return t.tunnel(netns, out, nh)
	}
	return "", "", fmt.Sprintf("cannot follow a %s device", out.Type)
}

// acrossBridge finds the namespace on bridge br (in netns) that holds nh,
// and the interface the packet enters it by.
func (t *tracer) acrossBridge(netns, br string, nh netip.Addr) (string, string, bool) {
	for _, port := range t.w.links(netns) {
		if port.Master != br {
			continue
		}
		if port.PeerNetns != "" {
			if dev, ok := owns(t.w.links(port.PeerNetns), nh); ok && dev == port.PeerName {
				return port.PeerNetns, port.PeerName, true
			}
		}
	}
	if dev, ok := owns(t.w.links(netns), nh); ok && dev == br {
		return netns, br, true // the bridge's own address
	}
	return "", "", false
}

// tunnel follows the outer packet of an encapsulating device to the remote
// end and continues the inner packet there.
func (t *tracer) tunnel(netns string, out Link, nh netip.Addr) (string, string, string) {
	remote := nh
	note := "IP-in-IP to " + nh.String()
	if out.Type == "vxlan" {
		mac, state := t.w.neighbor(netns, out.Name, nh)
		r, ok := t.w.fdbRemote(netns, out.Name, mac)
		if !ok {
			return "", "", fmt.Sprintf("VXLAN: no forwarding entry for %s (lladdr %s %s)", nh, orDash(mac), state)
		}
		remote, note = r, fmt.Sprintf("VXLAN to %s (VTEP %s lladdr %s)", r, nh, mac)
	}
	// The outer packet's hops follow the hop that chose the tunnel.
	at := t.follow(netns, "", netip.Addr{}, remote, true)
	if at == "" {
		return "", "", "encapsulated: " + note + "; the outer packet did not arrive"
	}
	for _, lk := range t.w.links(at) {
		if lk.Type == out.Type {
			return at, lk.Name, "encapsulated: " + note + "; decapsulated by " + lk.Name + " at " + t.w.member(at)
		}
	}
	return "", "", "encapsulated: " + note + "; no " + out.Type + " device at the remote end"
}

func (t *tracer) neighNote(netns, dev string, nh netip.Addr) string {
	mac, state := t.w.neighbor(netns, dev, nh)
	if mac == "" && state == "" {
		return "next hop " + nh.String()
	}
	return fmt.Sprintf("next hop %s lladdr %s %s", nh, orDash(mac), state)
}

func owns(links []Link, a netip.Addr) (string, bool) {
	for _, lk := range links {
		for _, p := range lk.Addrs {
			if p.Addr() == a {
				return lk.Name, true
			}
		}
	}
	return "", false
}

func linkNamed(links []Link, name string) (Link, bool) {
	for _, lk := range links {
		if lk.Name == name {
			return lk, true
		}
	}
	return Link{}, false
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
