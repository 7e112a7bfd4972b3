package kdd

import (
	"encoding/json"
	"fmt"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// The annotations that hold a Calico Node on its Kubernetes Node
// (calico-reference.md §2.2).
const (
	annIPv4           = "projectcalico.org/IPv4Address"
	annIPv6           = "projectcalico.org/IPv6Address"
	annASN            = "projectcalico.org/ASNumber"
	annIPIP           = "projectcalico.org/IPv4IPIPTunnelAddr"
	annVXLAN4         = "projectcalico.org/IPv4VXLANTunnelAddr"
	annVXLANMAC       = "projectcalico.org/VXLANTunnelMACAddr"
	annVXLAN6         = "projectcalico.org/IPv6VXLANTunnelAddr"
	annVXLANMAC6      = "projectcalico.org/VXLANTunnelMACAddrV6"
	annWG4            = "projectcalico.org/IPv4WireguardInterfaceAddr"
	annWG6            = "projectcalico.org/IPv6WireguardInterfaceAddr"
	annWGKey          = "projectcalico.org/WireguardPublicKey"
	annWGKey6         = "projectcalico.org/WireguardPublicKeyV6"
	annInterfaces     = "projectcalico.org/Interfaces"
	annRRClusterID    = "projectcalico.org/RouteReflectorClusterID"
	k8sNodeOrchestrat = "k8s"
)

var nodes = resource{version: "v1", plural: "nodes", kind: "Node"}

// k8sNode is the part of a Kubernetes Node tortie reads.
type k8sNode struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		PodCIDRs []string `json:"podCIDRs"`
	} `json:"spec"`
	Status struct {
		Addresses []struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		} `json:"addresses"`
	} `json:"status"`
}

// nodeMapping: the Calico Node <name> is the Kubernetes Node <name> with
// Calico's annotations. Nodes are registered by the kubelet: a Create
// finds the node there (ErrAlreadyExists), an Update patches the
// annotations, a Delete removes them.
func nodeMapping() *mapping {
	m := &mapping{prefix: datastore.ResourceListPrefix("nodes", ""), res: nodes, style: stylePatch}
	m.objName = func(key string) (string, string, bool) { return datastore.SplitResourceKey("nodes", key, false) }
	m.toKV = func(_ *object, raw []byte) (string, []byte, bool, error) {
		var n k8sNode
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", nil, false, err
		}
		b, err := json.Marshal(calicoNode(&n))
		return datastore.ResourceKey("nodes", "", n.Metadata.Name), b, err == nil, err
	}
	m.patch = func(key string, value []byte, _ *object) (map[string]any, error) {
		var n v3.Node
		if err := json.Unmarshal(value, &n); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		return map[string]any{"metadata": map[string]any{"annotations": nodeAnnotations(&n)}}, nil
	}
	m.clear = func(string, *object) map[string]any {
		return map[string]any{"metadata": map[string]any{"annotations": nodeAnnotations(&v3.Node{})}}
	}
	return m
}

// calicoNode is the v3 Node a Kubernetes Node stands for.
func calicoNode(n *k8sNode) *v3.Node {
	a := n.Metadata.Annotations
	c := &v3.Node{TypeMeta: v3.TypeMeta{Kind: "Node", APIVersion: v3.APIVersion}}
	c.ObjectMeta = v3.ObjectMeta{Name: n.Metadata.Name, UID: n.Metadata.UID,
		CreationTimestamp: n.Metadata.CreationTimestamp, Labels: n.Metadata.Labels}
	s := &c.Spec
	bgp := v3.NodeBGPSpec{IPv4Address: a[annIPv4], IPv6Address: a[annIPv6], IPv4IPIPTunnelAddr: a[annIPIP],
		RouteReflectorClusterID: a[annRRClusterID]}
	if asn, err := v3.ASNumberFromString(a[annASN]); err == nil && a[annASN] != "" {
		bgp.ASNumber = &asn
	}
	if bgp != (v3.NodeBGPSpec{}) {
		s.BGP = &bgp
	}
	s.IPv4VXLANTunnelAddr, s.VXLANTunnelMACAddr = a[annVXLAN4], a[annVXLANMAC]
	s.IPv6VXLANTunnelAddr, s.VXLANTunnelMACAddrV6 = a[annVXLAN6], a[annVXLANMAC6]
	if a[annWG4] != "" || a[annWG6] != "" {
		s.Wireguard = &v3.NodeWireguardSpec{InterfaceIPv4Address: a[annWG4], InterfaceIPv6Address: a[annWG6]}
	}
	s.OrchRefs = []v3.OrchRef{{NodeName: n.Metadata.Name, Orchestrator: k8sNodeOrchestrat}}
	for _, ip := range []string{a[annIPv4], a[annIPv6]} {
		if ip != "" {
			s.Addresses = append(s.Addresses, v3.NodeAddress{Address: ip, Type: v3.NodeAddressCalicoNodeIP})
		}
	}
	for _, ad := range n.Status.Addresses {
		if ad.Type == v3.NodeAddressInternalIP || ad.Type == v3.NodeAddressExternalIP {
			s.Addresses = append(s.Addresses, v3.NodeAddress{Address: ad.Address, Type: ad.Type})
		}
	}
	if j := a[annInterfaces]; j != "" {
		_ = json.Unmarshal([]byte(j), &s.Interfaces)
	}
	c.Status = v3.NodeStatus{WireguardPublicKey: a[annWGKey], WireguardPublicKeyV6: a[annWGKey6], PodCIDRs: n.Spec.PodCIDRs}
	return c
}

// nodeAnnotations is the annotations patch that stores n: every Calico
// annotation, null (removed) where n has no value.
func nodeAnnotations(n *v3.Node) map[string]any {
	s := &n.Spec
	bgp := v3.NodeBGPSpec{}
	if s.BGP != nil {
		bgp = *s.BGP
	}
	wg := v3.NodeWireguardSpec{}
	if s.Wireguard != nil {
		wg = *s.Wireguard
	}
	asn := ""
	if bgp.ASNumber != nil {
		asn = bgp.ASNumber.String()
	}
	ifaces := ""
	if len(s.Interfaces) > 0 {
		b, _ := json.Marshal(s.Interfaces)
		ifaces = string(b)
	}
	vals := map[string]string{
		annIPv4: bgp.IPv4Address, annIPv6: bgp.IPv6Address, annASN: asn, annIPIP: bgp.IPv4IPIPTunnelAddr,
		annRRClusterID: bgp.RouteReflectorClusterID, annVXLAN4: s.IPv4VXLANTunnelAddr, annVXLANMAC: s.VXLANTunnelMACAddr,
		annVXLAN6: s.IPv6VXLANTunnelAddr, annVXLANMAC6: s.VXLANTunnelMACAddrV6, annWG4: wg.InterfaceIPv4Address,
		annWG6: wg.InterfaceIPv6Address, annWGKey: n.Status.WireguardPublicKey, annWGKey6: n.Status.WireguardPublicKeyV6,
		annInterfaces: ifaces,
	}
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		if v == "" {
			out[k] = nil
		} else {
			out[k] = v
		}
	}
	return out
}
