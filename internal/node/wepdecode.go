package node

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"strings"
	"unicode/utf8"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
)

// epDecoder turns the JSON of a WorkloadEndpoint straight into the
// compact calc.Endpoint the agent keeps of another node's endpoints (95%
// of the keys it lists), in one pass over the bytes (scanner) instead of
// encoding/json's two passes into the whole v3 object: it reads the
// name, the node, ipNetworks, and for policy the labels, namespace,
// orchestrator, service account, profiles and ports, and skips the rest.
//
// Strings are interned, and the labels and the policy attributes are
// shared: endpoints whose namespace, orchestrator, service account,
// labels, profiles and ports are the same text (the replicas of a
// workload) share one calc.EndpointAttrs, found by a 128-bit hash of that
// text before anything of it is decoded (two endpoints of different text
// with the same hash, about one chance in 10^28 among 100,000 distinct
// texts, would share the first one's attributes). The table keeps the
// hash, not the text: an endpoint with labels of its own costs it about
// 40 bytes.
//
// Where it cannot decode a value as encoding/json would (an escaped key,
// a key matching a field only without regard to case, a null inside the
// labels, ...) it says so, and the caller decodes the whole object with
// encoding/json. It does check the JSON grammar of what it skips, but not
// the types encoding/json would give fields it does not read: a number
// where v3 has a string (say, the uid) does not make the endpoint
// invalid, as it does for a full decode.
type epDecoder struct {
	strs  interner
	attrs map[attrsKey]*calc.EndpointAttrs
	seeds [2]maphash.Seed
	buf   []byte
}

