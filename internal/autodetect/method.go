package autodetect

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// Kind names an autodetection method.
type Kind string

// The methods of IP_AUTODETECTION_METHOD.
const (
	FirstFound           Kind = "first-found"
	ByInterface          Kind = "interface"
	SkipInterface        Kind = "skip-interface"
	CanReach             Kind = "can-reach"
	ByCIDR               Kind = "cidr"
	KubernetesInternalIP Kind = "kubernetes-internal-ip"
)

// Method is a parsed IP_AUTODETECTION_METHOD value. Build it with
// ParseMethod; the zero Method is first-found.
type Method struct {
	Kind Kind `json:"kind"`
	// Patterns are the regular expressions of interface= and
	// skip-interface=, as written (unanchored; any one matching is enough).
	Patterns []string `json:"patterns,omitempty"`
	// CIDRs are the networks of cidr=, masked.
	CIDRs []netip.Prefix `json:"cidrs,omitempty"`
	// Target is the destination of can-reach=: an IP address or a host name.
	Target string `json:"target,omitempty"`
}

const methodHelp = "want first-found, interface=<regex,...>, skip-interface=<regex,...>, " +
	"can-reach=<address or host name>, cidr=<cidr,...> or kubernetes-internal-ip"

// ParseMethod parses s the way calico-node reads IP_AUTODETECTION_METHOD:
// "" and "first-found" are first-found; "interface=", "skip-interface=",
// "cidr=" take comma-separated lists (spaces around the commas ignored);
// "can-reach=" takes one address or host name. Anything else, an invalid
// regular expression or CIDR, or an empty list element is an error that
// quotes s.
func ParseMethod(s string) (Method, error) {
	s = strings.TrimSpace(s)
	fail := func(format string, args ...any) (Method, error) {
		return Method{}, fmt.Errorf("autodetection method %q: %s", s, fmt.Sprintf(format, args...))
	}
	if s == "" || s == string(FirstFound) {
		return Method{Kind: FirstFound}, nil
	}
	if s == string(KubernetesInternalIP) {
		return Method{Kind: KubernetesInternalIP}, nil
	}
	kind, value, ok := strings.Cut(s, "=")
	if !ok {
		return fail("unknown method; %s", methodHelp)
	}
	m := Method{Kind: Kind(kind)}
	switch m.Kind {
	case ByInterface, SkipInterface:
		list, err := splitList(value)
		if err != nil {
			return fail("%v (an empty regular expression would match every interface)", err)
		}
		for _, p := range list {
			if _, err := regexp.Compile(p); err != nil {
				return fail("invalid regular expression %q: %v", p, err)
			}
		}
		m.Patterns = list
	case ByCIDR:
		list, err := splitList(value)
		if err != nil {
			return fail("%v", err)
		}
		for _, c := range list {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return fail("invalid CIDR %q: want an address/prefix-length such as 10.0.1.0/24", c)
			}
			m.CIDRs = append(m.CIDRs, p.Masked())
		}
	case CanReach:
		if err := checkTarget(value); err != nil {
			return fail("%v", err)
		}
		m.Target = value
	default:
		return fail("unknown method %q; %s", kind, methodHelp)
	}
	return m, nil
}

// String returns the method in IP_AUTODETECTION_METHOD syntax.
func (m Method) String() string {
	switch m.Kind {
	case "", FirstFound:
		return string(FirstFound)
	case ByInterface, SkipInterface:
		return string(m.Kind) + "=" + strings.Join(m.Patterns, ",")
	case ByCIDR:
		cs := make([]string, len(m.CIDRs))
		for i, c := range m.CIDRs {
			cs[i] = c.String()
		}
		return string(m.Kind) + "=" + strings.Join(cs, ",")
	case CanReach:
		return string(m.Kind) + "=" + m.Target
	}
	return string(m.Kind)
}

// splitList splits a comma-separated list and trims the spaces around each
// element. An empty element is refused (Calico would compile it into a
// regular expression that matches every interface).
func splitList(v string) ([]string, error) {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
		if parts[i] == "" {
			return nil, fmt.Errorf("empty element %d in the list %q", i+1, v)
		}
	}
	return parts, nil
}

// checkTarget accepts an IP address or something shaped like a host name.
func checkTarget(v string) error {
	if v == "" {
		return fmt.Errorf("can-reach needs an address or a host name")
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return nil
	}
	if strings.Contains(v, "/") {
		return fmt.Errorf("can-reach target %q: want one address or host name, not a CIDR", v)
	}
	for _, r := range v {
		ok := r == '-' || r == '.' || r == '_' || ('0' <= r && r <= '9') ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
		if !ok {
			return fmt.Errorf("can-reach target %q: not an IP address or a host name", v)
		}
	}
	return nil
}
