package kdd

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Calico's IPAM key space (calico-reference.md §5.1) and its CRDs (§5.2).
const (
	ipamRoot       = "/calico/ipam/v2/"
	blockPrefix    = ipamRoot + "assignment/"
	affinityPrefix = ipamRoot + "host/"
	handlePrefix   = ipamRoot + "handle/"
	configKey      = ipamRoot + "config"
)

// Field names that differ between the etcd value and the CRD spec.
var (
	blockFields  = map[string]string{"affinity_claim_time": "affinityClaimTime"}
	configFields = map[string]string{"strict_affinity": "strictAffinity", "auto_allocate_blocks": "autoAllocateBlocks"}
)

func family(cidr string) string {
	if strings.Contains(cidr, ":") {
		return "ipv6"
	}
	return "ipv4"
}

// specMapping builds a CRD mapping whose value is the CRD's spec with
// some fields renamed; key and name derive from the spec.
func specMapping(prefix string, res resource, fields map[string]string,
	objName func(key string) (string, bool), keyOf func(spec []byte) (string, error),
	extra func(key string) map[string]any) *mapping {
	back := invert(fields)
	m := &mapping{prefix: prefix, res: res}
	m.objName = func(key string) (string, string, bool) {
		n, ok := objName(key)
		return "", n, ok
	}
	m.toKV = func(o *object, _ []byte) (string, []byte, bool, error) {
		key, err := keyOf(o.Spec)
		if err != nil || key == "" {
			return "", nil, false, err
		}
		v, err := renameFields(o.Spec, back)
		if err != nil {
			return "", nil, false, err
		}
		for f := range extra(key) {
			delete(v, f)
		}
		b, err := json.Marshal(v)
		return key, b, true, err
	}
	m.toObj = func(key string, value []byte) (*object, error) {
		name, _ := objName(key)
		v, err := renameFields(value, fields)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		for f, x := range extra(key) {
			b, _ := json.Marshal(x)
			v[f] = b
		}
		spec, _ := json.Marshal(v)
		return &object{APIVersion: res.apiVersion(), Kind: res.kind, Metadata: meta{Name: name}, Spec: spec}, nil
	}
	return m
}

// blockMapping: /calico/ipam/v2/assignment/ipv4/block/10.0.0.0-26 is the
// IPAMBlock 10-0-0-0-26.
func blockMapping() *mapping {
	objName := func(key string) (string, bool) {
		parts := strings.Split(strings.TrimPrefix(key, blockPrefix), "/")
		if !strings.HasPrefix(key, blockPrefix) || len(parts) != 3 || parts[1] != "block" {
			return "", false
		}
		return cidrObjName(keyCIDR(parts[2])), true
	}
	keyOf := func(spec []byte) (string, error) {
		var s struct {
			CIDR string `json:"cidr"`
		}
		err := json.Unmarshal(spec, &s)
		return blockPrefix + family(s.CIDR) + "/block/" + keyCIDRName(s.CIDR), err
	}
	extra := func(string) map[string]any { return map[string]any{"strictAffinity": false} }
	return specMapping(blockPrefix, crdResource("ipamblocks", "IPAMBlock", false), blockFields, objName, keyOf, extra)
}

// handleMapping: /calico/ipam/v2/handle/<id> is the IPAMHandle named by
// the lower-cased id, with spec.handleID = id.
func handleMapping() *mapping {
	objName := func(key string) (string, bool) {
		id, ok := strings.CutPrefix(key, handlePrefix)
		return dnsName(id), ok && id != "" && !strings.Contains(id, "/")
	}
	keyOf := func(spec []byte) (string, error) {
		var s struct {
			ID string `json:"handleID"`
		}
		err := json.Unmarshal(spec, &s)
		return handlePrefix + s.ID, err
	}
	extra := func(key string) map[string]any {
		return map[string]any{"handleID": strings.TrimPrefix(key, handlePrefix)}
	}
	return specMapping(handlePrefix, crdResource("ipamhandles", "IPAMHandle", false), nil, objName, keyOf, extra)
}

// configMapping: /calico/ipam/v2/config is the IPAMConfig "default".
func configMapping() *mapping {
	objName := func(key string) (string, bool) { return "default", key == configKey }
	keyOf := func([]byte) (string, error) { return configKey, nil }
	extra := func(string) map[string]any { return nil }
	return specMapping(configKey, crdResource("ipamconfigs", "IPAMConfig", false), configFields, objName, keyOf, extra)
}

// affinityMapping: /calico/ipam/v2/host/<host>/ipv4/block/<cidr> is the
// BlockAffinity <host>-<cidr name>, spec {state, node, type: host, cidr,
// deleted: "false"} (deleted is a string in crd v1).
func affinityMapping() *mapping {
	res := crdResource("blockaffinities", "BlockAffinity", false)
	parse := func(key string) (host, cidr string, ok bool) {
		parts := strings.Split(strings.TrimPrefix(key, affinityPrefix), "/")
		if !strings.HasPrefix(key, affinityPrefix) || len(parts) != 4 || parts[2] != "block" || parts[0] == "" {
			return "", "", false
		}
		return parts[0], keyCIDR(parts[3]), true
	}
	m := &mapping{prefix: affinityPrefix, res: res}
	m.objName = func(key string) (string, string, bool) {
		host, cidr, ok := parse(key)
		return "", affinityName(host, cidr), ok
	}
	// Under /calico/ipam/v2/host/<host>/: only that host's affinities
	// (spec.node is a selectable field of the CRD).
	m.fieldSelector = func(prefix string) string {
		host, _, found := strings.Cut(strings.TrimPrefix(prefix, affinityPrefix), "/")
		if !strings.HasPrefix(prefix, affinityPrefix) || !found || host == "" {
			return ""
		}
		return "spec.node=" + host
	}
	m.toKV = func(o *object, _ []byte) (string, []byte, bool, error) {
		var s affinitySpec
		if err := json.Unmarshal(o.Spec, &s); err != nil || (s.Type != "" && s.Type != "host") {
			return "", nil, false, err
		}
		v, err := json.Marshal(map[string]any{"state": s.State, "deleted": s.Deleted == "true"})
		key := affinityPrefix + s.Node + "/" + family(s.CIDR) + "/block/" + keyCIDRName(s.CIDR)
		return key, v, true, err
	}
	m.toObj = func(key string, value []byte) (*object, error) {
		host, cidr, _ := parse(key)
		var v struct {
			State   string `json:"state"`
			Deleted bool   `json:"deleted"`
		}
		if err := json.Unmarshal(value, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		spec, _ := json.Marshal(affinitySpec{State: v.State, Node: host, Type: "host", CIDR: cidr, Deleted: fmt.Sprint(v.Deleted)})
		return &object{APIVersion: res.apiVersion(), Kind: res.kind, Metadata: meta{Name: affinityName(host, cidr)}, Spec: spec}, nil
	}
	return m
}

type affinitySpec struct {
	State   string `json:"state"`
	Node    string `json:"node"`
	Type    string `json:"type,omitempty"`
	CIDR    string `json:"cidr"`
	Deleted string `json:"deleted"`
}

// affinityName is Calico's BlockAffinity name: <host>-<cidr name>, the
// host part cut and a hash added when that is over 253 characters.
func affinityName(host, cidr string) string {
	n := dnsName(host) + "-" + cidrObjName(cidr)
	if len(n) > 253 {
		return truncHash(n, host+"-"+cidr, 253)
	}
	return n
}