func newEPDecoder() *epDecoder {
	return &epDecoder{strs: interner{}, attrs: map[attrsKey]*calc.EndpointAttrs{},
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

// attrsKey is the hash of an endpoint's attribute text.
type attrsKey [2]uint64

// wepText are the parts of a WorkloadEndpoint's JSON the agent reads:
// strings as their raw text (esc: with escapes), other values whole.
type wepText struct {
	name, namespace, node, orch, sa jsonString
	labels, profiles, ports, nets   []byte
}

type jsonString struct {
	raw []byte
	esc bool
}

// endpoint decodes value, the endpoint of id ("<namespace>/<name>" from
// its key). ok is false when the decoder cannot; local says whether it
// is self's (then ep is not filled in: it is decoded whole elsewhere).
func (d *epDecoder) endpoint(id string, value []byte, self string) (ep calc.Endpoint, local, ok bool) {
	t, ok := scanWEP(value)
	if !ok {
		return ep, false, false
	}
	node, ok := d.string(t.node)
	if !ok || node == self {
		return ep, node == self && ok, ok
	}
	ep.Node = node
	if ep.ID, ok = d.id(id, t.namespace, t.name); !ok {
		return ep, false, false
	}
	if ep.Attrs, ok = d.attrsOf(t); !ok {
		return ep, false, false
	}
	if t.nets != nil {
		s := scanner{b: t.nets}
		if !s.null() {
			s.array(func() {
				if raw, esc := s.str(); !s.fail {
					n, ok := unquote(raw, esc)
					s.fail = s.fail || !ok
					ep.AddNet(n)
				}
			})
		}
		if s.fail {
			return ep, false, false
		}
	}
	return ep, false, true
}

// scanWEP picks the fields the agent reads out of a WorkloadEndpoint.
func scanWEP(value []byte) (t wepText, ok bool) {
	s := scanner{b: value}
	s.object(func(key []byte) {
		switch {
		case string(key) == "metadata":
			s.object(func(key []byte) {
				switch {
				case string(key) == "name":
					t.name = s.jstring()
				case string(key) == "namespace":
					t.namespace = s.jstring()
				case string(key) == "labels":
					t.labels = s.skip()
				default:
					s.skipOther(key, "name", "namespace", "labels")
				}
			})
		case string(key) == "spec":
			s.object(func(key []byte) { t.specField(&s, key) })
		default:
			s.skipOther(key, "metadata", "spec")
		}
	})
	s.end()
	return t, !s.fail
}

func (t *wepText) specField(s *scanner, key []byte) {
	switch string(key) {
	case "node":
		t.node = s.jstring()
	case "orchestrator":
		t.orch = s.jstring()
	case "serviceAccountName":
		t.sa = s.jstring()
	case "profiles":
		t.profiles = s.skip()
	case "ports":
		t.ports = s.skip()
	case "ipNetworks":
		t.nets = s.skip()
	default:
		s.skipOther(key, "node", "orchestrator", "serviceAccountName", "profiles", "ports", "ipNetworks")
	}
}

// jstring reads a string or null (as "").
func (s *scanner) jstring() jsonString {
	if s.null() {
		return jsonString{}
	}
	raw, esc := s.str()
	return jsonString{raw: raw, esc: esc}
}

// skipOther skips the value of a key the decoder does not read; a key
// encoding/json would take for one it reads (it matches names without
// regard to case) fails the scan.
func (s *scanner) skipOther(key []byte, read ...string) {
	ascii := true
	for _, c := range key {
		ascii = ascii && c < utf8.RuneSelf
	}
	for _, r := range read {
		if (!ascii || len(key) == len(r)) && bytes.EqualFold(key, []byte(r)) {
			s.fail = true
			return
		}
	}
	s.skip()
}

// string is the value of a string, interned.
func (d *epDecoder) string(j jsonString) (string, bool) {
	if !j.esc {
		return d.strs.bytes(j.raw), true
	}
	s, ok := unquote(j.raw, true)
	return d.strs.get(s), ok
}

// id is "<namespace>/<name>": the id from the key when it is that (no
// copy).
func (d *epDecoder) id(fromKey string, ns, name jsonString) (string, bool) {
	if !ns.esc && !name.esc && len(fromKey) == len(ns.raw)+1+len(name.raw) &&
		fromKey[len(ns.raw)] == '/' && fromKey[:len(ns.raw)] == string(ns.raw) && fromKey[len(ns.raw)+1:] == string(name.raw) {
		return fromKey, true
	}
	n, ok1 := unquote(ns.raw, ns.esc)
	m, ok2 := unquote(name.raw, name.esc)
	return n + "/" + m, ok1 && ok2
}

// endpointID is the id of the endpoint at a datastore key (a copy: the
// key is not kept).
func endpointID(key string) string {
	return strings.Clone(key[len(kinds[kindEndpoints].prefix):])
}

func unquote(raw []byte, esc bool) (string, bool) {
	if !esc {
		return string(raw), true
	}
	var s string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	return s, json.Unmarshal(q, &s) == nil
}

// attrsOf finds or makes the shared attributes of t.
func (d *epDecoder) attrsOf(t wepText) (*calc.EndpointAttrs, bool) {
	b := d.buf[:0]
	for _, part := range [][]byte{t.namespace.raw, t.orch.raw, t.sa.raw, t.labels, t.profiles, t.ports} {
		b = append(append(b, part...), 0)
	}
	d.buf = b
	key := attrsKey{maphash.Bytes(d.seeds[0], b), maphash.Bytes(d.seeds[1], b)}
	if a, ok := d.attrs[key]; ok {
		return a, true
	}
	a := &calc.EndpointAttrs{}
	ok1, ok2, ok3 := true, true, true
	a.Namespace, ok1 = d.string(t.namespace)
	a.Orchestrator, ok2 = d.string(t.orch)
	a.ServiceAccount, ok3 = d.string(t.sa)
	if !ok1 || !ok2 || !ok3 || !d.labels(t.labels, a) || !d.profiles(t.profiles, a) {
		return nil, false
	}
	if t.ports != nil && json.Unmarshal(t.ports, &a.Ports) != nil {
		return nil, false
	}
	if len(d.attrs) > maxInterned {
		clear(d.attrs)
	}
	d.attrs[key] = a
	return a, true
}

// labels decodes an object of strings into a.Labels.
func (d *epDecoder) labels(raw []byte, a *calc.EndpointAttrs) bool {
	s := scanner{b: raw}
	if raw == nil || s.null() {
		return true
	}
	a.Labels = map[string]string{}
	s.object(func(key []byte) {
		v, ok := d.string(s.jstringNotNull())
		s.fail = s.fail || !ok
		a.Labels[d.strs.bytes(key)] = v
	})
	return !s.fail
}

// profiles decodes an array of strings into a.Profiles.
func (d *epDecoder) profiles(raw []byte, a *calc.EndpointAttrs) bool {
	s := scanner{b: raw}
	if raw == nil || s.null() {
		return true
	}
	a.Profiles = []string{}
	s.array(func() {
		v, ok := d.string(s.jstringNotNull())
		s.fail = s.fail || !ok
		a.Profiles = append(a.Profiles, v)
	})
	return !s.fail
}

// jstringNotNull reads a string; a null fails the scan (encoding/json
// has its own rules for a null inside a map or a slice).
func (s *scanner) jstringNotNull() jsonString {
	raw, esc := s.str()
	return jsonString{raw: raw, esc: esc}
}

// decodeWEP decodes a whole WorkloadEndpoint (this node's, or one the
// scanner could not take).
func decodeWEP(value []byte) (*v3.WorkloadEndpoint, bool) {
	w := new(v3.WorkloadEndpoint)
	return w, json.Unmarshal(value, w) == nil
}
