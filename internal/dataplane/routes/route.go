package routes

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/dataplane/links"
)

// protocolKernel is not tortie's; tortie's own protocol numbers are
// conventions.ProtocolAgent and conventions.ProtocolCNI.
const (
	// protocolKernel is RTPROT_KERNEL: routes the kernel derives from
	// addresses. Never ours.
	protocolKernel = unix.RTPROT_KERNEL
)

// Route types (rtm_type) the reconciler writes.
const (
	TypeUnicast   = unix.RTN_UNICAST
	TypeBlackhole = unix.RTN_BLACKHOLE
)

// MetricIPv6 is the metric the kernel gives an IPv6 route written
// without one: the reconciler writes it explicitly, so that the route it
// reads back has the key it wrote.
const MetricIPv6 = 1024

// Route scopes (rtm_scope) the reconciler writes.
const (
	ScopeUniverse = unix.RT_SCOPE_UNIVERSE
	ScopeLink     = unix.RT_SCOPE_LINK
)

// Route is a route of the main table as the kernel holds it.
// (Dst, TOS, Priority) is its key: the kernel keeps one route per key, and a
// replace overwrites the route with the same key.
type Route struct {
	Dst       netip.Prefix
	TOS       int
	Priority  int
	Type      int
	LinkIndex int // 0: none (blackhole, or the kernel picks by gateway)
	Gw        netip.Addr
	OnLink    bool
	Scope     int
	Protocol  int
	// Multipath marks a route with several next hops; tortie never writes
	// one, so such a route never matches what tortie wants.
	Multipath bool
}

// key identifies a route in the table.
type key struct {
	dst      netip.Prefix
	tos      int
	priority int
}

func (r Route) key() key { return key{r.Dst, r.TOS, r.Priority} }

// sameForwarding reports whether two routes forward the same way: the
// protocol, which only says who wrote a route, is not compared.
func (r Route) sameForwarding(o Route) bool {
	return r.key() == o.key() && r.Type == o.Type && r.LinkIndex == o.LinkIndex &&
		r.Gw == o.Gw && r.OnLink == o.OnLink && r.Scope == o.Scope && !r.Multipath && !o.Multipath
}

// String renders the route roughly as "ip route" does, with the interface
// index instead of its name.
func (r Route) String() string {
	var b strings.Builder
	if r.Type == TypeBlackhole {
		b.WriteString("blackhole ")
	} else if r.Type != TypeUnicast {
		fmt.Fprintf(&b, "type %d ", r.Type)
	}
	b.WriteString(r.Dst.String())
	if r.Gw.IsValid() {
		fmt.Fprintf(&b, " via %s", r.Gw)
	}
	if r.LinkIndex != 0 {
		fmt.Fprintf(&b, " ifindex %d", r.LinkIndex)
	}
	if r.OnLink {
		b.WriteString(" onlink")
	}
	if r.Scope == ScopeLink {
		b.WriteString(" scope link")
	}
	fmt.Fprintf(&b, " proto %d", r.Protocol)
	if r.Priority != 0 {
		fmt.Fprintf(&b, " metric %d", r.Priority)
	}
	if r.Multipath {
		b.WriteString(" multipath")
	}
	return b.String()
}

// Link is what the reconciler needs to know about an interface: its index
// and whether it is up (the kernel removes a down interface's IPv4 routes,
// so routes are only programmed on up ones).
type Link = links.Link

// Errors a Kernel's writes wrap when what the reconciler remembered of the
// kernel was wrong; Apply then reads the table back and tries again.
var (
	// ErrExists: an add found a route with the same key.
	ErrExists = errors.New("route exists")
	// ErrNoDevice: the route's interface does not exist (any more).
	ErrNoDevice = errors.New("no such interface")
)

// OpKind is what an Op does.
type OpKind int

// The kinds of Op.
const (
	// OpAdd adds a route, failing when the table holds one with its key.
	OpAdd OpKind = iota
	// OpReplace writes a route, overwriting the one with its key.
	OpReplace
	// OpDelete removes exactly the route.
	OpDelete
)

// Op is one write to the route table.
type Op struct {
	Kind  OpKind
	Route Route
}

// Kernel is the part of netlink the reconciler uses: the main table's
// routes. (Interfaces are read through a links.Table.)
// Implementations: Netlink (the real kernel) and Fake (in memory, for
// tests).
type Kernel interface {
	// Routes returns the IPv4 routes of the main table (a dump), and
	// the IPv6 ones too with ipv6.
	Routes(ipv6 bool) ([]Route, error)
	// Write makes the writes in order, as few requests to the kernel as
	// it can, and returns the error of each (nil: done); one failing does
	// not stop the others. An add fails with an error wrapping ErrExists
	// when the table holds a route with its key, a write of a route on an
	// interface that does not exist with one wrapping ErrNoDevice;
	// deleting a route already gone is not an error.
	Write(ops []Op) []error
}
