package cni

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"

	"github.com/tortienet/tortie/internal/conventions"
)

// Orchestrators of a WorkloadEndpoint.
const (
	OrchestratorK8s = "k8s"
	OrchestratorCNI = "cni"
)

// Workload identifies what an attachment belongs to.
type Workload struct {
	// Orchestrator is k8s when the runtime passed the pod's namespace and
	// name in CNI_ARGS, cni otherwise.
	Orchestrator string
	// Namespace is the pod's namespace, or "default" for orchestrator cni.
	Namespace string
	// Pod is the pod's name (k8s only).
	Pod string
	// Network is the CNI network name.
	Network     string
	ContainerID string
	// Endpoint is the interface name in the container (CNI_IFNAME).
	Endpoint string
}

// NewWorkload works out the identity from the CNI parameters. cniArgs is
// CNI_ARGS ("K=V;K=V"); only K8S_POD_NAMESPACE and K8S_POD_NAME matter.
func NewWorkload(network, containerID, ifName, cniArgs string) Workload {
	w := Workload{Orchestrator: OrchestratorCNI, Namespace: "default", Network: network, ContainerID: containerID, Endpoint: ifName}
	var ns, pod string
	for _, kv := range strings.Split(cniArgs, ";") {
		k, v, _ := strings.Cut(kv, "=")
		switch strings.TrimSpace(k) {
		case "K8S_POD_NAMESPACE":
			ns = strings.TrimSpace(v)
		case "K8S_POD_NAME":
			pod = strings.TrimSpace(v)
		}
	}
	if ns != "" && pod != "" {
		w.Orchestrator, w.Namespace, w.Pod = OrchestratorK8s, ns, pod
	}
	return w
}

// key is the string the host interface name is derived from: namespace.pod
// for Kubernetes (as Calico, so a pod's interface keeps its name across
// sandboxes and matches Felix's), and network.containerID otherwise. Calico
// took containerID[:11] for the latter, so IDs sharing a prefix (every
// cnitool ID starts "cnitool-") collided and one ADD deleted another
// pod's interface; hashing the whole ID cannot collide that way.
func (w Workload) key() string {
	if w.Orchestrator == OrchestratorK8s {
		return w.Namespace + "." + w.Pod
	}
	return w.Network + "." + w.ContainerID
}

// HostIfName is the host side's name: "cali" and the first 11 hex
// characters of the SHA-1 of the workload's identity (15 characters, the
// kernel's limit).
func (w Workload) HostIfName() string {
	sum := sha1.Sum([]byte(w.key()))
	return conventions.HostIfPrefix + hex.EncodeToString(sum[:])[:11]
}

// WEPName is the WorkloadEndpoint's name as Calico builds it
// (libcalico-go names.WorkloadEndpointIdentifiers): node, orchestrator,
// workload and endpoint joined with "-", each "-" inside a part doubled.
// The workload part is the pod for k8s and the container ID for cni.
func (w Workload) WEPName(node string) string {
	workload := w.ContainerID
	if w.Orchestrator == OrchestratorK8s {
		workload = w.Pod
	}
	parts := []string{node, w.Orchestrator, workload, w.Endpoint}
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, "-", "--")
	}
	return strings.Join(parts, "-")
}
