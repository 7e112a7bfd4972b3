package kdd

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/tortienet/tortie/internal/datastore"
)

// writeStyle says how a mapping's keys are written.
type writeStyle int

const (
	// styleObject: one object per key, created, replaced and deleted with
	// it (the Calico CRDs, the fallback ConfigMaps).
	styleObject writeStyle = iota
	// stylePatch: the object exists apart from tortie (a Node the kubelet
	// registered, a Pod); tortie's writes patch its annotations.
	stylePatch
	// styleReadOnly: the values are derived (Profiles from Namespaces).
	styleReadOnly
)

// mapping maps one part of Calico's key space onto Kubernetes objects of
// one resource.
type mapping struct {
	// prefix covers every key of the mapping.
	prefix string
	res    resource
	style  writeStyle
	// objName returns the object that holds key, ok false when key is
	// not one of the mapping's keys.
	objName func(key string) (ns, name string, ok bool)
	// namespace confines the mapping's objects to one namespace.
	namespace string
	// selector is the label selector of the mapping's objects ("" for all).
	selector string
	// fieldSelector, when set, narrows a list or watch under prefix
	// ("" for no narrowing).
	fieldSelector func(prefix string) string
	// toKV is the key and value an object stands for; ok false when the
	// object holds none (a Pod without an address).
	toKV func(o *object, raw []byte) (key string, value []byte, ok bool, err error)
	// toObj is the object to create or replace for key = value
	// (styleObject).
	toObj func(key string, value []byte) (*object, error)
	// patch is the merge patch that writes key = value into cur
	// (stylePatch); clear is the one that removes it (Delete).
	patch func(key string, value []byte, cur *object) (map[string]any, error)
	clear func(key string, cur *object) map[string]any
	// fixed, when set, is the mapping's one constant key and value: no
	// object holds it.
	fixed func() (key string, value []byte)
}

// fixedRevision is the revision of a fixed key: it never changes.
const fixedRevision = 1

// listNamespace is the namespace to list m's objects in ("" for all).
func (m *mapping) listNamespace() string { return m.namespace }

// overlaps reports whether some key under prefix may belong to m.
func (m *mapping) overlaps(prefix string) bool {
	return strings.HasPrefix(prefix, m.prefix) || strings.HasPrefix(m.prefix, prefix)
}

// kvOf converts an object of m to a KV (ok false: it stands for no key).
func (m *mapping) kvOf(o *object, raw []byte) (datastore.KV, bool, error) {
	key, val, ok, err := m.toKV(o, raw)
	if err != nil || !ok {
		return datastore.KV{}, false, err
	}
	return datastore.KV{Key: key, Value: val, Revision: o.rev()}, true, nil
}

// dnsName makes s a valid object name: lower case, with the characters
// Kubernetes refuses replaced by "-"; a name that changed or is too long
// gets a hash suffix, so distinct keys keep distinct names.
func dnsName(s string) string {
	var b strings.Builder
	changed := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z': // lower-cased, and hashed: "H" and "h" differ
			b.WriteRune(r + 'a' - 'A')
			changed = true
		default:
			b.WriteByte('-')
			changed = true
		}
	}
	n := b.String()
	if changed || len(n) > 253 {
		return truncHash(n, s, 253)
	}
	return n
}

// truncHash cuts n to fit max with a "-" and 11 hex characters of
// SHA-256(full) appended (Calico's scheme for long affinity names).
func truncHash(n, full string, max int) string {
	sum := sha256.Sum256([]byte(full))
	h := hex.EncodeToString(sum[:])[:11]
	if len(n) > max-12 {
		n = n[:max-12]
	}
	return strings.TrimRight(n, "-.") + "-" + h
}
