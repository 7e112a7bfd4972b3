package lab

import (
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"

	"github.com/tortienet/tortie/internal/lab/topo"
)

// PathResult is the way a packet from one lab member to another (or to an
// address) takes, hop by hop.
type PathResult struct {
	From string     `json:"from"`
	To   string     `json:"to"`
	Src  netip.Addr `json:"src"`
	Dst  netip.Addr `json:"dst"`
	Hops []Hop      `json:"hops"`
	// Delivered is true when the last hop holds the destination.
	Delivered bool `json:"delivered"`
}

// Path traces a packet from member from to to (a member or an IPv4
// address), reading the routes, neighbours and links of each namespace it
// crosses: an annotated traceroute that sends nothing.
func (l *Lab) Path(from, to string) (*PathResult, error) {
	src, err := l.Find(from)
	if err != nil {
		return nil, err
	}
	w, err := l.newWorld()
	if err != nil {
		return nil, err
	}
	defer w.close()
	srcIP, ok := primaryAddr(w, src)
	if !ok {
		return nil, fmt.Errorf("%s has no address (is its namespace there?)", src.Name)
	}
	res := &PathResult{From: src.Name, To: to, Src: srcIP}
	if a, err := netip.ParseAddr(to); err == nil {
		res.Dst = a
	} else {
		dst, err := l.Find(to)
		if err != nil {
			return nil, err
		}
		res.To = dst.Name
		if res.Dst, ok = primaryAddr(w, dst); !ok {
			return nil, fmt.Errorf("%s has no address (is its namespace there?)", dst.Name)
		}
	}
	res.Hops = trace(w, src.Netns, res.Src, res.Dst)
	if n := len(res.Hops); n > 0 {
		if _, ok := owns(w.links(res.Hops[n-1].Netns), res.Dst); ok && res.Hops[n-1].Out == "" {
			res.Delivered = true
		}
	}
	return res, nil
}

// primaryAddr is the address a member is known by: a pod's eth0 address,
// a host's first interface address, the outside's internet address, the
// underlay's first gateway.
func primaryAddr(w world, m Member) (netip.Addr, bool) {
	links := w.links(m.Netns)
	want := map[string]string{topo.KindPod: podIfName, topo.KindOutside: "lo"}[m.Kind]
	for _, lk := range links {
		if lk.Name == "lo" && want != "lo" {
			continue
		}
		if want != "" && lk.Name != want {
			continue
		}
		for _, p := range lk.Addrs {
			if !p.Addr().IsLoopback() {
				return p.Addr(), true
			}
		}
	}
	return netip.Addr{}, false
}

// WritePath prints a path as a numbered table.
func WritePath(w io.Writer, p *PathResult) error {
	fmt.Fprintf(w, "path %s (%s) -> %s (%s)\n", p.From, p.Src, p.To, p.Dst)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tWHERE\tIN\tOUT\tROUTE\tNOTE")
	for i, h := range p.Hops {
		where := h.Where
		if h.Outer {
			where += " (outer)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, orDash(where), orDash(h.In), orDash(h.Out), orDash(h.Route), h.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if p.Delivered {
		fmt.Fprintf(w, "delivered in %d hops\n", len(p.Hops))
	} else {
		fmt.Fprintln(w, "NOT delivered")
	}
	return nil
}
