package v3

import (
	"fmt"
	"sort"
	"strings"
)

// StagedAction says what a staged policy would do to its enforced
// counterpart once committed: Set it (the default), Delete it, or, for
// policy recommendation, Learn or Ignore.
type StagedAction string

// Staged actions.
const (
	StagedActionSet    StagedAction = "Set"
	StagedActionDelete StagedAction = "Delete"
	StagedActionLearn  StagedAction = "Learn"
	StagedActionIgnore StagedAction = "Ignore"
)

// StagedNetworkPolicy is a NetworkPolicy that is previewed, not enforced
// (namespaced).
type StagedNetworkPolicy struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       StagedNetworkPolicySpec `json:"spec"`
}

// StagedNetworkPolicySpec is a NetworkPolicySpec with its staged action
// first, as Calico's JSON has it.
type StagedNetworkPolicySpec struct {
	StagedAction StagedAction `json:"stagedAction,omitempty"`
	NetworkPolicySpec
}

// StagedGlobalNetworkPolicy is a GlobalNetworkPolicy that is previewed,
// not enforced (cluster-scoped).
type StagedGlobalNetworkPolicy struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       StagedGlobalNetworkPolicySpec `json:"spec"`
}

// StagedGlobalNetworkPolicySpec is a GlobalNetworkPolicySpec with its
// staged action first.
type StagedGlobalNetworkPolicySpec struct {
	StagedAction StagedAction `json:"stagedAction,omitempty"`
	GlobalNetworkPolicySpec
}

// StagedKubernetesNetworkPolicy is a Kubernetes NetworkPolicy that is
// previewed, not enforced (namespaced). Its spec is Kubernetes', not
// Calico's.
type StagedKubernetesNetworkPolicy struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       StagedKubernetesNetworkPolicySpec `json:"spec"`
}

// StagedKubernetesNetworkPolicySpec is networking.k8s.io/v1
// NetworkPolicySpec with a staged action.
type StagedKubernetesNetworkPolicySpec struct {
	StagedAction StagedAction           `json:"stagedAction,omitempty"`
	PodSelector  LabelSelector          `json:"podSelector"`
	Ingress      []K8sNetworkPolicyRule `json:"ingress,omitempty"`
	Egress       []K8sNetworkPolicyRule `json:"egress,omitempty"`
	PolicyTypes  []PolicyType           `json:"policyTypes,omitempty"`
}

// K8sNetworkPolicyRule is an ingress (from) or egress (to) rule of a
// Kubernetes NetworkPolicy.
type K8sNetworkPolicyRule struct {
	Ports []K8sNetworkPolicyPort `json:"ports,omitempty"`
	From  []K8sNetworkPolicyPeer `json:"from,omitempty"`
	To    []K8sNetworkPolicyPeer `json:"to,omitempty"`
}

// K8sNetworkPolicyPort is a port (number or name) and protocol.
type K8sNetworkPolicyPort struct {
	Protocol *string `json:"protocol,omitempty"`
	Port     *Port   `json:"port,omitempty"`
	EndPort  *int32  `json:"endPort,omitempty"`
}

// K8sNetworkPolicyPeer is one peer: pods, namespaces or an IP block.
type K8sNetworkPolicyPeer struct {
	PodSelector       *LabelSelector `json:"podSelector,omitempty"`
	NamespaceSelector *LabelSelector `json:"namespaceSelector,omitempty"`
	IPBlock           *K8sIPBlock    `json:"ipBlock,omitempty"`
}

// K8sIPBlock is a CIDR with exceptions.
type K8sIPBlock struct {
	CIDR   string   `json:"cidr"`
	Except []string `json:"except,omitempty"`
}

// LabelSelector is Kubernetes' label selector.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one expression of a LabelSelector.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// GoString renders the selector as Kubernetes' generated String method
// does, which is what calicoctl's PODSELECTOR column shows.
func (s LabelSelector) GoString() string {
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("&LabelSelector{MatchLabels:map[string]string{")
	for _, k := range keys {
		fmt.Fprintf(&b, "%v: %v,", k, s.MatchLabels[k])
	}
	b.WriteString("},MatchExpressions:[]LabelSelectorRequirement{")
	for _, r := range s.MatchExpressions {
		fmt.Fprintf(&b, "LabelSelectorRequirement{Key:%v,Operator:%v,Values:%v,},", r.Key, r.Operator, r.Values)
	}
	b.WriteString("},}")
	return b.String()
}
