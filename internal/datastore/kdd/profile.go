package kdd

import (
	"encoding/json"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// Profiles in the Kubernetes datastore are derived (calico-reference.md
// §2.8): kns.<ns> from each Namespace, ksa.<ns>.<sa> from each
// ServiceAccount, and the fixed projectcalico-default-allow.
const (
	NamespaceProfilePrefix      = "kns."
	ServiceAccountProfilePrefix = "ksa."
	DefaultAllowProfile         = "projectcalico-default-allow"
)

var (
	namespaces      = resource{version: "v1", plural: "namespaces", kind: "Namespace"}
	serviceAccounts = resource{version: "v1", plural: "serviceaccounts", kind: "ServiceAccount", namespaced: true}
)

func profileMappings() []*mapping {
	pfx := datastore.ResourceListPrefix("profiles", "")
	profileName := func(key string) (string, bool) { return strings.CutPrefix(key, pfx) }

	kns := &mapping{prefix: pfx + NamespaceProfilePrefix, res: namespaces, style: styleReadOnly}
	kns.objName = func(key string) (string, string, bool) {
		n, ok := profileName(key)
		ns, ok2 := strings.CutPrefix(n, NamespaceProfilePrefix)
		return "", ns, ok && ok2 && ns != ""
	}
	kns.toKV = func(o *object, _ []byte) (string, []byte, bool, error) {
		p := profile(NamespaceProfilePrefix+o.Metadata.Name, o, "pcns.", o.Metadata.Name)
		allow := []v3.Rule{{Action: "Allow"}}
		p.Spec.Ingress, p.Spec.Egress = allow, allow
		b, err := json.Marshal(p)
		return pfx + p.Name, b, err == nil, err
	}

	ksa := &mapping{prefix: pfx + ServiceAccountProfilePrefix, res: serviceAccounts, style: styleReadOnly}
	ksa.objName = func(key string) (string, string, bool) {
		n, ok := profileName(key)
		rest, ok2 := strings.CutPrefix(n, ServiceAccountProfilePrefix)
		ns, sa, ok3 := strings.Cut(rest, ".")
		return ns, sa, ok && ok2 && ok3 && ns != "" && sa != ""
	}
	ksa.toKV = func(o *object, _ []byte) (string, []byte, bool, error) {
		name := ServiceAccountProfilePrefix + o.Metadata.Namespace + "." + o.Metadata.Name
		b, err := json.Marshal(profile(name, o, "pcsa.", o.Metadata.Name))
		return pfx + name, b, err == nil, err
	}

	allow := &mapping{prefix: pfx + DefaultAllowProfile, style: styleReadOnly}
	allow.objName = func(key string) (string, string, bool) { return "", DefaultAllowProfile, key == allow.prefix }
	allow.fixed = func() (string, []byte) {
		p := &v3.Profile{TypeMeta: v3.TypeMeta{Kind: "Profile", APIVersion: v3.APIVersion}}
		p.Name = DefaultAllowProfile
		p.Spec.Ingress = []v3.Rule{{Action: "Allow"}}
		p.Spec.Egress = []v3.Rule{{Action: "Allow"}}
		b, _ := json.Marshal(p)
		return allow.prefix, b
	}
	return []*mapping{kns, ksa, allow}
}

// profile builds a Profile whose labelsToApply are o's labels with
// labelPrefix, plus <labelPrefix>projectcalico.org/name = name.
func profile(name string, o *object, labelPrefix, ownName string) *v3.Profile {
	p := &v3.Profile{TypeMeta: v3.TypeMeta{Kind: "Profile", APIVersion: v3.APIVersion}}
	p.ObjectMeta = v3.ObjectMeta{Name: name, UID: o.Metadata.UID, CreationTimestamp: o.Metadata.CreationTimestamp}
	p.Spec.LabelsToApply = map[string]string{labelPrefix + "projectcalico.org/name": ownName}
	for k, v := range o.Metadata.Labels {
		p.Spec.LabelsToApply[labelPrefix+k] = v
	}
	return p
}
