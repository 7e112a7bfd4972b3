package nft

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"sigs.k8s.io/knftables"
)

// Family and Table name tortie's nftables table.
const (
	Family = knftables.IPv4Family
	Table  = "tortie"
)

// content is what one part, or the whole table, wants: sets with their
// elements and chains with their rules, under names the part alone uses.
type content struct {
	sets   []setDef
	maps   []mapDef
	chains []chainDef
	def    string // definition(), once the content is complete (render)
}

// setDef is a set. Its elements are keys in canonical form (see
// canonical; the parts of a concatenation joined by " . "), sorted.
type setDef struct {
	name, typ string
	flags     []knftables.SetFlag
	elements  []string
	sorted    bool // elements are sorted already (render need not)
}

// mapDef is a map; its elements are "key : value", sorted.
type mapDef struct {
	name, typ string
	elements  []string
}

// chainDef is a chain: a base chain when hook is set, a regular one
// otherwise.
type chainDef struct {
	name     string
	typ      knftables.BaseChainType
	hook     knftables.BaseChainHook
	priority knftables.BaseChainPriority
	rules    []string
	// stale marks a chain read back from the kernel whose rules are not
	// what tortie wants (readBack): its rules, and for a base chain its
	// declaration, are unknown.
	stale bool
}

// merge adds o's objects to c; a name used twice is a programming error
// of the parts, reported rather than resolved.
func (c *content) merge(o content) error {
	names := map[string]bool{}
	for _, s := range c.sets {
		names["set "+s.name] = true
	}
	for _, m := range c.maps {
		names["map "+m.name] = true
	}
	for _, ch := range c.chains {
		names["chain "+ch.name] = true
	}
	defined := func(kind, name string) error {
		if names[kind+" "+name] {
			return fmt.Errorf("nftables: two parts define %s %s", kind, name)
		}
		return nil
	}
	for _, s := range o.sets {
		if err := defined("set", s.name); err != nil {
			return err
		}
		c.sets = append(c.sets, s)
	}
	for _, m := range o.maps {
		if err := defined("map", m.name); err != nil {
			return err
		}
		c.maps = append(c.maps, m)
	}
	for _, ch := range o.chains {
		if err := defined("chain", ch.name); err != nil {
			return err
		}
		c.chains = append(c.chains, ch)
	}
	return nil
}

// definition is everything that shapes the table besides set elements.
func (c content) definition() string {
	var b strings.Builder
	for _, s := range c.sets {
		fmt.Fprintf(&b, "set %s %s %v; ", s.name, s.typ, s.flags)
	}
	for _, m := range c.maps {
		fmt.Fprintf(&b, "map %s %s; ", m.name, m.typ)
	}
	for _, ch := range c.chains {
		fmt.Fprintf(&b, "chain %s %s %s %s; ", ch.name, ch.typ, ch.hook, ch.priority)
		for _, r := range ch.rules {
			b.WriteString(r + "; ")
		}
	}
	return b.String()
}

// schema changes when tortie changes how it declares sets and maps (their
// types and flags follow from their names, which the rules' digests
// cover), so that a table written by another version is rebuilt.
const schema = "tortie-nft-1"

// comment marks every rule of the chain with the digest of the chain's
// definition: a chain whose rules read back with another digest (or
// another count) is rewritten.
func (ch chainDef) comment() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s %s %s %s\x00", schema, ch.name, ch.typ, ch.hook, ch.priority)
	for _, r := range ch.rules {
		h.Write([]byte(r + "\x00"))
	}
	return "tortie " + hex.EncodeToString(h.Sum(nil)[:6])
}

// addChain adds ch, empty, to tx.
func addChain(tx *knftables.Transaction, ch chainDef) {
	chain := &knftables.Chain{Name: ch.name}
	if ch.hook != "" {
		chain.Type, chain.Hook, chain.Priority = &ch.typ, &ch.hook, &ch.priority
	}
	tx.Add(chain)
}

// addRules adds ch's rules to tx.
func addRules(tx *knftables.Transaction, ch chainDef) {
	comment := knftables.PtrTo(ch.comment())
	for _, r := range ch.rules {
		tx.Add(&knftables.Rule{Chain: ch.name, Rule: r, Comment: comment})
	}
}

// rebuild adds to tx the replacement of the whole table by c.
func (c content) rebuild(tx *knftables.Transaction) {
	comment := knftables.PtrTo("tortie-node")
	tx.Add(&knftables.Table{Comment: comment})
	tx.Delete(&knftables.Table{})
	tx.Add(&knftables.Table{Comment: comment})
	for _, s := range c.sets {
		tx.Add(&knftables.Set{Name: s.name, Type: s.typ, Flags: s.flags})
	}
	for _, m := range c.maps {
		tx.Add(&knftables.Map{Name: m.name, Type: m.typ})
	}
	// Every chain first: rules jump to chains defined after them.
	for _, ch := range c.chains {
		addChain(tx, ch)
	}
	for _, ch := range c.chains {
		addRules(tx, ch)
	}
	for _, s := range c.sets {
		for _, e := range s.elements {
			tx.Add(setElement(s.name, e))
		}
	}
	for _, m := range c.maps {
		for _, e := range m.elements {
			tx.Add(mapElement(m.name, e))
		}
	}
}

func setElement(set, e string) *knftables.Element {
	return &knftables.Element{Set: set, Key: strings.Split(e, " . ")}
}

func mapElement(m, e string) *knftables.Element {
	k, v, _ := strings.Cut(e, " : ")
	return &knftables.Element{Map: m, Key: strings.Split(k, " . "), Value: []string{v}}
}

// canonical returns an element of a set of type typ in the form parts
// give it, from the form nft prints it in; ok is false for an element
// tortie would not have written.
func canonical(typ, key string) (string, bool) {
	if typ != "ipv4_addr" {
		return key, true
	}
	p, ok := parseKey(key)
	if !ok {
		return "", false
	}
	return p.String(), true
}

// parseKey reads an address element as nft prints it: a prefix, or a bare
// address for a /32.
func parseKey(k string) (netip.Prefix, bool) {
	if strings.Contains(k, "/") {
		p, err := netip.ParsePrefix(k)
		return p, err == nil
	}
	a, err := netip.ParseAddr(k)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, 32), true
}
