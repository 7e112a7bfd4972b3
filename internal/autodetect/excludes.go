package autodetect

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultExcludes returns calico-node's default interface exclusions on
// Linux: bridges, container and VM plumbing, loopback, and the devices
// Calico (and so tortie) creates itself. first-found and skip-interface=
// never pick an address from an interface whose name matches one of them.
// The slice is new on every call.
func DefaultExcludes() []string {
	return []string{
		`^docker.*`, `^cbr.*`, `^dummy.*`, `^podman.*`, `^virbr.*`,
		`^lxcbr.*`, `^veth.*`, `^lo`, `^br-.*`, `^cali.*`, `^tunl.*`,
		`^flannel.*`, `^kube-ipvs.*`, `^cni.*`, `^vxlan\.calico.*`,
		`^vxlan-v6\.calico.*`, `^wireguard\.cali.*`, `^wg-v6\.cali.*`,
		`^nodelocaldns.*`,
	}
}

// pattern is one compiled interface-name regular expression and where it
// came from, for the reasoning.
type pattern struct {
	src    string
	re     *regexp.Regexp
	origin string // "default exclusion", "skip-interface pattern", "interface pattern"
}

func compilePatterns(srcs []string, origin string) ([]pattern, error) {
	ps := make([]pattern, 0, len(srcs))
	for _, s := range srcs {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("invalid regular expression %q: %w", s, err)
		}
		ps = append(ps, pattern{src: s, re: re, origin: origin})
	}
	return ps, nil
}

// firstMatch returns the first pattern matching name.
func firstMatch(ps []pattern, name string) (pattern, bool) {
	for _, p := range ps {
		if p.re.MatchString(name) {
			return p, true
		}
	}
	return pattern{}, false
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
