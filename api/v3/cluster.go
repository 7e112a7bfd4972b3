package v3

// ClusterInformation is the singleton "default" describing the cluster
// (cluster-scoped).
type ClusterInformation struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       ClusterInformationSpec `json:"spec"`
}

// ClusterInformationSpec is the content of ClusterInformation.
type ClusterInformationSpec struct {
	ClusterGUID   string `json:"clusterGUID,omitempty"`
	ClusterType   string `json:"clusterType,omitempty"`
	CalicoVersion string `json:"calicoVersion,omitempty"`
	// DatastoreReady false makes the node agents and the CNI plugin wait.
	DatastoreReady *bool  `json:"datastoreReady,omitempty"`
	Variant        string `json:"variant,omitempty"`
}

// SingletonName is the only name ClusterInformation and
// KubeControllersConfiguration may have, and the name of the global
// FelixConfiguration and BGPConfiguration.
const SingletonName = "default"

// KubeControllersConfiguration configures the cluster controllers; the only
// instance is "default" (cluster-scoped).
type KubeControllersConfiguration struct {
	TypeMeta
	ObjectMeta `json:"metadata"`
	Spec       KubeControllersConfigurationSpec   `json:"spec"`
	Status     KubeControllersConfigurationStatus `json:"status"`
}

// KubeControllersConfigurationSpec is the desired controller configuration.
type KubeControllersConfigurationSpec struct {
	LogSeverityScreen string `json:"logSeverityScreen,omitempty"`
	// HealthChecks is Enabled or Disabled.
	HealthChecks           string            `json:"healthChecks,omitempty"`
	EtcdV3CompactionPeriod *Duration         `json:"etcdV3CompactionPeriod,omitempty"`
	PrometheusMetricsPort  *int              `json:"prometheusMetricsPort,omitempty"`
	Controllers            ControllersConfig `json:"controllers"`
	DebugProfilePort       *int32            `json:"debugProfilePort,omitempty"`
}

// ControllersConfig enables and configures each controller; nil disables it.
type ControllersConfig struct {
	Node             *NodeControllerConfig             `json:"node,omitempty"`
	Policy           *PolicyControllerConfig           `json:"policy,omitempty"`
	WorkloadEndpoint *WorkloadEndpointControllerConfig `json:"workloadEndpoint,omitempty"`
	ServiceAccount   *ServiceAccountControllerConfig   `json:"serviceAccount,omitempty"`
	Namespace        *NamespaceControllerConfig        `json:"namespace,omitempty"`
	LoadBalancer     *LoadBalancerControllerConfig     `json:"loadBalancer,omitempty"`
}

// NodeControllerConfig configures the node controller (IPAM GC, label sync,
// auto host endpoints).
type NodeControllerConfig struct {
	ReconcilerPeriod *Duration `json:"reconcilerPeriod,omitempty"`
	// SyncLabels is Enabled or Disabled.
	SyncLabels   string                  `json:"syncLabels,omitempty"`
	HostEndpoint *AutoHostEndpointConfig `json:"hostEndpoint,omitempty"`
	// LeakGracePeriod is how long an IP may look leaked before GC; 0 disables GC.
	LeakGracePeriod *Duration `json:"leakGracePeriod,omitempty"`
}

// AutoHostEndpointConfig controls automatic host endpoints.
type AutoHostEndpointConfig struct {
	// AutoCreate is Enabled or Disabled.
	AutoCreate string `json:"autoCreate,omitempty"`
	// CreateDefaultHostEndpoint is Enabled or Disabled.
	CreateDefaultHostEndpoint string `json:"createDefaultHostEndpoint,omitempty"`
}

// PolicyControllerConfig configures the policy controller.
type PolicyControllerConfig struct {
	ReconcilerPeriod *Duration `json:"reconcilerPeriod,omitempty"`
}

// WorkloadEndpointControllerConfig configures the workload endpoint controller.
type WorkloadEndpointControllerConfig struct {
	ReconcilerPeriod *Duration `json:"reconcilerPeriod,omitempty"`
}

// ServiceAccountControllerConfig configures the service account controller.
type ServiceAccountControllerConfig struct {
	ReconcilerPeriod *Duration `json:"reconcilerPeriod,omitempty"`
}

// NamespaceControllerConfig configures the namespace controller.
type NamespaceControllerConfig struct {
	ReconcilerPeriod *Duration `json:"reconcilerPeriod,omitempty"`
}

// LoadBalancerControllerConfig configures LoadBalancer IP assignment.
type LoadBalancerControllerConfig struct {
	// AssignIPs is AllServices or RequestedServicesOnly.
	AssignIPs string `json:"assignIPs,omitempty"`
}

// KubeControllersConfigurationStatus is written by kube-controllers.
type KubeControllersConfigurationStatus struct {
	RunningConfig   *KubeControllersConfigurationSpec `json:"runningConfig,omitempty"`
	EnvironmentVars map[string]string                 `json:"environmentVars,omitempty"`
}
