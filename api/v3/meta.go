// Package v3 holds tortie's copy of Calico's projectcalico.org/v3 resource
// types: the same JSON field names, the same defaults applied on write and
// the same validation. It is pure: no I/O, no clocks, no globals that change.
package v3

// Group and APIVersion are the API group and version every resource carries.
const (
	Group      = "projectcalico.org"
	APIVersion = Group + "/v3"
)

// TypeMeta is the kind/apiVersion pair at the top of every resource.
// It is embedded anonymously so that its fields sit at the top level of the
// JSON object, as in Kubernetes.
type TypeMeta struct {
	Kind       string `json:"kind,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// GetTypeMeta lets every resource expose its TypeMeta through Resource.
func (t *TypeMeta) GetTypeMeta() *TypeMeta { return t }

// ObjectMeta is the subset of Kubernetes metadata that Calico resources use.
// ResourceVersion is never stored: the datastore reports its own revision.
type ObjectMeta struct {
	Name              string            `json:"name,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`

	// Carried through unchanged so that objects exported from Kubernetes
	// apply as they are; tortie gives them no meaning.
	GenerateName      string           `json:"generateName,omitempty"`
	Generation        int64            `json:"generation,omitempty"`
	DeletionTimestamp string           `json:"deletionTimestamp,omitempty"`
	Finalizers        []string         `json:"finalizers,omitempty"`
	OwnerReferences   []OwnerReference `json:"ownerReferences,omitempty"`
}

// OwnerReference is Kubernetes' pointer to an owning object.
type OwnerReference struct {
	APIVersion         string `json:"apiVersion"`
	Kind               string `json:"kind"`
	Name               string `json:"name"`
	UID                string `json:"uid"`
	Controller         *bool  `json:"controller,omitempty"`
	BlockOwnerDeletion *bool  `json:"blockOwnerDeletion,omitempty"`
}

// GetObjectMeta lets every resource expose its metadata through Resource.
func (m *ObjectMeta) GetObjectMeta() *ObjectMeta { return m }

// Resource is implemented by every resource type (as a pointer).
type Resource interface {
	GetTypeMeta() *TypeMeta
	GetObjectMeta() *ObjectMeta
}
