package v3

// IPAMConfiguration is Calico's v3 view of the IPAM configuration (the
// singleton "default"). In etcd it is not stored as a resource: the IPAM
// code keeps it at /calico/ipam/v2/config, and tortiectl shows it from
// there (get) and changes it with ipam configure. It is therefore not
// among Kinds.
type IPAMConfiguration struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       IPAMConfigurationSpec `json:"spec"`
}

// IPAMConfigurationSpec is the IPAM configuration.
type IPAMConfigurationSpec struct {
	StrictAffinity               bool    `json:"strictAffinity"`
	AutoAllocateBlocks           bool    `json:"autoAllocateBlocks"`
	MaxBlocksPerHost             int32   `json:"maxBlocksPerHost,omitempty"`
	KubeVirtVMAddressPersistence *string `json:"kubeVirtVMAddressPersistence,omitempty"`
}
