package nft

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/calc/policy"
)

// NewNFTables returns the real nftables access for tortie's table. It runs
// nft, so it fails when nft is missing or not permitted. nft runs in the
// network namespace of the thread that calls Apply.
func NewNFTables() (knftables.Interface, error) {
	nft, err := knftables.New(Family, Table)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	path, err := exec.LookPath("nft")
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return &kernelNFT{Interface: nft, path: path}, nil
}

// Config configures an Owner.
type Config struct {
	// NFT accesses tortie's table (required): NewNFTables, or
	// knftables.NewFake(Family, Table) in tests.
	NFT knftables.Interface
	// Log receives a line per rebuild (nil: discard).
	Log *slog.Logger
	// Direct writes changes of set and map elements only (an endpoint
	// coming or going) straight to nf_tables over netlink, in the calling
	// thread's network namespace, instead of through nft (see direct.go).
	// Only for the real kernel: a fake NFT never sees those writes.
	Direct bool
}

// Wanted is every part of the desired state that lives in nftables.
type Wanted struct {
	NAT calc.NAT
	// Policy is what this node enforces (nil: no policy part at all).
	Policy *policy.Program
}

// Owner keeps tortie's table as wanted. It is the only writer of the
// table. It is not safe for concurrent use.
type Owner struct {
	nft    knftables.Interface
	log    *slog.Logger
	direct bool
	// known is the definition and elements the table was last seen or made
	// to hold; Apply with the same input then does no I/O until Forget.
	known *content
	// merged are the last rendering's merged sets, reused while their
	// rules are the same.
	merged *runs
}

// New returns an Owner; cfg.NFT is required.
func New(cfg Config) *Owner {
	o := &Owner{nft: cfg.NFT, log: cfg.Log, direct: cfg.Direct}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Result says what Apply did.
type Result struct {
	// Rebuilt is true when the table was written (whole, or its
	// elements).
	Rebuilt bool
	// ElementsOnly says the write changed set and map elements only.
	ElementsOnly bool
	// MasqPools and AllPools are the sizes of the natOutgoing sets.
	MasqPools, AllPools int
}

// Forget drops what the Owner knows of the table, so the next Apply reads
// it back from the kernel (the periodic resync, to repair drift).
func (o *Owner) Forget() { o.known = nil }

// render merges every part into the table's content; merged collects the
// merged sets (see runs).
func render(w Wanted, merged *runs) (content, error) {
	var c content
	for _, part := range []content{natPart(w.NAT), policyPart(w.Policy, merged), hostPart(w.Policy)} {
		if err := c.merge(part); err != nil {
			return content{}, err
		}
	}
	for i := range c.sets {
		if !c.sets[i].sorted {
			slices.Sort(c.sets[i].elements)
		}
	}
	for i := range c.maps {
		slices.Sort(c.maps[i].elements)
	}
	c.def = c.definition()
	return c, nil
}

// Apply makes tortie's table hold w. The table is read and compared first,
// unless the previous Apply with the same w left it right; it is written, as
// one transaction, only when it differs.
func (o *Owner) Apply(ctx context.Context, w Wanted) (Result, error) {
	merged := newRuns(o.merged)
	want, err := render(w, merged)
	if err != nil {
		return Result{}, err
	}
	o.merged = merged
	res := Result{MasqPools: len(want.sets[0].elements), AllPools: len(want.sets[1].elements)}
	if o.known != nil && equal(*o.known, want) {
		return res, nil
	}
	if o.known != nil {
		// Write only what changed (a pod, a pool, a selector's members, a
		// policy's rules), still in one transaction.
		elementsOnly := o.known.def == want.def
		if elementsOnly && o.direct && o.writeDirect(ctx, want) {
			res.Rebuilt, res.ElementsOnly = true, true
			o.known = &want
			return res, nil
		}
		tx := o.nft.NewTransaction()
		if planUpdate(tx, *o.known, want) {
			err := o.nft.Run(ctx, tx)
			if err == nil {
				res.Rebuilt, res.ElementsOnly = true, elementsOnly
				o.known = &want
				return res, nil
			}
			o.log.Warn("nftables update failed; rebuilding the table", "error", err)
		}
	}
	o.known = nil
	if err := o.writeFresh(ctx, want, &res); err != nil {
		return res, err
	}
	o.known = &want
	return res, nil
}

// writeFresh makes the table, as read back from the kernel, hold want: a
// table that holds it already is not written (a restart writes nothing);
// one that differs gets the difference, as the known table would (a
// restart after a change writes that change); a table that cannot be read
// as tortie's (missing, another version's, or the difference failing) is
// written whole.
func (o *Owner) writeFresh(ctx context.Context, want content, res *Result) error {
	have, ok, err := o.readBack(ctx, want)
	if err != nil {
		return err
	}
	if ok && holds(have, want) {
		return nil
	}
	if ok {
		tx := o.nft.NewTransaction()
		if planUpdate(tx, have, want) {
			err := o.nft.Run(ctx, tx)
			if err == nil {
				res.Rebuilt = true
				o.log.Info("nftables table updated from what it held", "sets", len(want.sets), "chains", len(want.chains))
				return nil
			}
			o.log.Warn("nftables update of the table read back failed; rebuilding it", "error", err)
		}
	}
	tx := o.nft.NewTransaction()
	want.rebuild(tx)
	if err := o.nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("write nftables table %s %s: %w", Family, Table, err)
	}
	res.Rebuilt = true
	o.log.Info("nftables table written", "sets", len(want.sets), "chains", len(want.chains),
		"masqPools", fmt.Sprint(want.sets[0].elements), "allPools", fmt.Sprint(want.sets[1].elements))
	return nil
}

// writeDirect writes the element changes from the known table to want
// over netlink when they can be; ok is false when nothing was written
// (nft then writes them).
func (o *Owner) writeDirect(ctx context.Context, want content) (ok bool) {
	changes, ok := directChanges(*o.known, want)
	if !ok {
		return false
	}
	if err := writeDirect(ctx, changes); err != nil {
		o.log.Warn("direct nftables element write failed; writing through nft", "error", err)
		return false
	}
	return true
}

// equal compares two renderings, definition and elements.
func equal(a, b content) bool {
	if a.def != b.def || len(a.sets) != len(b.sets) || len(a.maps) != len(b.maps) {
		return false
	}
	for i := range a.sets {
		if !sameSlice(a.sets[i].elements, b.sets[i].elements) && !slices.Equal(a.sets[i].elements, b.sets[i].elements) {
			return false
		}
	}
	for i := range a.maps {
		if !slices.Equal(a.maps[i].elements, b.maps[i].elements) {
			return false
		}
	}
	return true
}

// holds reports whether have, a table read back (readBack), is want:
// the same chains, none stale, and the same sets and maps with the same
// elements.
func holds(have, want content) bool {
	if len(have.chains) != len(want.chains) || len(have.sets) != len(want.sets) || len(have.maps) != len(want.maps) {
		return false
	}
	chains := byName(want.chains, chainName)
	for _, ch := range have.chains {
		if _, ok := chains[ch.name]; !ok || ch.stale {
			return false
		}
	}
	sets := byName(want.sets, setName)
	for _, s := range have.sets {
		w, ok := sets[s.name]
		if !ok || !slices.Equal(s.elements, w.elements) {
			return false
		}
	}
	maps := byName(want.maps, mapName)
	for _, m := range have.maps {
		w, ok := maps[m.name]
		if !ok || !slices.Equal(m.elements, w.elements) {
			return false
		}
	}
	return true
}
