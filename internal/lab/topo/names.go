package topo

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Limits on names.
const (
	// MaxIfName is the longest Linux interface name (IFNAMSIZ - 1).
	MaxIfName = 15
	// MaxLabName keeps namespace names short enough to read.
	MaxLabName = 20
	// MaxSubnetName leaves room for the "br-" bridge prefix.
	MaxSubnetName = MaxIfName - len(bridgePrefix)
	// NamespacePrefix starts every network namespace a lab makes.
	NamespacePrefix = "tl-"

	bridgePrefix = "br-"
)

// Namespace kinds, the middle part of a namespace name.
const (
	KindUnderlay = "ul"
	KindOutside  = "out"
	KindNode     = "node"
	KindPod      = "pod"
	KindRouter   = "rtr"
)

var (
	labNameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	// A node or pod name: a DNS-1123 subdomain.
	dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
)

// NamespacePrefixOf is the prefix of every namespace of lab: "tl-<lab>.".
func NamespacePrefixOf(lab string) string { return NamespacePrefix + lab + "." }

// NamespaceName is the network namespace of one lab member, e.g.
// "tl-demo.node.node1", "tl-demo.pod.default.web-1", "tl-demo.ul".
// name may be empty for the singletons (underlay, outside).
func NamespaceName(lab, kind, name string) string {
	if name == "" {
		return NamespacePrefixOf(lab) + kind
	}
	return NamespacePrefixOf(lab) + kind + "." + name
}

// PodNamespaceName is the network namespace of a pod. Kubernetes namespace
// names cannot contain dots, so "<namespace>.<pod>" is unambiguous.
func PodNamespaceName(lab string, p Pod) string {
	return NamespaceName(lab, KindPod, p.Namespace+"."+p.Name)
}

// BridgeName is the bridge of subnet in the underlay namespace.
func BridgeName(subnet string) string { return bridgePrefix + subnet }

// bridgePortName names the underlay end of host's interface ifname: the
// readable "<host>-<ifname>" when it fits, else "p" and a hash.
func bridgePortName(host, ifname string) string {
	if n := host + "-" + ifname; len(n) <= MaxIfName {
		return n
	}
	sum := sha1.Sum([]byte(host + "/" + ifname))
	return "p" + hex.EncodeToString(sum[:])[:10]
}

// CheckIfName reports why name cannot be a Linux interface name, or nil.
// The kernel refuses empty names, names of IFNAMSIZ bytes or more, "." and
// "..", and names with '/', ':' or white space.
func CheckIfName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("is empty")
	case len(name) > MaxIfName:
		return fmt.Errorf("is %d bytes long; Linux allows at most %d", len(name), MaxIfName)
	case name == "." || name == "..":
		return fmt.Errorf("is not allowed by Linux")
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return fmt.Errorf("contains '/', ':' or white space, which Linux does not allow")
	}
	for _, r := range name {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("contains %q; use printable ASCII", r)
		}
	}
	return nil
}

// CheckLabName reports why name cannot name a lab, or nil.
func CheckLabName(name string) error {
	if len(name) > MaxLabName {
		return fmt.Errorf("is %d bytes long; at most %d", len(name), MaxLabName)
	}
	if !labNameRE.MatchString(name) {
		return fmt.Errorf("must be lower-case letters, digits and '-', starting and ending with a letter or digit")
	}
	return nil
}

func checkDNSLabel(name string) error {
	if len(name) > 63 || !dnsLabelRE.MatchString(name) {
		return fmt.Errorf("must be a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit")
	}
	return nil
}

func checkDNSSubdomain(name string) error {
	if len(name) > 253 || !dnsSubdomainRE.MatchString(name) {
		return fmt.Errorf("must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit")
	}
	return nil
}
