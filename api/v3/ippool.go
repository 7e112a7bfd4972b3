package v3

// IPPool is a range of addresses from which Calico IPAM hands out blocks
// (cluster-scoped).
type IPPool struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       IPPoolSpec    `json:"spec"`
	Status     *IPPoolStatus `json:"status,omitempty"`
}

// IPPoolSpec is the desired state of an IPPool. Field order matches
// Calico's, so that the stored JSON is byte-identical.
type IPPoolSpec struct {
	// CIDR is the pool's range; strictly masked, immutable.
	CIDR string `json:"cidr"`
	// VXLANMode says when to encapsulate pool traffic in VXLAN (default Never).
	VXLANMode EncapMode `json:"vxlanMode,omitempty"`
	// IPIPMode says when to encapsulate pool traffic in IP-in-IP (default Never).
	IPIPMode EncapMode `json:"ipipMode,omitempty"`
	// NATOutgoing masquerades traffic from the pool to destinations outside all pools.
	NATOutgoing bool `json:"natOutgoing,omitempty"`
	// Disabled stops IPAM allocating from the pool; existing IPs stay.
	Disabled bool `json:"disabled,omitempty"`
	// DisableBGPExport stops the pool's routes being advertised over BGP.
	DisableBGPExport bool `json:"disableBGPExport,omitempty"`
	// BlockSize is the prefix length of the per-node blocks (default 26 / 122).
	BlockSize int `json:"blockSize,omitempty"`
	// NodeSelector picks the nodes that may get blocks (default all()).
	NodeSelector string `json:"nodeSelector,omitempty"`
	// NamespaceSelector picks the namespaces whose pods may use the pool.
	NamespaceSelector string `json:"namespaceSelector,omitempty"`
	// IPIP is the Calico v1 form of IPIPMode. Default converts it; it is
	// never stored.
	IPIP *IPIPConfiguration `json:"ipip,omitempty"`
	// NATOutgoingV1 is the Calico v1 form of NATOutgoing. Default converts
	// it; it is never stored.
	NATOutgoingV1 bool `json:"nat-outgoing,omitempty"`
	// AllowedUses says what the pool's addresses are for (default Workload, Tunnel).
	AllowedUses []IPPoolAllowedUse `json:"allowedUses,omitempty"`
	// AssignmentMode is Automatic (default) or Manual (only when asked for by name).
	AssignmentMode AssignmentMode `json:"assignmentMode,omitempty"`
}

// IPPoolStatus is written by the pool controller.
type IPPoolStatus struct {
	Conditions []Condition `json:"conditions,omitempty"`
}

// Condition is a Kubernetes-style status condition.
type Condition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	ObservedGeneration int64  `json:"observedGeneration,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime"`
	Reason             string `json:"reason"`
	Message            string `json:"message"`
}

// EncapMode is an IPIP or VXLAN mode of an IPPool.
type EncapMode string

// Encapsulation modes.
const (
	EncapNever       EncapMode = "Never"
	EncapAlways      EncapMode = "Always"
	EncapCrossSubnet EncapMode = "CrossSubnet"
)

// Enabled reports whether the mode encapsulates at least some traffic.
func (m EncapMode) Enabled() bool { return m == EncapAlways || m == EncapCrossSubnet }

// IPPoolAllowedUse is one use an IPPool's addresses may be put to.
type IPPoolAllowedUse string

// Allowed uses.
const (
	AllowedUseWorkload     IPPoolAllowedUse = "Workload"
	AllowedUseTunnel       IPPoolAllowedUse = "Tunnel"
	AllowedUseLoadBalancer IPPoolAllowedUse = "LoadBalancer"
)

// AssignmentMode says whether IPAM picks a pool on its own.
type AssignmentMode string

// Assignment modes.
const (
	AssignmentAutomatic AssignmentMode = "Automatic"
	AssignmentManual    AssignmentMode = "Manual"
)

// IPIPConfiguration is the Calico v1 IP-in-IP setting of a pool.
type IPIPConfiguration struct {
	Enabled bool `json:"enabled,omitempty"`
	// Mode is "always" (the default when enabled) or "cross-subnet".
	Mode string `json:"mode,omitempty"`
}

// HasAllowedUse reports whether the pool allows use u.
func (s *IPPoolSpec) HasAllowedUse(u IPPoolAllowedUse) bool {
	for _, x := range s.AllowedUses {
		if x == u {
			return true
		}
	}
	return false
}
