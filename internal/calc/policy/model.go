package policy

import (
	"net/netip"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/selector"
)

// Labels Calico puts on endpoints and network sets.
const (
	LabelNamespace      = "projectcalico.org/namespace"
	LabelOrchestrator   = "projectcalico.org/orchestrator"
	LabelServiceAccount = "projectcalico.org/serviceaccount"
	// NamespaceLabelPrefix and ServiceAccountLabelPrefix start the labels a
	// namespace's and a service account's profiles apply to endpoints.
	NamespaceLabelPrefix      = "pcns."
	ServiceAccountLabelPrefix = "pcsa."
)

// EntityKind says what an Entity is.
type EntityKind int

// Entity kinds.
const (
	WorkloadEndpoint EntityKind = iota
	HostEndpoint
	NetworkSet // a NetworkSet (namespaced) or GlobalNetworkSet
)

// Entity is anything a selector may match: an endpoint (which policies
// also apply to) or a network set (which only rule selectors match).
// What selectors and policies read of it beside its key, addresses and
// place (EntityAttrs) entities alike share: the replicas of a workload
// (WorkloadInfo.Shared) cost an Entity of 80 bytes each and one
// EntityAttrs, which is read-only once built.
type Entity struct {
	// Key names it: "<namespace>/<name>" for namespaced things, "<name>"
	// otherwise; unique within its kind.
	Key string
	// Nets are the entity's addresses: an endpoint's /32s and /128s, a
	// host endpoint's expected IPs, a set's nets.
	Nets []netip.Prefix
	// Node and Interface place an endpoint.
	Node, Interface string
	*EntityAttrs
}

// EntityAttrs are the attributes of an Entity that entities alike share.
type EntityAttrs struct {
	Kind      EntityKind
	Namespace string // "" for host endpoints and global network sets
	// Labels are the effective labels (see Build).
	Labels map[string]string
	// Ports are the endpoint's named ports.
	Ports []NamedPort
	// Profiles are the endpoint's profiles, in order.
	Profiles []string
	// ServiceAccount is a workload's service account name, and Pod its pod.
	ServiceAccount, Pod string
	sig                 string // see withSig
}

// NamedPort is a port an endpoint names.
type NamedPort struct {
	Name     string
	Protocol uint8
	Port     uint16
}

// Input is what Build reads: the datastore's policy resources and the
// endpoints and sets selectors may match.
type Input struct {
	Tiers                 []*v3.Tier
	NetworkPolicies       []*v3.NetworkPolicy
	GlobalNetworkPolicies []*v3.GlobalNetworkPolicy
	Profiles              []*v3.Profile
	NetworkSets           []*v3.NetworkSet
	GlobalNetworkSets     []*v3.GlobalNetworkSet
	WorkloadEndpoints     []*v3.WorkloadEndpoint
	// Workloads are more workload endpoints, in a compact form (the node
	// agent keeps other nodes' so).
	Workloads     []Workload
	HostEndpoints []*v3.HostEndpoint
	// Staged policies are compiled for Preview, never enforced.
	StagedNetworkPolicies       []*v3.StagedNetworkPolicy
	StagedGlobalNetworkPolicies []*v3.StagedGlobalNetworkPolicy
}

// Workload is a workload endpoint kept in a compact form: policy reads
// it through WorkloadInfo. The Build cache knows a workload by its
// identity: a changed workload must be a new value.
type Workload interface {
	WorkloadInfo() WorkloadInfo
}

// WorkloadInfo is what policy reads of a Workload; its map and slices are
// read-only.
type WorkloadInfo struct {
	// Key is "<namespace>/<name>" (made from them when empty).
	Key                               string
	Namespace, Name, Node, Interface  string
	Orchestrator, ServiceAccount, Pod string
	Labels                            map[string]string
	Nets                              []netip.Prefix
	Profiles                          []string
	Ports                             []v3.WorkloadEndpointPort
	// Shared, when not nil, is the same only for workloads whose labels,
	// namespace, orchestrator, service account, pod and profiles are the
	// same: Build works their effective labels out once.
	Shared any
}

// Tier is a compiled tier.
type Tier struct {
	Name          string
	Order         *float64
	DefaultAction v3.Action // Deny or Pass
}

// Policy is a compiled NetworkPolicy or GlobalNetworkPolicy.
type Policy struct {
	// Name is "<namespace>/<name>" for a NetworkPolicy, "<name>" for a
	// GlobalNetworkPolicy.
	Name      string
	Namespace string // "" for a GlobalNetworkPolicy
	Tier      string
	Order     *float64
	// Ingress and Egress say which types the policy has (inferred when
	// the resource does not say).
	Ingress, Egress bool
	InRules         []Rule
	OutRules        []Rule
	// applies is the policy's selector with its namespace, namespace
	// selector and service-account selector folded in.
	applies *EntitySelector
	// Host-endpoint options of a GlobalNetworkPolicy.
	DoNotTrack, PreDNAT, ApplyOnForward bool
	digests                             [2]string // of InRules and OutRules
}

// Profile is a compiled Profile.
type Profile struct {
	Name     string
	InRules  []Rule
	OutRules []Rule
	Labels   map[string]string // labelsToApply
	digests  [2]string         // of InRules and OutRules
}

// Rule is a compiled rule: every match set must hold.
type Rule struct {
	Action v3.Action
	// IPVersion is 4 or 6, or 0 for both.
	IPVersion int
	// Protocol and NotProtocol are IP protocol numbers (0: not set).
	Protocol, NotProtocol uint8
	// ICMP and NotICMP match an ICMP type and code (nil: not set).
	ICMP, NotICMP *ICMPMatch
	Src, Dst      Side
}

// ICMPMatch is an ICMP type and, optionally, code.
type ICMPMatch struct {
	Type int
	Code int // -1: any code
}

// Side is a rule's source or destination match.
type Side struct {
	Nets, NotNets []netip.Prefix
	// Sel and NotSel match the entities the address belongs to (nil: no
	// such match). Rules with a namespace or service-account condition
	// have it folded into Sel.
	Sel, NotSel     *EntitySelector
	Ports, NotPorts []PortMatch
}

// PortMatch is a port range, or a named port (Name set).
type PortMatch struct {
	Min, Max uint16
	Name     string
}

// EntitySelector matches entities: a label selector, restricted by
// namespace (one namespace, a namespace selector over the namespace's
// labels, or global() for things outside namespaces) and by service
// account. Key is its canonical text, the same for selectors that match
// the same entities, and names its address set in the dataplane.
type EntitySelector struct {
	Key string
	// Labels must match (nil: all()).
	Labels *selector.Selector
	// Namespace, when set, is the only namespace matched.
	Namespace string
	// NamespaceSel, when set, must match the entity's namespace labels
	// (pcns.*); Global instead matches only entities outside namespaces.
	NamespaceSel *selector.Selector
	Global       bool
	// ServiceAccounts restricts to workloads with one of these service
	// account names (nil: any) and whose service account labels (pcsa.*)
	// match ServiceAccountSel (nil: any).
	ServiceAccounts   []string
	ServiceAccountSel *selector.Selector
}
