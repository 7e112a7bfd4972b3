package calc

import "fmt"

// String renders a route the way `ip route` shows it.
func (r Route) String() string {
	if r.Type == Blackhole {
		return "blackhole " + r.Dst.String()
	}
	s := r.Dst.String()
	if r.Dst.IsSingleIP() {
		s = r.Dst.Addr().String()
	}
	if r.Gw.IsValid() {
		s += " via " + r.Gw.String()
	}
	s += " dev " + r.Dev
	if r.OnLink {
		s += " onlink"
	}
	if !r.Gw.IsValid() {
		s += " scope link"
	}
	return s
}

// String renders a neighbour entry as `ip neigh` shows it.
func (n Neighbor) String() string {
	return fmt.Sprintf("%s dev %s lladdr %s PERMANENT", n.IP, n.Dev, n.MAC)
}

// String renders an FDB entry as `bridge fdb` shows it.
func (f FDBEntry) String() string {
	return fmt.Sprintf("%s dev %s dst %s self permanent", f.MAC, f.Dev, f.Dst)
}
