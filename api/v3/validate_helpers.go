package v3

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"

	"github.com/tortienet/tortie/internal/selector"
)

// Limits from Calico's API.
const (
	maxNameLen        = 253 // DNS-1123 subdomain
	maxLabelValueLen  = 63
	maxAnnotationSize = 256 << 10 // total bytes of keys and values
	maxSelectorLen    = 1024
	maxIfaceNameLen   = 15
)

// The patterns are compiled on first use: the CNI plugin, a process per
// pod, links this package and never validates most of them.
var (
	dns1123Label      = `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
	dns1123Subdomain  = lazyRegexp(`^` + dns1123Label + `(\.` + dns1123Label + `)*$`)
	dns1123LabelRe    = lazyRegexp(`^` + dns1123Label + `$`)
	qualifiedNamePart = lazyRegexp(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	labelValueRe      = lazyRegexp(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	interfaceRe       = lazyRegexp(`^[a-zA-Z0-9_.-]{1,15}$`)
	ifaceFilterRe     = lazyRegexp(`^[a-zA-Z0-9:._+-]{1,15}$`)
	containerIDRe     = lazyRegexp(`^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`)
	portNameRe        = lazyRegexp(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	hostRe            = lazyRegexp(`^[a-zA-Z0-9:._+-]{1,64}$`)
)

// lazyRegexp compiles pattern on first use.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}

// name checks a resource-style name: a DNS-1123 subdomain of at most 253
// characters (lower-case alphanumerics, '-' and '.').
func (e *errs) name(field, v string) {
	switch {
	case len(v) > maxNameLen:
		e.addf(field, v, "must be at most %d characters (is %d)", maxNameLen, len(v))
	case !dns1123Subdomain().MatchString(v):
		e.add(field, v, "must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric character")
	}
}

// requiredName is name for a field that must be set.
func (e *errs) requiredName(field, v string) {
	if v == "" {
		e.add(field, nil, "is required")
		return
	}
	e.name(field, v)
}

// qualifiedName checks a Kubernetes label or annotation key: an optional
// DNS-1123 subdomain prefix and '/', then a name of at most 63 characters.
func qualifiedName(k string) string {
	name := k
	if prefix, rest, ok := strings.Cut(k, "/"); ok {
		if prefix == "" || len(prefix) > maxNameLen || !dns1123Subdomain().MatchString(prefix) {
			return "prefix must be a DNS-1123 subdomain"
		}
		name = rest
	}
	switch {
	case name == "":
		return "name part must not be empty"
	case len(name) > 63:
		return "name part must be at most 63 characters"
	case !qualifiedNamePart().MatchString(name):
		return "name part must consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character"
	}
	return ""
}

// labels checks a label map (keys qualified names, values label values).
func (e *errs) labels(field string, m map[string]string) {
	for k, v := range m {
		if msg := qualifiedName(k); msg != "" {
			e.add(field, k, "invalid label key: "+msg)
		}
		if len(v) > maxLabelValueLen {
			e.addf(field+"["+k+"]", v, "label value must be at most %d characters", maxLabelValueLen)
		} else if !labelValueRe().MatchString(v) {
			e.add(field+"["+k+"]", v, "label value must be empty or consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character")
		}
	}
}

// annotations checks annotation keys and the total size.
func (e *errs) annotations(field string, m map[string]string) {
	size := 0
	for k, v := range m {
		if msg := qualifiedName(strings.ToLower(k)); msg != "" {
			e.add(field, k, "invalid annotation key: "+msg)
		}
		size += len(k) + len(v)
	}
	if size > maxAnnotationSize {
		e.addf(field, nil, "total size of annotations must be at most %d bytes (is %d)", maxAnnotationSize, size)
	}
}

// selector checks a selector expression. global() is only allowed where
// allowGlobal is true (an EntityRule's namespaceSelector).
func (e *errs) selector(field, s string, allowGlobal bool) {
	if s == "" {
		return
	}
	if len(s) > maxSelectorLen {
		e.addf(field, s, "selector must be at most %d characters (is %d)", maxSelectorLen, len(s))
		return
	}
	sel, err := selector.Parse(s)
	if err != nil {
		var pe *selector.ParseError
		if errors.As(err, &pe) {
			e.addf(field, s, "invalid selector: at position %d: %s", pe.Pos, pe.Msg)
		} else {
			e.add(field, s, err.Error())
		}
		return
	}
	if !allowGlobal && sel.UsesGlobal() {
		e.add(field, s, "global() is only allowed in a rule's namespaceSelector")
	}
}

// selectsAll reports whether s is empty or all(). It is false for
// selectors that fail to parse.
func selectsAll(s string) bool {
	sel, err := selector.Parse(s)
	return err == nil && sel.IsAll()
}

// parseNet parses a CIDR, or a single IP as a full-length prefix.
func parseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zones are not allowed")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// maskedNet checks a strictly masked CIDR or a single IP and returns it.
func (e *errs) maskedNet(field, s string) (netip.Prefix, bool) {
	p, err := parseNet(s)
	if err != nil {
		e.add(field, s, "must be a CIDR such as 10.0.0.0/16 or an IP address")
		return netip.Prefix{}, false
	}
	if p.Masked() != p {
		e.addf(field, s, "must be a masked CIDR (did you mean %s?)", p.Masked())
		return netip.Prefix{}, false
	}
	return p, true
}

// cidr checks an address with a prefix length that need not be masked
// (e.g. 10.0.0.5/24), or a single IP. family 0 accepts both.
func (e *errs) cidr(field, s string, family int) {
	p, err := parseNet(s)
	switch {
	case err != nil:
		e.add(field, s, "must be an address with a prefix length, such as 10.0.0.5/24")
	case family == 4 && !p.Addr().Is4():
		e.add(field, s, "must be an IPv4 address with a prefix length")
	case family == 6 && !p.Addr().Is6():
		e.add(field, s, "must be an IPv6 address with a prefix length")
	}
}

// ip checks a single IP address. family 0 accepts both.
func (e *errs) ip(field, s string, family int) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil || a.Zone() != "":
		e.add(field, s, "must be an IP address")
	case family == 4 && !a.Is4():
		e.add(field, s, "must be an IPv4 address")
	case family == 6 && !a.Is6():
		e.add(field, s, "must be an IPv6 address")
	default:
		return a, true
	}
	return netip.Addr{}, false
}

// mac checks a MAC address.
func (e *errs) mac(field, s string) {
	if _, err := net.ParseMAC(s); err != nil {
		e.add(field, s, "must be a MAC address such as ee:ee:ee:ee:ee:ee")
	}
}

// iface checks a Linux interface name.
func (e *errs) iface(field, s string) {
	if !interfaceRe().MatchString(s) {
		e.addf(field, s, "must be an interface name of 1-%d characters from [a-zA-Z0-9_.-]", maxIfaceNameLen)
	}
}

// portNameProblem says what is wrong with a named port, or returns "". A
// port name is an IANA service name: at most 15 lower-case alphanumerics
// and '-', with at least one letter.
func portNameProblem(s string) string {
	switch {
	case len(s) == 0 || len(s) > 15:
		return "port name must be 1-15 characters"
	case !portNameRe().MatchString(s) || strings.Contains(s, "--"):
		return "port name must consist of lower case alphanumerics and '-', must not start or end with '-' or contain '--'"
	case strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' }) < 0:
		return "port name must contain at least one letter"
	}
	return ""
}

// intRange checks lo <= *v <= hi for an optional integer.
func (e *errs) intRange(field string, v *int, lo, hi int) {
	if v != nil && (*v < lo || *v > hi) {
		e.addf(field, *v, "must be between %d and %d", lo, hi)
	}
}

// duration checks an optional duration is not negative.
func (e *errs) duration(field string, d *Duration) {
	if d != nil && d.Duration < 0 {
		e.add(field, d, "must not be negative")
	}
}

// oneOf checks that a non-empty v is one of allowed (exact case).
func (e *errs) oneOf(field, v string, allowed ...string) {
	if v == "" {
		return
	}
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	e.add(field, v, "must be one of "+strings.Join(allowed, ", "))
}

// oneOfFold is oneOf ignoring case.
func (e *errs) oneOfFold(field, v string, allowed ...string) {
	if v == "" {
		return
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return
		}
	}
	e.add(field, v, "must be one of "+strings.Join(allowed, ", ")+" (any case)")
}

// regex checks that v is a valid regular expression.
func (e *errs) regex(field, v string) {
	if v == "" {
		return
	}
	if _, err := regexp.Compile(v); err != nil {
		e.add(field, v, "must be a valid regular expression: "+err.Error())
	}
}

// str returns *p, or "" for nil.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
