package ipam

import (
	"net/netip"
	"strings"
)

// Calico's IPAM key space (calico-reference.md §5.1).
const (
	ipamRoot     = "/calico/ipam/v2/"
	ConfigKey    = ipamRoot + "config"
	handlePrefix = ipamRoot + "handle/"
	hostPrefix   = ipamRoot + "host/"
)

func family(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// cidrName is a CIDR as it appears in keys: the "/" becomes "-".
func cidrName(p netip.Prefix) string { return strings.Replace(p.String(), "/", "-", 1) }

// parseCIDRName is the inverse of cidrName.
func parseCIDRName(s string) (netip.Prefix, error) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return netip.ParsePrefix(s)
	}
	return netip.ParsePrefix(s[:i] + "/" + s[i+1:])
}

// BlockPrefix is where the blocks of one family live ("ipv4" or "ipv6").
func BlockPrefix(fam string) string { return ipamRoot + "assignment/" + fam + "/block/" }

// BlockKey is the key of the block with this CIDR.
func BlockKey(cidr netip.Prefix) string { return BlockPrefix(family(cidr)) + cidrName(cidr) }

// AffinityPrefix lists one host's affinities of one family.
func AffinityPrefix(host, fam string) string { return hostPrefix + host + "/" + fam + "/block/" }

// AffinityKey is the key of host's affinity to the block cidr.
func AffinityKey(host string, cidr netip.Prefix) string {
	return AffinityPrefix(host, family(cidr)) + cidrName(cidr)
}

// HostPrefix lists every host's affinities.
func HostPrefix() string { return hostPrefix }

// HandleKey is the key of a handle.
func HandleKey(id string) string { return handlePrefix + id }

// HandlePrefix lists every handle.
func HandlePrefix() string { return handlePrefix }

// parseAffinityKey splits /calico/ipam/v2/host/<host>/<fam>/block/<cidr>.
func parseAffinityKey(key string) (host string, cidr netip.Prefix, ok bool) {
	rest, found := strings.CutPrefix(key, hostPrefix)
	if !found {
		return "", netip.Prefix{}, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 || parts[2] != "block" {
		return "", netip.Prefix{}, false
	}
	p, err := parseCIDRName(parts[3])
	if err != nil {
		return "", netip.Prefix{}, false
	}
	return parts[0], p, true
}
