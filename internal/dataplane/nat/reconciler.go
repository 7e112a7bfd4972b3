package nat

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc"
)

// NewNFTables returns the real nftables access for tortie's table. It runs
// nft, so it fails when nft is missing or not permitted. nft runs in the
// network namespace of the thread that calls Apply.
func NewNFTables() (knftables.Interface, error) {
	nft, err := knftables.New(Family, Table)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return nft, nil
}

// Config configures a Reconciler.
type Config struct {
	// NFT accesses tortie's table (required): NewNFTables, or
	// knftables.NewFake(Family, Table) in tests.
	NFT knftables.Interface
	// Log receives a line per rebuild (nil: discard).
	Log *slog.Logger
}

// Reconciler keeps tortie's NAT table as wanted. It is not safe for
// concurrent use.
type Reconciler struct {
	nft knftables.Interface
	log *slog.Logger
	// known is what the table was last seen or made to hold; Apply with the
	// same input then does no I/O until Forget.
	known *state
}

// New returns a Reconciler; cfg.NFT is required.
func New(cfg Config) *Reconciler {
	r := &Reconciler{nft: cfg.NFT, log: cfg.Log}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Result says what Apply did.
type Result struct {
	// Rebuilt is true when the table was written.
	Rebuilt bool
	// MasqPools and AllPools are the sizes of the sets.
	MasqPools, AllPools int
}

// Forget drops what the Reconciler knows of the table, so the next Apply
// reads it back from the kernel (the periodic resync, to repair drift).
func (r *Reconciler) Forget() { r.known = nil }

// Apply makes tortie's table hold n. The table is read and compared first,
// unless the previous Apply with the same n left it right; it is written, as
// one transaction, only when it differs.
func (r *Reconciler) Apply(ctx context.Context, n calc.NAT) (Result, error) {
	want := wanted(n)
	res := Result{MasqPools: len(want.masq), AllPools: len(want.all)}
	if r.known != nil && r.known.equal(want) {
		return res, nil
	}
	r.known = nil
	same, err := r.matches(ctx, want)
	if err != nil {
		return res, err
	}
	if !same {
		tx := r.nft.NewTransaction()
		rebuild(tx, want)
		if err := r.nft.Run(ctx, tx); err != nil {
			return res, fmt.Errorf("write nftables table %s %s: %w", Family, Table, err)
		}
		res.Rebuilt = true
		r.log.Info("natOutgoing table written", "masqPools", fmt.Sprint(want.masq), "allPools", fmt.Sprint(want.all))
	}
	r.known = &want
	return res, nil
}

// matches reports whether the table holds exactly want with the current
// definition.
func (r *Reconciler) matches(ctx context.Context, want state) (bool, error) {
	rules, err := r.nft.ListRules(ctx, Chain)
	if knftables.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read nftables chain %s: %w", Chain, err)
	}
	if len(rules) != 1 || rules[0].Comment == nil || *rules[0].Comment != ruleComment() {
		return false, nil
	}
	for _, s := range []struct {
		name string
		want pools
	}{{MasqSet, want.masq}, {AllSet, want.all}} {
		got, ok, err := r.elements(ctx, s.name)
		if err != nil || !ok {
			return false, err
		}
		if len(got) != len(s.want) || !slices.Equal(normalise(got), s.want) {
			return false, nil
		}
	}
	return true, nil
}

// elements reads a set; ok is false when the set is missing or holds
// something tortie would not have written.
func (r *Reconciler) elements(ctx context.Context, set string) (pools, bool, error) {
	es, err := r.nft.ListElements(ctx, "set", set)
	if knftables.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read nftables set %s: %w", set, err)
	}
	var out pools
	for _, e := range es {
		if len(e.Key) != 1 {
			return nil, false, nil
		}
		p, ok := parseKey(e.Key[0])
		if !ok {
			return nil, false, nil
		}
		out = append(out, p)
	}
	return out, true, nil
}

// parseKey reads an element as nft prints it: a prefix, or a bare address
// for a /32.
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
