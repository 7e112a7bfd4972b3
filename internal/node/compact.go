package node

import (
	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
)

// compactOf is the compact form of another node's endpoint decoded whole
// (when epDecoder could not take it): what epDecoder would have made,
// with the strings interned but attributes of its own.
func (d *epDecoder) compactOf(w *v3.WorkloadEndpoint) calc.Endpoint {
	ep := calc.Endpoint{Node: d.strs.get(w.Spec.Node), ID: w.Namespace + "/" + w.Name}
	a := &calc.EndpointAttrs{Namespace: d.strs.get(w.Namespace), Orchestrator: d.strs.get(w.Spec.Orchestrator),
		ServiceAccount: d.strs.get(w.Spec.ServiceAccountName)}
	if w.Labels != nil {
		a.Labels = make(map[string]string, len(w.Labels))
		for k, v := range w.Labels {
			a.Labels[d.strs.get(k)] = d.strs.get(v)
		}
	}
	for _, p := range w.Spec.Profiles {
		a.Profiles = append(a.Profiles, d.strs.get(p))
	}
	a.Ports = w.Spec.Ports
	ep.Attrs = a
	for _, n := range w.Spec.IPNetworks {
		ep.AddNet(n)
	}
	return ep
}

// interner keeps one copy of each string; the view starts a new one with
// every full list, and when it grows past maxInterned.
type interner map[string]string

const maxInterned = 1 << 20

func (t interner) get(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := t[s]; ok {
		return c
	}
	if len(t) > maxInterned {
		clear(t)
	}
	t[s] = s
	return s
}

// bytes is get for the string b holds (copied only when new).
func (t interner) bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if c, ok := t[string(b)]; ok {
		return c
	}
	return t.get(string(b))
}
