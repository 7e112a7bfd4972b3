package nft

import (
	"github.com/tortienet/tortie/internal/calc/policy"

	"sigs.k8s.io/knftables"
)

// Host endpoints: once a host interface has a HostEndpoint, traffic to the
// host through it and from the host out of it passes the endpoint's policy
// and is dropped when nothing allows it, as Calico does; connection
// tracking and Felix's failsafe ports come first, so that a bad policy can
// never cut the node off its SSH, BGP, datastore and API server.
const (
	HostInChain  = "host-input"
	HostOutChain = "host-output"
	HostInMap    = "hep-in-dispatch"
	HostOutMap   = "hep-out-dispatch"
)

// Felix's default failsafe ports (failsafeInboundHostPorts and
// failsafeOutboundHostPorts).
var (
	failsafeIn  = []string{"tcp dport { 22, 179, 2379, 2380, 5473, 6443, 6666, 6667 } accept", "udp dport 68 accept"}
	failsafeOut = []string{"tcp dport { 179, 2379, 2380, 5473, 6443, 6666, 6667 } accept", "udp dport { 53, 67 } accept"}
)

// hostPart renders the host endpoints' hooks and dispatch; nothing when
// the node has none.
func hostPart(p *policy.Program) content {
	if p == nil || len(p.HostEndpoints) == 0 {
		return content{}
	}
	in := mapDef{name: HostInMap, typ: "ifname : verdict"}
	out := mapDef{name: HostOutMap, typ: "ifname : verdict"}
	for _, e := range p.HostEndpoints {
		in.elements = append(in.elements, e.Interface+" : jump "+e.In)
		out.elements = append(out.elements, e.Interface+" : jump "+e.Out)
	}
	fsIn, fsOut := failsafeIn, failsafeOut
	if p.FailsafeIn != nil {
		fsIn = failsafe(*p.FailsafeIn)
	}
	if p.FailsafeOut != nil {
		fsOut = failsafe(*p.FailsafeOut)
	}
	hook := func(name string, h knftables.BaseChainHook, fs []string, dispatch string) chainDef {
		rules := []string{"ct state established,related accept", "ct state invalid drop"}
		rules = append(rules, fs...)
		rules = append(rules, clearMarks, dispatch)
		return chainDef{name: name, typ: knftables.FilterType, hook: h, priority: knftables.FilterPriority, rules: rules}
	}
	return content{
		maps: []mapDef{in, out},
		chains: []chainDef{
			hook(HostInChain, knftables.InputHook, fsIn, "iifname vmap @"+HostInMap),
			hook(HostOutChain, knftables.OutputHook, fsOut, "oifname vmap @"+HostOutMap),
		},
	}
}
