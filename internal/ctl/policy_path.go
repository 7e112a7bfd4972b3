package ctl

import (
	"fmt"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
)

// explainPath decides pkt as the node agents enforce it: through the host
// endpoints its addresses place it on (policy.Model.PathBetween), with the
// failsafe ports of the node whose host endpoint it crosses, and, for a
// workload reaching its own host, defaultEndpointToHostAction after its
// egress policy. notes say what the model alone does not.
func explainPath(m *policy.Model, felix []v3.Resource, pkt policy.Packet, via policy.Path) (v policy.Verdict, notes []string) {
	path := m.PathBetween(pkt.Src, pkt.Dst)
	if via.In != nil {
		path.In = via.In
	}
	if via.Out != nil {
		path.Out = via.Out
	}
	src, dst := m.HostEndpointAt(pkt.Src), m.HostEndpointAt(pkt.Dst)
	if path.In == nil && path.Out == nil && src != nil && dst != nil && src.Node == dst.Node {
		return policy.Verdict{Allowed: true}, []string{"the host talking to itself crosses no host endpoint"}
	}
	node := ""
	for _, e := range []*policy.Entity{path.In, path.Out} {
		if e != nil {
			node = e.Node
		}
	}
	if m.ToOwnHost(pkt.Src, pkt.Dst) {
		node = m.HostEndpointAt(pkt.Dst).Node
	}
	spec := felixFor(felix, node)
	fs := policy.FailsafesFrom(spec.FailsafeInboundHostPorts, spec.FailsafeOutboundHostPorts)
	path.Failsafes = &fs
	if m.ToOwnHost(pkt.Src, pkt.Dst) && path.In == nil {
		// Only the workload's egress policy, then the action.
		d := m.Decide(m.Endpoint(pkt.Src), policy.Egress, pkt)
		v = policy.Verdict{Allowed: d.Allowed, Egress: &d}
	} else {
		v = m.EvaluatePath(pkt, path)
	}
	if v.Allowed && m.ToOwnHost(pkt.Src, pkt.Dst) && path.In == nil {
		action := spec.DefaultEndpointToHostAction
		if action == "" {
			action = "Drop"
		}
		v.Allowed = action != "Drop"
		notes = append(notes, fmt.Sprintf("to its own host: defaultEndpointToHostAction %s", action))
	}
	return v, notes
}

// felixFor merges the FelixConfiguration fields explain reads: the
// cluster's ("default"), then the node's own ("node.<name>") where set.
func felixFor(rs []v3.Resource, node string) v3.FelixConfigurationSpec {
	var out v3.FelixConfigurationSpec
	for _, name := range []string{"default", "node." + node} {
		for _, r := range rs {
			fc, ok := r.(*v3.FelixConfiguration)
			if !ok || fc.Name != name {
				continue
			}
			if fc.Spec.FailsafeInboundHostPorts != nil {
				out.FailsafeInboundHostPorts = fc.Spec.FailsafeInboundHostPorts
			}
			if fc.Spec.FailsafeOutboundHostPorts != nil {
				out.FailsafeOutboundHostPorts = fc.Spec.FailsafeOutboundHostPorts
			}
			if fc.Spec.DefaultEndpointToHostAction != "" {
				out.DefaultEndpointToHostAction = fc.Spec.DefaultEndpointToHostAction
			}
		}
	}
	return out
}
