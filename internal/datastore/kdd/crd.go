package kdd

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// CRDGroup is the API group of Calico's storage CRDs.
const (
	CRDGroup   = "crd.projectcalico.org"
	CRDVersion = "v1"
	// MetadataAnnotation holds the v3 metadata that has no place in the
	// Kubernetes object (uid, creationTimestamp, ...), as Calico keeps it.
	MetadataAnnotation = "projectcalico.org/metadata"
)

func crdResource(plural, kind string, namespaced bool) resource {
	return resource{group: CRDGroup, version: CRDVersion, plural: plural, kind: kind, namespaced: namespaced}
}

// v3Object is a v3 resource as stored in etcd, with its parts kept raw.
type v3Object struct {
	Kind       string          `json:"kind"`
	APIVersion string          `json:"apiVersion"`
	Metadata   v3.ObjectMeta   `json:"metadata"`
	Spec       json.RawMessage `json:"spec,omitempty"`
	Status     json.RawMessage `json:"status,omitempty"`
}

// v3Mapping maps the v3 resources of one kind onto its CRD.
func v3Mapping(k v3.KindInfo) *mapping {
	res := crdResource(k.Plural, k.Kind, k.Namespaced)
	m := &mapping{prefix: datastore.ResourceListPrefix(k.Plural, ""), res: res}
	m.objName = func(key string) (string, string, bool) {
		return datastore.SplitResourceKey(k.Plural, key, k.Namespaced)
	}
	m.toKV = func(o *object, _ []byte) (string, []byte, bool, error) {
		v, err := crdToV3(o, k.Kind)
		if err != nil {
			return "", nil, false, err
		}
		return datastore.ResourceKey(k.Plural, o.Metadata.Namespace, o.Metadata.Name), v, true, nil
	}
	m.toObj = func(key string, value []byte) (*object, error) {
		ns, name, _ := m.objName(key)
		return v3ToCRD(res, ns, name, value)
	}
	return m
}

// crdToV3 turns a CRD object into the v3 JSON Calico stores in etcd.
func crdToV3(o *object, kind string) ([]byte, error) {
	v := v3Object{Kind: kind, APIVersion: v3.APIVersion, Spec: o.Spec, Status: o.Status}
	md := &v.Metadata
	if s, ok := o.Metadata.Annotations[MetadataAnnotation]; ok {
		if err := json.Unmarshal([]byte(s), md); err != nil {
			return nil, fmt.Errorf("%s %s: annotation %s: %w", kind, o.Metadata.Name, MetadataAnnotation, err)
		}
	}
	md.Name, md.Namespace, md.ResourceVersion = o.Metadata.Name, o.Metadata.Namespace, ""
	md.Labels = o.Metadata.Labels
	md.Annotations = nil
	for a, val := range o.Metadata.Annotations {
		if a != MetadataAnnotation {
			if md.Annotations == nil {
				md.Annotations = map[string]string{}
			}
			md.Annotations[a] = val
		}
	}
	if md.UID == "" {
		md.UID = o.Metadata.UID
	}
	if md.CreationTimestamp == "" {
		md.CreationTimestamp = o.Metadata.CreationTimestamp
	}
	return json.Marshal(v)
}

// v3ToCRD builds the CRD object for a v3 value: name, namespace, labels
// and annotations in the Kubernetes metadata, the rest of the v3 metadata
// in the MetadataAnnotation, spec (and status) unchanged.
func v3ToCRD(res resource, ns, name string, value []byte) (*object, error) {
	var v v3Object
	if err := json.Unmarshal(value, &v); err != nil {
		return nil, fmt.Errorf("%s %s: not a v3 resource: %w", res.kind, name, err)
	}
	if v.Kind != "" && v.Kind != res.kind {
		return nil, fmt.Errorf("%s %s: value is of kind %q", res.kind, name, v.Kind)
	}
	rest := v.Metadata
	rest.Name, rest.Namespace, rest.ResourceVersion = "", "", ""
	rest.Labels, rest.Annotations = nil, nil
	restJSON, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	ann := maps.Clone(v.Metadata.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[MetadataAnnotation] = string(restJSON)
	spec := v.Spec
	if len(spec) == 0 || string(spec) == "null" {
		spec = json.RawMessage("{}")
	}
	return &object{
		APIVersion: res.apiVersion(), Kind: res.kind,
		Metadata: meta{Name: name, Namespace: ns, Labels: v.Metadata.Labels, Annotations: ann},
		Spec:     spec, Status: v.Status,
	}, nil
}

// renameFields returns the JSON object in with its top-level fields
// renamed by names (old -> new), others kept.
func renameFields(in []byte, names map[string]string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(in, &m); err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		if n, ok := names[k]; ok {
			k = n
		}
		out[k] = v
	}
	return out, nil
}

func invert(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// cidrObjName is Calico's object name of a CIDR: ".", ":" and "/" become "-".
func cidrObjName(cidr string) string {
	return strings.NewReplacer(".", "-", ":", "-", "/", "-").Replace(cidr)
}

// keyCIDR turns the CIDR of an IPAM key ("10.0.0.0-26") back into a CIDR.
func keyCIDR(s string) string {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return s
	}
	return s[:i] + "/" + s[i+1:]
}

// keyCIDRName is the inverse of keyCIDR.
func keyCIDRName(cidr string) string { return strings.Replace(cidr, "/", "-", 1) }
