package kdd

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// Kubernetes NetworkPolicies are read natively and stand for the Calico
// NetworkPolicy they map to (calico-reference.md §3.4), under a plural of
// their own that calicoctl does not list (v3.32 made them an internal kind
// only Felix reads): /calico/resources/v3/projectcalico.org/
// kubernetesnetworkpolicies/<ns>/knp.default.<name>. They are read-only.
const (
	KNPPlural     = "kubernetesnetworkpolicies"
	KNPNamePrefix = "knp.default."
	knpOrder      = 1000.0
)

var k8sNetworkPolicies = resource{group: "networking.k8s.io", version: "v1", plural: "networkpolicies", kind: "NetworkPolicy", namespaced: true}

type labelSelector struct {
	MatchLabels      map[string]string `json:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values"`
	} `json:"matchExpressions"`
}

type npPort struct {
	Protocol string `json:"protocol"`
	Port     any    `json:"port"` // int or a named port
	EndPort  int    `json:"endPort"`
}

type npPeer struct {
	PodSelector       *labelSelector `json:"podSelector"`
	NamespaceSelector *labelSelector `json:"namespaceSelector"`
	IPBlock           *struct {
		CIDR   string   `json:"cidr"`
		Except []string `json:"except"`
	} `json:"ipBlock"`
}

type npRule struct {
	Ports []npPort `json:"ports"`
	From  []npPeer `json:"from"`
	To    []npPeer `json:"to"`
}

type k8sNetworkPolicy struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		PodSelector labelSelector `json:"podSelector"`
		Ingress     []npRule      `json:"ingress"`
		Egress      []npRule      `json:"egress"`
		PolicyTypes []string      `json:"policyTypes"`
	} `json:"spec"`
}

func knpMapping() *mapping {
	m := &mapping{prefix: datastore.ResourceListPrefix(KNPPlural, ""), res: k8sNetworkPolicies, style: styleReadOnly}
	m.objName = func(key string) (string, string, bool) {
		ns, name, ok := datastore.SplitResourceKey(KNPPlural, key, true)
		n, ok2 := strings.CutPrefix(name, KNPNamePrefix)
		return ns, n, ok && ok2 && n != ""
	}
	m.toKV = func(_ *object, raw []byte) (string, []byte, bool, error) {
		var np k8sNetworkPolicy
		if err := json.Unmarshal(raw, &np); err != nil {
			return "", nil, false, err
		}
		p := calicoPolicy(&np)
		b, err := json.Marshal(p)
		return datastore.ResourceKey(KNPPlural, p.Namespace, p.Name), b, err == nil, err
	}
	return m
}

// calicoPolicy is the Calico NetworkPolicy a Kubernetes NetworkPolicy
// maps to: tier default, order 1000, the pod selector, one Allow rule per
// peer and protocol.
func calicoPolicy(np *k8sNetworkPolicy) *v3.NetworkPolicy {
	p := &v3.NetworkPolicy{TypeMeta: v3.TypeMeta{Kind: "NetworkPolicy", APIVersion: v3.APIVersion}}
	p.ObjectMeta = v3.ObjectMeta{Name: KNPNamePrefix + np.Metadata.Name, Namespace: np.Metadata.Namespace,
		UID: np.Metadata.UID, CreationTimestamp: np.Metadata.CreationTimestamp}
	order := knpOrder
	p.Spec.Tier, p.Spec.Order = "default", &order
	p.Spec.Selector = podSelector(&np.Spec.PodSelector)
	for _, r := range np.Spec.Ingress {
		p.Spec.Ingress = append(p.Spec.Ingress, rules(r.From, r.Ports, true)...)
	}
	for _, r := range np.Spec.Egress {
		p.Spec.Egress = append(p.Spec.Egress, rules(r.To, r.Ports, false)...)
	}
	types := np.Spec.PolicyTypes
	if len(types) == 0 {
		types = []string{"Ingress"}
		if len(np.Spec.Egress) > 0 {
			types = append(types, "Egress")
		}
	}
	for _, t := range types {
		p.Spec.Types = append(p.Spec.Types, v3.PolicyType(t))
	}
	return p
}

// rules are the Allow rules of one Kubernetes rule: one per peer (or one
// matching every peer when there is none) and per protocol of its ports.
func rules(peers []npPeer, ports []npPort, ingress bool) []v3.Rule {
	if len(peers) == 0 {
		peers = []npPeer{{}}
	}
	var out []v3.Rule
	for _, peer := range peers {
		e := peerEntity(peer)
		for _, pp := range protocolPorts(ports) {
			r := v3.Rule{Action: "Allow", Protocol: pp.proto}
			dst := v3.EntityRule{Ports: pp.ports}
			if ingress {
				r.Source, r.Destination = e, dst
			} else {
				e.Ports = pp.ports
				r.Destination = e
			}
			out = append(out, r)
		}
	}
	return out
}

