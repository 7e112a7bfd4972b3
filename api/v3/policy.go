package v3

// PolicyType says which direction of traffic a policy applies to.
type PolicyType string

// Policy types.
const (
	PolicyTypeIngress PolicyType = "Ingress"
	PolicyTypeEgress  PolicyType = "Egress"
)

// PolicyPerformanceHint is a hint to the policy engine; it never changes
// what a policy allows.
type PolicyPerformanceHint string

// PerfHintAssumeNeededOnEveryNode preloads a policy on every node.
const PerfHintAssumeNeededOnEveryNode PolicyPerformanceHint = "AssumeNeededOnEveryNode"

// DefaultTierName is the tier policies belong to when spec.tier is empty.
const DefaultTierName = "default"

// NetworkPolicy is a namespaced policy.
type NetworkPolicy struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       NetworkPolicySpec `json:"spec"`
}

// NetworkPolicySpec is the desired state of a NetworkPolicy.
type NetworkPolicySpec struct {
	// Tier is the tier the policy is in (default "default").
	Tier string `json:"tier,omitempty"`
	// Order within the tier, ascending; nil sorts last.
	Order   *float64 `json:"order,omitempty"`
	Ingress []Rule   `json:"ingress,omitempty"`
	Egress  []Rule   `json:"egress,omitempty"`
	// Selector picks the endpoints in the policy's namespace it applies to.
	Selector string `json:"selector,omitempty"`
	// Types is defaulted from the rules present (see Default).
	Types                  []PolicyType            `json:"types,omitempty"`
	ServiceAccountSelector string                  `json:"serviceAccountSelector,omitempty"`
	PerformanceHints       []PolicyPerformanceHint `json:"performanceHints,omitempty"`
}

// GlobalNetworkPolicy is a cluster-scoped policy; it may also apply to host
// endpoints.
type GlobalNetworkPolicy struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       GlobalNetworkPolicySpec `json:"spec"`
}

// GlobalNetworkPolicySpec is the desired state of a GlobalNetworkPolicy.
type GlobalNetworkPolicySpec struct {
	Tier     string       `json:"tier,omitempty"`
	Order    *float64     `json:"order,omitempty"`
	Ingress  []Rule       `json:"ingress,omitempty"`
	Egress   []Rule       `json:"egress,omitempty"`
	Selector string       `json:"selector,omitempty"`
	Types    []PolicyType `json:"types,omitempty"`
	// DoNotTrack applies the rules before connection tracking (raw table).
	DoNotTrack bool `json:"doNotTrack,omitempty"`
	// PreDNAT applies the rules before DNAT (ingress only).
	PreDNAT bool `json:"preDNAT,omitempty"`
	// ApplyOnForward applies the rules to forwarded traffic too.
	ApplyOnForward         bool                    `json:"applyOnForward,omitempty"`
	ServiceAccountSelector string                  `json:"serviceAccountSelector,omitempty"`
	NamespaceSelector      string                  `json:"namespaceSelector,omitempty"`
	PerformanceHints       []PolicyPerformanceHint `json:"performanceHints,omitempty"`
}

// Tier is an ordered group of policies (cluster-scoped). Calico always
// stores its status, so an empty status is written as "status":{}.
type Tier struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       TierSpec   `json:"spec"`
	Status     TierStatus `json:"status"`
}

// TierSpec is the desired state of a Tier.
type TierSpec struct {
	// Order of the tier, ascending; nil sorts last.
	Order *float64 `json:"order,omitempty"`
	// DefaultAction applies when a policy of the tier selected the endpoint
	// but no rule matched: Deny (default) or Pass.
	DefaultAction *Action `json:"defaultAction,omitempty"`
}

// TierStatus is written by the tier controller.
type TierStatus struct {
	Conditions []Condition `json:"conditions,omitempty"`
}

// Fixed tiers that Calico creates, with their order and default action.
const (
	KubeAdminTierName    = "kube-admin"
	KubeBaselineTierName = "kube-baseline"

	DefaultTierOrder      = 1_000_000
	KubeAdminTierOrder    = 1_000
	KubeBaselineTierOrder = 10_000_000
)

// Profile is a set of rules and labels that endpoints inherit by naming it
// (cluster-scoped).
type Profile struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       ProfileSpec `json:"spec"`
}

// ProfileSpec is the desired state of a Profile.
type ProfileSpec struct {
	Ingress []Rule `json:"ingress,omitempty"`
	Egress  []Rule `json:"egress,omitempty"`
	// LabelsToApply are added to every endpoint using the profile; the
	// endpoint's own labels win.
	LabelsToApply map[string]string `json:"labelsToApply,omitempty"`
}
