package nft

import (
	"net/netip"
	"slices"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc"
)

// The natOutgoing part's names in tortie's table.
const (
	// MasqSet holds the CIDRs of the pools with natOutgoing.
	MasqSet = "masq-ipam-pools"
	// AllSet holds the CIDRs of all pools.
	AllSet = "all-ipam-pools"
	// NATChain is the postrouting NAT chain.
	NATChain = "nat-outgoing"
)

// natRule is the one masquerade rule.
const natRule = "ip saddr @" + MasqSet + " ip daddr != @" + AllSet + " masquerade"

// natPart renders natOutgoing.
func natPart(n calc.NAT) content {
	set := func(name string, ps pools) setDef {
		s := setDef{name: name, typ: "ipv4_addr", flags: []knftables.SetFlag{knftables.IntervalFlag}}
		for _, p := range ps {
			s.elements = append(s.elements, p.String())
		}
		return s
	}
	return content{
		sets: []setDef{set(MasqSet, normalise(n.MasqPools)), set(AllSet, normalise(n.AllPools))},
		chains: []chainDef{{
			name: NATChain, typ: knftables.NATType, hook: knftables.PostroutingHook,
			priority: knftables.SNATPriority, rules: []string{natRule},
		}},
	}
}

// pools is a normalised pool list: IPv4, masked, sorted, without
// duplicates or prefixes inside others (interval sets reject overlaps).
type pools []netip.Prefix

func normalise(ps []netip.Prefix) pools {
	var out pools
	for _, p := range ps {
		if p.IsValid() && p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	out = slices.Compact(out)
	// Sorted by address then length: a prefix that holds a later one comes
	// first, so one pass drops every prefix inside a kept one.
	kept := out[:0]
	for _, p := range out {
		if len(kept) > 0 && kept[len(kept)-1].Overlaps(p) {
			continue
		}
		kept = append(kept, p)
	}
	return kept
}
