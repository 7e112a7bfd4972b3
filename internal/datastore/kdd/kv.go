package kdd

import (
	"crypto/sha256"
	"encoding/hex"
)

// The fallback: a key that no Calico kind holds (tortie's own keys, and
// the arbitrary keys of the conformance suite) is kept in a ConfigMap of
// the store's namespace, named after the key's hash and labelled so that
// a prefix lists and watches with one label selector.
const (
	kvLabel     = "tortie.projectcalico.org/kv"
	kvKeyField  = "key"
	kvValueFile = "value"
)

var configMaps = resource{version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true}

func kvMapping(namespace string) *mapping {
	m := &mapping{prefix: "", res: configMaps, namespace: namespace, selector: kvLabel + "=v1"}
	name := func(key string) string {
		sum := sha256.Sum256([]byte(key))
		return "tortie-kv-" + hex.EncodeToString(sum[:20])
	}
	m.objName = func(key string) (string, string, bool) { return namespace, name(key), true }
	m.toKV = func(o *object, _ []byte) (string, []byte, bool, error) {
		key, ok := o.Data[kvKeyField]
		if !ok {
			return "", nil, false, nil
		}
		v := o.BinaryData[kvValueFile]
		if v == nil {
			v = []byte{}
		}
		return key, v, true, nil
	}
	m.toObj = func(key string, value []byte) (*object, error) {
		return &object{
			APIVersion: "v1", Kind: "ConfigMap",
			Metadata:   meta{Name: name(key), Namespace: namespace, Labels: map[string]string{kvLabel: "v1"}},
			Data:       map[string]string{kvKeyField: key},
			BinaryData: map[string][]byte{kvValueFile: value},
		}, nil
	}
	return m
}
