package nft

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc/policy"
)

// WLToHostChain handles traffic from workloads to their own host: the
// workload's egress policy (the same dispatch as forwarded traffic), then
// defaultEndpointToHostAction.
const WLToHostChain = "wl-to-host"

func toHostChain(p *policy.Program) chainDef {
	wl := "iifname " + quote(workloadIface) + " "
	rules := []string{wl + "ct state established,related accept", wl + "ct state invalid drop", wl + "jump " + FromWLChain}
	switch p.EndpointToHost {
	case "Accept":
		rules = append(rules, wl+"accept")
	case "Return":
	default: // Drop, Calico's default
		rules = append(rules, wl+"drop")
	}
	return chainDef{name: WLToHostChain, typ: knftables.FilterType, hook: knftables.InputHook, priority: knftables.FilterPriority, rules: rules}
}

// failsafe renders failsafe ports as accept rules, one per protocol.
func failsafe(ports []policy.ProtoPort) []string {
	byProto := map[string][]string{}
	for _, p := range ports {
		proto := strings.ToLower(p.Protocol)
		byProto[proto] = append(byProto[proto], fmt.Sprint(p.Port))
	}
	var out []string
	for _, proto := range slices.Sorted(maps.Keys(byProto)) {
		out = append(out, fmt.Sprintf("%s dport { %s } accept", proto, strings.Join(byProto[proto], ", ")))
	}
	return out
}
