package autodetect

import (
	"fmt"
	"net/netip"
	"strings"
)

// nameFilter is the interface-name part of first-found, interface=,
// skip-interface= and cidr=.
type nameFilter struct {
	include []pattern // nil: every name is included
	exclude []pattern
	cidrs   []netip.Prefix // nil: every address is inside
}

func newNameFilter(m Method) (nameFilter, error) {
	var flt nameFilter
	var err error
	switch m.Kind {
	case FirstFound:
		flt.exclude, err = compilePatterns(DefaultExcludes(), "default exclusion")
	case SkipInterface:
		flt.exclude, err = compilePatterns(DefaultExcludes(), "default exclusion")
		if err == nil {
			var skip []pattern
			skip, err = compilePatterns(m.Patterns, "skip-interface pattern")
			flt.exclude = append(flt.exclude, skip...)
		}
	case ByInterface:
		if len(m.Patterns) == 0 {
			return flt, fmt.Errorf("interface= needs at least one regular expression")
		}
		flt.include, err = compilePatterns(m.Patterns, "interface pattern")
	case ByCIDR:
		if len(m.CIDRs) == 0 {
			return flt, fmt.Errorf("cidr= needs at least one CIDR")
		}
		flt.cidrs = m.CIDRs
	}
	return flt, err
}

// check says whether name passes and why.
func (flt nameFilter) check(name string) (bool, string) {
	if flt.include != nil {
		p, ok := firstMatch(flt.include, name)
		if !ok {
			return false, "name matches none of " + quoteList(srcs(flt.include))
		}
		return true, fmt.Sprintf("name matches interface pattern %q", p.src)
	}
	if p, ok := firstMatch(flt.exclude, name); ok {
		return false, fmt.Sprintf("name matches %s %q", p.origin, p.src)
	}
	if flt.exclude != nil {
		return true, "name matches no exclusion"
	}
	return true, ""
}

func (flt nameFilter) inCIDRs(a netip.Addr) bool {
	if flt.cidrs == nil {
		return true
	}
	for _, c := range flt.cidrs {
		if c.Contains(a) {
			return true
		}
	}
	return false
}

func joinWhy(why, more string) string {
	if why == "" {
		return more
	}
	return why + "; " + more
}

func srcs(ps []pattern) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.src
	}
	return out
}

// enumerate implements the interface-walking methods: interfaces in
// reverse kernel order, filtered by name; the first global unicast address
// of family f (inside the CIDRs, for cidr=) wins.
func (d Detector) enumerate(m Method, f Family, res *Result) error {
	flt, err := newNameFilter(m)
	if err != nil {
		return err
	}
	res.Rule = enumerationRule(m, f)
	ifs, err := d.interfaces()
	if err != nil {
		return err
	}
	var passed []string
	won := false
	for _, ifc := range reversed(ifs) {
		ok, why := flt.check(ifc.Name)
		switch {
		case !ok:
			res.step(ifc.Name, netip.Prefix{}, Rejected, "%s", why)
			continue
		case won:
			res.step(ifc.Name, netip.Prefix{}, NotReached, "%s", joinWhy(why, "an earlier interface already won"))
			continue
		}
		if why == "" {
			why = "cidr= applies no name filter"
		}
		passed = append(passed, ifc.Name)
		addrs := ofFamily(ifc.Addrs, f)
		if len(addrs) == 0 {
			res.step(ifc.Name, netip.Prefix{}, Rejected, "%s, but it has no %v address", why, f)
			continue
		}
		if !ifc.Up {
			why += " (the interface is down; like Calico, that does not matter)"
		}
		res.step(ifc.Name, netip.Prefix{}, Passed, "%s", why)
		for _, a := range addrs {
			switch {
			case won:
				res.step(ifc.Name, a, NotReached, "an earlier address on %s already won", ifc.Name)
			case unusable(a.Addr()) != "":
				res.step(ifc.Name, a, Rejected, "%s", unusable(a.Addr()))
			case !flt.inCIDRs(a.Addr()):
				res.step(ifc.Name, a, Rejected, "outside %s", prefixList(flt.cidrs))
			default:
				res.step(ifc.Name, a, Chosen, "first global unicast %v address%s on this interface", f, cidrClause(flt.cidrs))
				res.Address, res.Interface, won = a, ifc.Name, true
			}
		}
	}
	if !won {
		return noMatch(m, f, flt, passed, ifs)
	}
	res.Summary = fmt.Sprintf("%s is the first interface, walking from the highest index down, %sthat holds a global unicast %v address%s; %s is its first such address",
		res.Interface, withAnd(filterClause(m)), f, cidrClause(flt.cidrs), res.Address)
	return nil
}

func noMatch(m Method, f Family, flt nameFilter, passed []string, ifs []Interface) error {
	if len(ifs) == 0 {
		return fmt.Errorf("%w: the host has no interfaces", ErrNoAddress)
	}
	if len(passed) == 0 {
		names := make([]string, len(ifs))
		for i, ifc := range ifs {
			names[i] = ifc.Name
		}
		return fmt.Errorf("%w: no interface %s (interfaces: %s)", ErrNoAddress, filterClause(m), strings.Join(names, ", "))
	}
	return fmt.Errorf("%w: no global unicast %v address%s on the interfaces that pass (%s)",
		ErrNoAddress, f, cidrClause(flt.cidrs), strings.Join(passed, ", "))
}

func enumerationRule(m Method, f Family) string {
	keep := "apply no name filter"
	if c := filterClause(m); c != "" {
		keep = "keep those " + c
	}
	if m.Kind == ByInterface {
		keep += " (unanchored regular expressions; their order does not matter)"
	}
	return fmt.Sprintf("walk the interfaces from the highest index down (the reverse of the kernel's order), %s, and take the first global unicast %v address%s",
		keep, f, cidrClause(m.CIDRs))
}

// filterClause describes the name filter as a relative clause ("whose name
// ..."), or "" for cidr=, which has none.
func filterClause(m Method) string {
	switch m.Kind {
	case ByInterface:
		return "whose name matches one of " + quoteList(m.Patterns)
	case SkipInterface:
		return "whose name matches neither a default exclusion nor one of " + quoteList(m.Patterns)
	case ByCIDR:
		return ""
	}
	return "whose name matches no default exclusion"
}

func withAnd(clause string) string {
	if clause == "" {
		return ""
	}
	return clause + " and "
}

func cidrClause(cidrs []netip.Prefix) string {
	if len(cidrs) == 0 {
		return ""
	}
	return " inside " + prefixList(cidrs)
}

func prefixList(ps []netip.Prefix) string {
	ss := make([]string, len(ps))
	for i, p := range ps {
		ss[i] = p.String()
	}
	return strings.Join(ss, " or ")
}
