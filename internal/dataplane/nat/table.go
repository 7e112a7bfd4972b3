package nat

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc"
)

// Names in tortie's table.
const (
	// Family and Table name tortie's nftables table.
	Family = knftables.IPv4Family
	Table  = "tortie"
	// MasqSet holds the CIDRs of the pools with natOutgoing.
	MasqSet = "masq-ipam-pools"
	// AllSet holds the CIDRs of all pools.
	AllSet = "all-ipam-pools"
	// Chain is the postrouting NAT chain.
	Chain = "nat-outgoing"
)

// rule is the one masquerade rule.
const rule = "ip saddr @" + MasqSet + " ip daddr != @" + AllSet + " masquerade"

// definition is everything that shapes the table besides set contents; its
// digest goes into the rule's comment.
const definition = "set ipv4_addr interval; chain nat postrouting srcnat; " + rule

// ruleComment marks the rule with the definition's digest.
func ruleComment() string {
	sum := sha256.Sum256([]byte(definition))
	return "tortie natOutgoing " + hex.EncodeToString(sum[:6])
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

// state is the wanted (or found) content of the table.
type state struct {
	masq, all pools
}

func wanted(n calc.NAT) state {
	return state{masq: normalise(n.MasqPools), all: normalise(n.AllPools)}
}

func (s state) equal(o state) bool {
	return slices.Equal(s.masq, o.masq) && slices.Equal(s.all, o.all)
}

// rebuild adds to tx the replacement of the whole table by s.
func rebuild(tx *knftables.Transaction, s state) {
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("tortie-node: natOutgoing")})
	tx.Delete(&knftables.Table{})
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("tortie-node: natOutgoing")})
	for _, name := range []string{MasqSet, AllSet} {
		tx.Add(&knftables.Set{Name: name, Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.IntervalFlag}})
	}
	tx.Add(&knftables.Chain{
		Name:     Chain,
		Type:     knftables.PtrTo(knftables.NATType),
		Hook:     knftables.PtrTo(knftables.PostroutingHook),
		Priority: knftables.PtrTo(knftables.SNATPriority),
	})
	tx.Add(&knftables.Rule{Chain: Chain, Rule: rule, Comment: knftables.PtrTo(ruleComment())})
	for _, e := range []struct {
		set string
		ps  pools
	}{{MasqSet, s.masq}, {AllSet, s.all}} {
		for _, p := range e.ps {
			tx.Add(&knftables.Element{Set: e.set, Key: []string{p.String()}})
		}
	}
}
