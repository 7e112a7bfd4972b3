package node

import (
	"encoding/json"
	"net/netip"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// watchedKind indexes the kinds the agent's view decodes.
type watchedKind int

const (
	kindNodes watchedKind = iota
	kindPools
	kindEndpoints
	kindFelix
	kindBlocks
	kindTiers
	kindNetworkPolicies
	kindGlobalNetworkPolicies
	kindProfiles
	kindNetworkSets
	kindGlobalNetworkSets
	kindHostEndpoints
	// Kubernetes NetworkPolicies as the Calico policies they map to (the
	// Kubernetes datastore's kubernetesnetworkpolicies; see package kdd).
	kindKubernetesNetworkPolicies
	kindBGPPeers
	kindBGPConfigs
	kindBGPFilters
	numKinds
)

// kindSpec says where a kind's keys live and how a value decodes.
type kindSpec struct {
	prefix string
	decode func(value []byte) (any, bool)
}

// kinds is what the agent watches: a new kind is one constant above and
// one line here (and its use in view.input).
var kinds = [numKinds]kindSpec{
	kindNodes:     resource[v3.Node]("nodes"),
	kindPools:     resource[v3.IPPool]("ippools"),
	kindEndpoints: resource[v3.WorkloadEndpoint]("workloadendpoints"), // decoded by view.putEndpoint
	kindFelix:     resource[v3.FelixConfiguration]("felixconfigurations"),
	kindBlocks:    {prefix: blocksPrefix, decode: decodeBlock}, // IPv4 and IPv6

	kindTiers:                 resource[v3.Tier]("tiers"),
	kindNetworkPolicies:       resource[v3.NetworkPolicy]("networkpolicies"),
	kindGlobalNetworkPolicies: resource[v3.GlobalNetworkPolicy]("globalnetworkpolicies"),
	kindProfiles:              resource[v3.Profile]("profiles"),
	kindNetworkSets:           resource[v3.NetworkSet]("networksets"),
	kindGlobalNetworkSets:     resource[v3.GlobalNetworkSet]("globalnetworksets"),
	kindHostEndpoints:         resource[v3.HostEndpoint]("hostendpoints"),

	kindKubernetesNetworkPolicies: resource[v3.NetworkPolicy]("kubernetesnetworkpolicies"),
	kindBGPPeers:                  resource[v3.BGPPeer]("bgppeers"),
	kindBGPConfigs:                resource[v3.BGPConfiguration]("bgpconfigurations"),
	kindBGPFilters:                resource[v3.BGPFilter]("bgpfilters"),
}

// blocksPrefix holds both families' blocks (.../assignment/ipv4/block/ and
// .../assignment/ipv6/block/).
var blocksPrefix = strings.TrimSuffix(ipam.BlockPrefix("ipv4"), "ipv4/block/")

// kindOf finds the kind of a key; ok is false for keys the agent ignores.
func kindOf(key string) (watchedKind, bool) {
	for k, spec := range kinds {
		if strings.HasPrefix(key, spec.prefix) {
			return watchedKind(k), true
		}
	}
	return 0, false
}

// resource is a v3 kind stored as its JSON under /calico/resources/v3/...,
// decoded whole into a *T.
func resource[T any](plural string) kindSpec {
	return kindSpec{
		prefix: datastore.ResourceListPrefix(plural, ""),
		decode: func(value []byte) (any, bool) {
			obj := new(T)
			return obj, json.Unmarshal(value, obj) == nil
		},
	}
}

// decodeBlock keeps what routing needs of an IPAM block: its CIDR and the
// host it is affine to. The scanner picks the two fields out of the
// block (whose allocations and attributes are most of it); what it
// cannot take is left to encoding/json.
func decodeBlock(value []byte) (any, bool) {
	var b struct {
		CIDR     string  `json:"cidr"`
		Affinity *string `json:"affinity"`
	}
	if !scanBlock(value, &b.CIDR, &b.Affinity) && json.Unmarshal(value, &b) != nil {
		return nil, false
	}
	p, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, false
	}
	host := ""
	if b.Affinity != nil {
		host, _ = strings.CutPrefix(*b.Affinity, "host:")
	}
	return calc.Block{CIDR: p.Masked(), Host: host}, true
}

// scanBlock reads a block's cidr and affinity with the scanner.
func scanBlock(value []byte, cidr *string, affinity **string) bool {
	s := scanner{b: value}
	var c, a jsonString
	hasAff := false
	s.object(func(key []byte) {
		switch string(key) {
		case "cidr":
			c = s.jstring()
		case "affinity":
			hasAff = !s.null()
			if hasAff {
				a = s.jstring()
			}
		default:
			s.skipOther(key, "cidr", "affinity")
		}
	})
	s.end()
	if s.fail || c.esc || a.esc {
		return false
	}
	*cidr = string(c.raw)
	if hasAff {
		aff := string(a.raw)
		*affinity = &aff
	}
	return true
}
