package nft

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc/policy"
)

// Family6 is the family of tortie's IPv6 table, "ip6 tortie". Workload
// policy is compiled for IPv4 only; IPv6 is guarded fail-closed: the
// table exists while some local workload has an IPv6 address, and drops
// IPv6 traffic forwarded to or from a workload, and from a workload to its
// host (neighbour discovery apart), unless the workload is open
// (policy.Program.Open): no policy selects it and its profiles allow
// everything, so IPv6 behaves as IPv4 would.
const Family6 = knftables.IPv6Family

// Chain names of the IPv6 table.
const (
	Guard6FwdChain = "guard-fwd"
	Guard6InChain  = "guard-in"
)

// NewNFTables6 returns the real nftables access for the IPv6 table (see
// NewNFTables).
func NewNFTables6() (knftables.Interface, error) {
	nft, err := knftables.New(Family6, Table)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return nft, nil
}

// Guard6 keeps tortie's IPv6 table as the program wants it: present with
// the guard's rules while a local workload has an IPv6 address, absent
// otherwise. It touches no other table. Not safe for concurrent use.
type Guard6 struct {
	nft knftables.Interface
	log *slog.Logger
	// known is the rendering the table was last seen or made to hold (nil:
	// unknown; "" rules: no table).
	known *guard6Table
}

// guard6Table is the IPv6 table's chains and rules; nil chains: no table.
type guard6Table struct {
	chains []chainDef
}

// NewGuard6 returns a Guard6 writing through nft (NewNFTables6, or
// knftables.NewFake(Family6, Table) in tests); log may be nil.
func NewGuard6(nft knftables.Interface, log *slog.Logger) *Guard6 {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard6{nft: nft, log: log}
}

// Forget makes the next Apply read the table back (resync).
func (g *Guard6) Forget() { g.known = nil }

// Apply makes the IPv6 table hold what p wants; changed says it wrote.
func (g *Guard6) Apply(ctx context.Context, p *policy.Program) (changed bool, err error) {
	want := guard6Want(p)
	if g.known != nil && g.known.digest() == want.digest() {
		return false, nil
	}
	g.known = nil
	have, err := g.readBack(ctx, want)
	if err != nil {
		return false, err
	}
	if have.digest() == want.digest() {
		g.known = &want
		return false, nil
	}
	tx := g.nft.NewTransaction()
	if want.chains == nil {
		tx.Add(&knftables.Table{}) // delete even if gone meanwhile
		tx.Delete(&knftables.Table{})
	} else {
		want.rebuild(tx, have.chains != nil)
	}
	if err := g.nft.Run(ctx, tx); err != nil {
		return false, fmt.Errorf("write nftables table %s %s: %w", Family6, Table, err)
	}
	g.known = &want
	g.log.Info("nftables IPv6 guard written", "present", want.chains != nil, "rules", want.ruleCount())
	return true, nil
}

// guard6Want renders the IPv6 table for p: none when no local workload
// has an IPv6 address.
func guard6Want(p *policy.Program) guard6Table {
	if p == nil {
		return guard6Table{}
	}
	var open []string
	has6 := false
	for _, ep := range p.Endpoints {
		for _, a := range ep.Addrs {
			has6 = has6 || a.Addr().Is6()
		}
		if p.Open(ep) {
			open = append(open, ep.Interface)
		}
	}
	if !has6 {
		return guard6Table{}
	}
	slices.Sort(open)
	wl := quote(workloadIface)
	closed := func(dir string) string { // a closed workload's interface as dir
		if len(open) == 0 {
			return dir + " " + wl
		}
		q := make([]string, len(open))
		for i, o := range open {
			q[i] = quote(o)
		}
		return fmt.Sprintf("%s %s %s != { %s }", dir, wl, dir, strings.Join(q, ", "))
	}
	fwd := []string{"ct state established,related accept",
		closed("iifname") + " drop", closed("oifname") + " drop"}
	in := []string{"iifname " + wl + " ct state established,related accept",
		"iifname " + wl + " icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept",
		"iifname " + wl + " ct state invalid drop"}
	if p.EndpointToHost == "Accept" || p.EndpointToHost == "Return" {
		in = append(in, closed("iifname")+" drop")
	} else {
		in = append(in, "iifname "+wl+" drop")
	}
	return guard6Table{chains: []chainDef{
		{name: Guard6FwdChain, typ: knftables.FilterType, hook: knftables.ForwardHook, priority: knftables.FilterPriority, rules: fwd},
		{name: Guard6InChain, typ: knftables.FilterType, hook: knftables.InputHook, priority: knftables.FilterPriority, rules: in},
	}}
}

// digest identifies the table's content; every rule's comment carries it,
// so a restart reads back whether the table is right.
func (t guard6Table) digest() string {
	if t.chains == nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprint(h, schema, "\x00guard6\x00")
	for _, ch := range t.chains {
		fmt.Fprintf(h, "%s %s %s %s\x00", ch.name, ch.typ, ch.hook, ch.priority)
		for _, r := range ch.rules {
			h.Write([]byte(r + "\x00"))
		}
	}
	return "tortie " + hex.EncodeToString(h.Sum(nil)[:6])
}

func (t guard6Table) ruleCount() int {
	n := 0
	for _, ch := range t.chains {
		n += len(ch.rules)
	}
	return n
}

// rebuild adds to tx the replacement of the whole table by t (exists: the
// table is there, so it is deleted first), in one transaction.
func (t guard6Table) rebuild(tx *knftables.Transaction, exists bool) {
	comment := knftables.PtrTo("tortie-node")
	if exists {
		tx.Add(&knftables.Table{Comment: comment})
		tx.Delete(&knftables.Table{})
	}
	tx.Add(&knftables.Table{Comment: comment})
	digest := knftables.PtrTo(t.digest())
	for _, ch := range t.chains {
		addChain(tx, ch)
		for _, r := range ch.rules {
			tx.Add(&knftables.Rule{Chain: ch.name, Rule: r, Comment: digest})
		}
	}
}

// readBack reads the table: no chains when there is none; want itself
// when every wanted chain holds as many rules as wanted, each carrying
// want's digest, and there is no other chain; otherwise a table that
// differs from want (present, to be replaced).
func (g *Guard6) readBack(ctx context.Context, want guard6Table) (guard6Table, error) {
	names, err := g.nft.List(ctx, "chains")
	if knftables.IsNotFound(err) || (err == nil && len(names) == 0) {
		return guard6Table{}, nil // none, or no chain in it: nothing guarded
	}
	if err != nil {
		return guard6Table{}, fmt.Errorf("read nftables table %s %s: %w", Family6, Table, err)
	}
	stale := guard6Table{chains: []chainDef{}}
	if len(names) != len(want.chains) {
		return stale, nil
	}
	d := want.digest()
	for _, ch := range want.chains {
		if !slices.Contains(names, ch.name) {
			return stale, nil
		}
		rules, err := g.nft.ListRules(ctx, ch.name)
		if err != nil {
			return guard6Table{}, fmt.Errorf("read nftables table %s %s: %w", Family6, Table, err)
		}
		if len(rules) != len(ch.rules) {
			return stale, nil
		}
		for _, r := range rules {
			if r.Comment == nil || *r.Comment != d {
				return stale, nil
			}
		}
	}
	return want, nil
}
