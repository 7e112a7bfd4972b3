package node

import v3 "github.com/tortienet/tortie/api/v3"

// compactEndpoint is what the agent keeps of another node's workload
// endpoint: what routing and policy read (name, namespace, labels, node,
// addresses, profiles, service account, orchestrator, pod, named ports),
// with the strings many endpoints share (label keys and values, the
// namespace, the node, profiles) stored once.
func compactEndpoint(w *v3.WorkloadEndpoint, intern interner) *v3.WorkloadEndpoint {
	c := &v3.WorkloadEndpoint{}
	c.Name, c.Namespace = w.Name, intern.get(w.Namespace)
	if len(w.Labels) > 0 {
		c.Labels = make(map[string]string, len(w.Labels))
		for k, v := range w.Labels {
			c.Labels[intern.get(k)] = intern.get(v)
		}
	}
	s := &c.Spec
	s.Node, s.Orchestrator, s.Pod = intern.get(w.Spec.Node), intern.get(w.Spec.Orchestrator), w.Spec.Pod
	s.ServiceAccountName = intern.get(w.Spec.ServiceAccountName)
	s.IPNetworks = w.Spec.IPNetworks
	for _, p := range w.Spec.Profiles {
		s.Profiles = append(s.Profiles, intern.get(p))
	}
	for _, p := range w.Spec.Ports {
		s.Ports = append(s.Ports, v3.WorkloadEndpointPort{Name: intern.get(p.Name), Protocol: p.Protocol, Port: p.Port})
	}
	return c
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
	t[s] = s
	return s
}
