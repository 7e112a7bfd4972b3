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

// failsafeRules renders failsafe entries as accept rules: those without a
// net grouped by protocol, one rule each, and one rule per entry with a
// net (the peer's address: the source for in, the destination for out).
// port is "dport", or "sport" for the answers let through before
// connection tracking.
func failsafeRules(ports []policy.ProtoPort, port string, in bool) []string {
	peer := "ip daddr "
	if in {
		peer = "ip saddr "
	}
	byProto := map[string][]string{}
	var netted []string
	for _, p := range ports {
		if p.Net.IsValid() {
			netted = append(netted, fmt.Sprintf("%s%s %s %s %d accept", peer, p.Net, p.Protocol, port, p.Port))
			continue
		}
		if s := fmt.Sprint(p.Port); !slices.Contains(byProto[p.Protocol], s) {
			byProto[p.Protocol] = append(byProto[p.Protocol], s)
		}
	}
	var out []string
	for _, proto := range slices.Sorted(maps.Keys(byProto)) {
		ps := byProto[proto]
		list := ps[0]
		if len(ps) > 1 {
			list = "{ " + strings.Join(ps, ", ") + " }"
		}
		out = append(out, fmt.Sprintf("%s %s %s accept", proto, port, list))
	}
	return append(out, netted...)
}
