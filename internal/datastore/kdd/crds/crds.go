// Package crds builds the CustomResourceDefinitions of Calico's storage
// (group crd.projectcalico.org, version v1; calico-reference.md §5.2)
// from tortie's api/v3 types, so the schema cannot drift from the types:
// deploy/crds.yaml is generated from it (go generate) and the test
// harness installs the same objects.
package crds

//go:generate go run ./gen -dir ../../../../deploy

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	v3 "github.com/tortienet/tortie/api/v3"
)

// Group and Version of the storage CRDs.
const (
	Group   = "crd.projectcalico.org"
	Version = "v1"
)

// Def is one CRD: the kind and its spec (and status) types.
type Def struct {
	Kind, Plural string
	Namespaced   bool
	Spec, Status reflect.Type // nil: no schema, unknown fields kept
	edit         func(spec schema)
	// selectable are JSON paths a list may select on (fieldSelector).
	selectable []string
}

// The specs of the IPAM CRDs, as Calico's crd.projectcalico.org/v1 has
// them (the etcd values differ in a few field names; see package kdd).
type (
	ipamBlockSpec struct {
		CIDR                        string            `json:"cidr"`
		Affinity                    *string           `json:"affinity,omitempty"`
		AffinityClaimTime           *time.Time        `json:"affinityClaimTime,omitempty"`
		StrictAffinity              bool              `json:"strictAffinity"`
		Allocations                 []*int            `json:"allocations"`
		Unallocated                 []int             `json:"unallocated"`
		Attributes                  []allocationAttr  `json:"attributes"`
		SequenceNumber              uint64            `json:"sequenceNumber"`
		SequenceNumberForAllocation map[string]uint64 `json:"sequenceNumberForAllocation,omitempty"`
		Deleted                     bool              `json:"deleted"`
	}
	allocationAttr struct {
		HandleID            *string           `json:"handle_id,omitempty"`
		Secondary           map[string]string `json:"secondary,omitempty"`
		AlternateOwnerAttrs map[string]string `json:"alternateOwnerAttrs,omitempty"`
		ReleasedAt          *time.Time        `json:"releasedAt,omitempty"`
	}
	blockAffinitySpec struct {
		State   string `json:"state"`
		Node    string `json:"node"`
		Type    string `json:"type,omitempty"`
		CIDR    string `json:"cidr"`
		Deleted string `json:"deleted"`
	}
	ipamHandleSpec struct {
		HandleID string         `json:"handleID"`
		Block    map[string]int `json:"block"`
		Deleted  bool           `json:"deleted"`
	}
	ipamConfigSpec struct {
		StrictAffinity               bool   `json:"strictAffinity"`
		AutoAllocateBlocks           bool   `json:"autoAllocateBlocks"`
		MaxBlocksPerHost             int32  `json:"maxBlocksPerHost,omitempty"`
		KubeVirtVMAddressPersistence string `json:"kubeVirtVMAddressPersistence,omitempty"`
	}
)

// Defs returns every storage CRD, sorted by plural.
func Defs() []Def {
	var out []Def
	for _, k := range v3.Kinds() {
		switch k.Kind {
		case "Node", "WorkloadEndpoint", "Profile": // Kubernetes' own objects in KDD
			continue
		}
		t := reflect.TypeOf(k.New()).Elem()
		d := Def{Kind: k.Kind, Plural: k.Plural, Namespaced: k.Namespaced}
		if f, ok := t.FieldByName("Spec"); ok {
			d.Spec = f.Type
		}
		if f, ok := t.FieldByName("Status"); ok {
			d.Status = f.Type
		}
		out = append(out, d)
	}
	// Calico kinds api/v3 does not model (yet): stored with any spec.
	for _, d := range []Def{
		{Kind: "BGPFilter", Plural: "bgpfilters"},
		{Kind: "CalicoNodeStatus", Plural: "caliconodestatuses"},
		{Kind: "StagedNetworkPolicy", Plural: "stagednetworkpolicies", Namespaced: true},
		{Kind: "StagedGlobalNetworkPolicy", Plural: "stagedglobalnetworkpolicies"},
		{Kind: "StagedKubernetesNetworkPolicy", Plural: "stagedkubernetesnetworkpolicies", Namespaced: true},
	} {
		if !slices.ContainsFunc(out, func(o Def) bool { return o.Plural == d.Plural }) {
			out = append(out, d)
		}
	}
	out = append(out,
		Def{Kind: "IPAMBlock", Plural: "ipamblocks", Spec: reflect.TypeFor[ipamBlockSpec](),
			edit: func(s schema) { nullableItems(s, "allocations") }},
		// A host's affinities are listed with fieldSelector spec.node=<host>.
		Def{Kind: "BlockAffinity", Plural: "blockaffinities", Spec: reflect.TypeFor[blockAffinitySpec](),
			selectable: []string{".spec.node"}},
		Def{Kind: "IPAMHandle", Plural: "ipamhandles", Spec: reflect.TypeFor[ipamHandleSpec]()},
		Def{Kind: "IPAMConfig", Plural: "ipamconfigs", Spec: reflect.TypeFor[ipamConfigSpec]()},
	)
	slices.SortFunc(out, func(a, b Def) int { return strings.Compare(a.Plural, b.Plural) })
	return out
}

// Object is the CustomResourceDefinition of d, ready to marshal.
func (d Def) Object() map[string]any {
	props := schema{
		"apiVersion": schema{"type": "string"},
		"kind":       schema{"type": "string"},
		"metadata":   schema{"type": "object"},
	}
	for name, t := range map[string]reflect.Type{"spec": d.Spec, "status": d.Status} {
		switch {
		case t != nil:
			props[name] = schemaOf(t, map[reflect.Type]bool{})
		case name == "spec":
			props[name] = schema{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
		}
	}
	if d.edit != nil {
		d.edit(props["spec"].(schema))
	}
	version := map[string]any{
		"name": Version, "served": true, "storage": true,
		"schema": map[string]any{"openAPIV3Schema": schema{"type": "object", "properties": props}},
	}
	if len(d.selectable) > 0 {
		var fields []any
		for _, p := range d.selectable {
			fields = append(fields, map[string]any{"jsonPath": p})
		}
		version["selectableFields"] = fields
	}
	scope := "Cluster"
	if d.Namespaced {
		scope = "Namespaced"
	}
	return map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": d.Plural + "." + Group},
		"spec": map[string]any{
			"group": Group,
			"names": map[string]any{"kind": d.Kind, "listKind": d.Kind + "List", "plural": d.Plural,
				"singular": strings.ToLower(d.Kind)},
			"scope":    scope,
			"versions": []any{version},
		},
	}
}

// YAML is every CRD as one multi-document YAML file (deploy/crds.yaml).
func YAML() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Calico's storage CRDs (crd.projectcalico.org/v1), generated from api/v3 by\n" +
		"# `go generate ./internal/datastore/kdd/crds`. Do not edit.\n")
	for _, d := range Defs() {
		y, err := yaml.Marshal(d.Object())
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes(), nil
}

// Manifest is deploy/tortie.yaml, what a user applies as calico.yaml: the
// CRDs, then deploy/tortie-components.yaml (RBAC, the DaemonSet, the
// controllers, the settings).
func Manifest(components []byte) ([]byte, error) {
	c, err := YAML()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# tortie: kubectl apply -f tortie.yaml. Generated by `go generate ./internal/datastore/kdd/crds`\n" +
		"# from crds.yaml and tortie-components.yaml; edit those.\n")
	b.Write(c)
	b.Write(components)
	return b.Bytes(), nil
}
