package v3

import (
	"fmt"
	"reflect"
	"strings"
)

// KindInfo describes one resource kind.
type KindInfo struct {
	Kind     string   // e.g. "IPPool"
	ListKind string   // e.g. "IPPoolList"
	Plural   string   // Calico's etcd plural, e.g. "ippools"
	Aliases  []string // calicoctl short names, lower case, e.g. "ipp", "pool"
	// Namespaced is true for kinds whose objects live in a namespace.
	Namespaced bool
	// New returns a new, empty object of the kind with its TypeMeta set.
	New func() Resource
}

// Kinds returns every resource kind tortie serves, in a stable order. The
// slice is freshly built on each call, so callers may modify it.
func Kinds() []KindInfo {
	return []KindInfo{
		kind("IPPool", "ippools", false, func() Resource { return &IPPool{} }, "ipp", "ipps", "pool", "pools"),
		kind("Node", "nodes", false, func() Resource { return &Node{} }, "no", "nos"),
		kind("BGPPeer", "bgppeers", false, func() Resource { return &BGPPeer{} }, "bgpp", "bgpps", "bp", "bps"),
		kind("BGPConfiguration", "bgpconfigurations", false, func() Resource { return &BGPConfiguration{} }, "bgpconfig", "bgpconfigs"),
		kind("FelixConfiguration", "felixconfigurations", false, func() Resource { return &FelixConfiguration{} }, "felixconfig", "felixconfigs"),
		kind("ClusterInformation", "clusterinformations", false, func() Resource { return &ClusterInformation{} }, "clusterinfo", "clusterinfos"),
		kind("Tier", "tiers", false, func() Resource { return &Tier{} }),
		kind("NetworkPolicy", "networkpolicies", true, func() Resource { return &NetworkPolicy{} }, "policy", "policies", "np", "nps", "pol", "pols", "cnp", "cnps"),
		kind("GlobalNetworkPolicy", "globalnetworkpolicies", false, func() Resource { return &GlobalNetworkPolicy{} }, "gnp", "gnps"),
		kind("Profile", "profiles", false, func() Resource { return &Profile{} }, "pro", "pros"),
		kind("HostEndpoint", "hostendpoints", false, func() Resource { return &HostEndpoint{} }, "hep", "heps"),
		kind("WorkloadEndpoint", "workloadendpoints", true, func() Resource { return &WorkloadEndpoint{} }, "wep", "weps"),
		kind("NetworkSet", "networksets", true, func() Resource { return &NetworkSet{} }, "netset", "netsets"),
		kind("GlobalNetworkSet", "globalnetworksets", false, func() Resource { return &GlobalNetworkSet{} }, "gns", "gnss"),
		kind("IPReservation", "ipreservations", false, func() Resource { return &IPReservation{} }, "ipres", "ipress", "reservation", "reservations"),
		kind("BGPFilter", "bgpfilters", false, func() Resource { return &BGPFilter{} }, "bgpf", "bgpfs", "bf", "bfs"),
		kind("StagedNetworkPolicy", "stagednetworkpolicies", true, func() Resource { return &StagedNetworkPolicy{} }, "stagedpolicy", "stagedpolicies", "snp", "snps", "spol", "spols"),
		kind("StagedGlobalNetworkPolicy", "stagedglobalnetworkpolicies", false, func() Resource { return &StagedGlobalNetworkPolicy{} }, "stagedglobalpolicy", "stagedglobalpolicies", "sgnp", "sgnps"),
		kind("StagedKubernetesNetworkPolicy", "stagedkubernetesnetworkpolicies", true, func() Resource { return &StagedKubernetesNetworkPolicy{} }, "stagedkubernetespolicy", "stagedkubernetespolicies", "sknp", "sknps", "skpol", "skpols"),
		kind("CalicoNodeStatus", "caliconodestatuses", false, func() Resource { return &CalicoNodeStatus{} }, "nodestatus", "nodestatuses"),
		kind("KubeControllersConfiguration", "kubecontrollersconfigurations", false, func() Resource { return &KubeControllersConfiguration{} }, "kcc", "kccs", "kubecontrollersconfig", "kubecontrollersconfigs"),
	}
}

// kind builds a KindInfo whose New also sets the TypeMeta.
func kind(k, plural string, namespaced bool, newObj func() Resource, aliases ...string) KindInfo {
	return KindInfo{
		Kind:       k,
		ListKind:   k + "List",
		Plural:     plural,
		Aliases:    aliases,
		Namespaced: namespaced,
		New: func() Resource {
			r := newObj()
			*r.GetTypeMeta() = TypeMeta{Kind: k, APIVersion: APIVersion}
			return r
		},
	}
}

// LookupKind finds a kind by its Kind, its plural or a calicoctl alias,
// ignoring case ("IPPool", "ippools", "pool" and "IPP" all work).
func LookupKind(name string) (KindInfo, bool) {
	n := strings.ToLower(name)
	for _, k := range Kinds() {
		if n == strings.ToLower(k.Kind) || n == k.Plural {
			return k, true
		}
		for _, a := range k.Aliases {
			if n == a {
				return k, true
			}
		}
	}
	return KindInfo{}, false
}

// NewResource returns a new, empty object of the named kind (any name
// LookupKind accepts) with its TypeMeta set.
func NewResource(kind string) (Resource, error) {
	k, ok := LookupKind(kind)
	if !ok {
		return nil, fmt.Errorf("unknown resource kind %q", kind)
	}
	return k.New(), nil
}

// KindOf returns the KindInfo of r's Go type (not of its TypeMeta, which may
// be unset). It returns the zero KindInfo for a type that is not a resource
// of this package.
func KindOf(r Resource) KindInfo {
	t := reflect.TypeOf(r)
	for _, k := range Kinds() {
		if reflect.TypeOf(k.New()) == t {
			return k
		}
	}
	return KindInfo{}
}
