package v3

// NetworkSet is a namespaced, labelled set of networks that rule selectors
// can match like endpoints.
type NetworkSet struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       NetworkSetSpec `json:"spec"`
}

// NetworkSetSpec lists the networks of a NetworkSet or GlobalNetworkSet.
type NetworkSetSpec struct {
	// Nets are CIDRs; a single IP means /32 or /128.
	Nets []string `json:"nets,omitempty"`
}

// GlobalNetworkSet is the cluster-scoped form of NetworkSet; global()
// namespace selectors match it.
type GlobalNetworkSet struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       GlobalNetworkSetSpec `json:"spec"`
}

// GlobalNetworkSetSpec lists the networks of a GlobalNetworkSet.
type GlobalNetworkSetSpec struct {
	Nets []string `json:"nets,omitempty"`
}

// IPReservation is a set of addresses IPAM must not hand out
// (cluster-scoped). Existing allocations are not released.
type IPReservation struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       IPReservationSpec `json:"spec"`
}

// IPReservationSpec lists the reserved CIDRs (single IPs allowed).
type IPReservationSpec struct {
	ReservedCIDRs []string `json:"reservedCIDRs,omitempty"`
}
