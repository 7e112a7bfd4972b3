package v3

// Action is what a Rule does with a packet it matches.
type Action string

// Rule actions.
const (
	Allow Action = "Allow"
	Deny  Action = "Deny"
	Log   Action = "Log"
	Pass  Action = "Pass"
)

// Rule matches packets and applies an action. Every positive match has a
// negated "not" form; all the matches in a rule must hold. Source and
// Destination are always written, as "{}" when empty, as Calico does.
type Rule struct {
	Action Action `json:"action"`
	// IPVersion restricts the rule to 4 or 6.
	IPVersion   *int        `json:"ipVersion,omitempty"`
	Protocol    *Protocol   `json:"protocol,omitempty"`
	ICMP        *ICMPFields `json:"icmp,omitempty"`
	NotProtocol *Protocol   `json:"notProtocol,omitempty"`
	NotICMP     *ICMPFields `json:"notICMP,omitempty"`
	Source      EntityRule  `json:"source"`
	Destination EntityRule  `json:"destination"`
	// HTTP matches HTTP requests (Allow rules with protocol TCP only).
	HTTP     *HTTPMatch    `json:"http,omitempty"`
	Metadata *RuleMetadata `json:"metadata,omitempty"`
}

// ICMPFields matches an ICMP type (0-254) and, with a type, a code (0-255).
type ICMPFields struct {
	Type *int `json:"type,omitempty"`
	Code *int `json:"code,omitempty"`
}

// EntityRule matches the source or the destination of a packet.
type EntityRule struct {
	// Nets are CIDRs (or single IPs) the address must be in.
	Nets []string `json:"nets,omitempty"`
	// Selector picks endpoints and network sets by label.
	Selector string `json:"selector,omitempty"`
	// NamespaceSelector picks namespaces; global() picks non-namespaced things.
	NamespaceSelector string `json:"namespaceSelector,omitempty"`
	// Services matches the endpoints of a Kubernetes Service.
	Services *ServiceMatch `json:"services,omitempty"`
	// Ports need the rule's protocol to be TCP, UDP or SCTP.
	Ports           []Port               `json:"ports,omitempty"`
	NotNets         []string             `json:"notNets,omitempty"`
	NotSelector     string               `json:"notSelector,omitempty"`
	NotPorts        []Port               `json:"notPorts,omitempty"`
	ServiceAccounts *ServiceAccountMatch `json:"serviceAccounts,omitempty"`
}

// ServiceMatch names a Kubernetes Service.
type ServiceMatch struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// ServiceAccountMatch matches pods by service account name and/or labels.
type ServiceAccountMatch struct {
	Names    []string `json:"names,omitempty"`
	Selector string   `json:"selector,omitempty"`
}

// HTTPMatch matches HTTP methods and paths (ORed within each list, ANDed
// between them).
type HTTPMatch struct {
	Methods []string   `json:"methods,omitempty"`
	Paths   []HTTPPath `json:"paths,omitempty"`
}

// HTTPPath matches a path exactly or by prefix; exactly one is set.
type HTTPPath struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
}

// RuleMetadata carries annotations on a rule.
type RuleMetadata struct {
	Annotations map[string]string `json:"annotations,omitempty"`
}