func peerEntity(p npPeer) v3.EntityRule {
	var e v3.EntityRule
	if p.IPBlock != nil {
		e.Nets, e.NotNets = []string{p.IPBlock.CIDR}, p.IPBlock.Except
	}
	if p.PodSelector != nil {
		e.Selector = podSelector(p.PodSelector)
	}
	if p.NamespaceSelector != nil {
		e.NamespaceSelector = selector(p.NamespaceSelector)
		if e.Selector == "" {
			e.Selector = podSelector(&labelSelector{})
		}
	}
	return e
}

type protoPorts struct {
	proto *v3.Protocol
	ports []v3.Port
}

// protocolPorts groups ports by protocol (TCP when unset), in first-seen
// order; no ports means one group matching every protocol.
func protocolPorts(ports []npPort) []protoPorts {
	if len(ports) == 0 {
		return []protoPorts{{}}
	}
	var out []protoPorts
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		i := slices.IndexFunc(out, func(g protoPorts) bool { return g.proto.String() == proto })
		if i < 0 {
			pr := v3.ProtocolFromString(proto)
			out = append(out, protoPorts{proto: &pr})
			i = len(out) - 1
		}
		if port, ok := npPortOf(p); ok {
			out[i].ports = append(out[i].ports, port)
		}
	}
	return out
}

func npPortOf(p npPort) (v3.Port, bool) {
	switch v := p.Port.(type) {
	case float64:
		if p.EndPort > int(v) {
			return v3.PortRange(uint16(v), uint16(p.EndPort)), true
		}
		return v3.SinglePort(uint16(v)), true
	case string:
		if port, err := v3.PortFromString(v); err == nil {
			return port, true
		}
		return v3.NamedPort(v), true
	}
	return v3.Port{}, false
}

// podSelector is a pod selector as Calico writes it for Kubernetes
// policies: the pod's labels, and only Kubernetes pods.
func podSelector(s *labelSelector) string {
	sel := "projectcalico.org/orchestrator == 'k8s'"
	if rest := selector(s); rest != "all()" {
		sel += " && " + rest
	}
	return sel
}

// selector converts a Kubernetes label selector ("all()" when empty).
func selector(s *labelSelector) string {
	var parts []string
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s == '%s'", k, s.MatchLabels[k]))
	}
	for _, e := range s.MatchExpressions {
		vals := make([]string, len(e.Values))
		for i, v := range e.Values {
			vals[i] = "'" + v + "'"
		}
		switch e.Operator {
		case "In":
			parts = append(parts, fmt.Sprintf("%s in { %s }", e.Key, strings.Join(vals, ", ")))
		case "NotIn":
			parts = append(parts, fmt.Sprintf("%s not in { %s }", e.Key, strings.Join(vals, ", ")))
		case "Exists":
			parts = append(parts, fmt.Sprintf("has(%s)", e.Key))
		case "DoesNotExist":
			parts = append(parts, fmt.Sprintf("! has(%s)", e.Key))
		}
	}
	if len(parts) == 0 {
		return "all()"
	}
	return strings.Join(parts, " && ")
}

// StagedPolicy is the Calico NetworkPolicy a StagedKubernetesNetworkPolicy
// stands for: the policy its Kubernetes NetworkPolicy would map to once
// committed, under the same name (knp.default.<name>). Staged policies are
// previewed, never enforced.
func StagedPolicy(s *v3.StagedKubernetesNetworkPolicy) (*v3.NetworkPolicy, error) {
	var np k8sNetworkPolicy
	spec, err := json.Marshal(s.Spec)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(spec, &np.Spec); err != nil {
		return nil, fmt.Errorf("staged Kubernetes policy %s/%s: %w", s.Namespace, s.Name, err)
	}
	np.Metadata = meta{Name: s.Name, Namespace: s.Namespace}
	return calicoPolicy(&np), nil
}

// ListKubernetesNetworkPolicies returns the Calico NetworkPolicies the
// Kubernetes NetworkPolicies in store stand for (none on etcd), for what
// evaluates policy as tortie-node does (tortiectl policy explain, the
// lab's expectations): calicoctl's kinds do not include them.
func ListKubernetesNetworkPolicies(ctx context.Context, store datastore.Store) ([]v3.Resource, error) {
	kvs, _, err := store.List(ctx, datastore.ResourceListPrefix(KNPPlural, ""))
	if err != nil {
		return nil, err
	}
	out := make([]v3.Resource, 0, len(kvs))
	for _, kv := range kvs {
		np := &v3.NetworkPolicy{}
		if err := json.Unmarshal(kv.Value, np); err != nil {
			return nil, fmt.Errorf("%s: %w", kv.Key, err)
		}
		out = append(out, np)
	}
	return out, nil
}
