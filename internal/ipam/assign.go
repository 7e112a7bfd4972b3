package ipam

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// AutoAssignArgs is one request for addresses.
type AutoAssignArgs struct {
	Num4, Num6 int
	// HandleID names the owner (for CNI: "<network>.<containerID>"); required.
	HandleID string
	// Attrs are recorded with the allocation (node, namespace, pod, ...).
	Attrs map[string]string
	// Hostname is the node the addresses are for; required.
	Hostname string
	// IPv4Pools and IPv6Pools, when set, are the only pools to use (CIDRs
	// or pool names); selectors and assignmentMode are then ignored.
	IPv4Pools, IPv6Pools []string
	// MaxBlocksPerHost caps the host's blocks (0: the configured cap).
	MaxBlocksPerHost int
	// IntendedUse is Workload (default) or Tunnel.
	IntendedUse v3.IPPoolAllowedUse
	// NamespaceLabels, when not nil, are matched by pools' namespaceSelector.
	NamespaceLabels map[string]string
	// NewHandle: the handle is expected not to exist (a container's
	// first ADD), so it is not read first; if it does exist, nothing is
	// allocated and the error wraps ErrHandleInUse. Without it, addresses
	// are added to an existing handle.
	NewHandle bool
}

// ErrHandleInUse: AutoAssign with NewHandle found the handle holding
// addresses already.
var ErrHandleInUse = errors.New("the handle holds addresses already")

// AutoAssign allocates the requested addresses, each returned with its
// block's prefix length (10.244.1.5/26), as Calico returns them. It is all
// or nothing: on error, whatever it had allocated is released again.
func (m *IPAM) AutoAssign(ctx context.Context, a AutoAssignArgs) (v4, v6 []netip.Prefix, err error) {
	if a.HandleID == "" || a.Hostname == "" {
		return nil, nil, fmt.Errorf("assign: handle (%q) and hostname (%q) are required", a.HandleID, a.Hostname)
	}
	if a.Num4 < 0 || a.Num6 < 0 || a.Num4+a.Num6 == 0 {
		return nil, nil, fmt.Errorf("assign: asked for %d IPv4 and %d IPv6 addresses", a.Num4, a.Num6)
	}
	if a.IntendedUse == "" {
		a.IntendedUse = v3.AllowedUseWorkload
	}
	attrs := m.stamp(a.Attrs)
	if m.cache != nil && batchable(a) {
		switch r := m.assignBatched(ctx, a, attrs); {
		case r.served:
			return r.ips, nil, r.err
		case r.err != nil:
			return nil, nil, r.err
		}
	}
	snap, err := m.readSnapshot(ctx, a.Hostname)
	if err != nil {
		return nil, nil, err
	}
	hs := &handleState{id: a.HandleID, mustBeNew: a.NewHandle}
	if a.Num4 > 0 {
		if v4, err = m.assignFamily(ctx, snap, a, hs, attrs, false); err != nil {
			return nil, nil, err
		}
	}
	if a.Num6 > 0 {
		if v6, err = m.assignFamily(ctx, snap, a, hs, attrs, true); err != nil {
			m.undo(ctx, a.HandleID, v4)
			return nil, nil, err
		}
	}
	return v4, v6, nil
}

// stamp adds the allocation timestamp as Calico formats it.
func (m *IPAM) stamp(attrs map[string]string) map[string]string {
	out := maps.Clone(attrs)
	if out == nil {
		out = map[string]string{}
	}
	if _, ok := out[AttrTimestamp]; !ok {
		out[AttrTimestamp] = m.now().UTC().String()
	}
	return out
}

func (m *IPAM) assignFamily(ctx context.Context, snap *snapshot, a AutoAssignArgs, hs *handleState, attrs map[string]string, v6 bool) ([]netip.Prefix, error) {
	f := &familyAssign{m: m, snap: snap, a: a, hs: hs, attrs: attrs, num: a.Num4, fam: "ipv4", ver: 4}
	requested := a.IPv4Pools
	if v6 {
		f.num, requested, f.fam, f.ver = a.Num6, a.IPv6Pools, "ipv6", 6
	}
	pools, err := selectPools(snap.pools, v6, requested, snap.nodeLabels, a.NamespaceLabels, a.IntendedUse)
	if err != nil {
		return nil, err
	}
	if len(pools) == 0 {
		return nil, fmt.Errorf("%w for IPv%d on node %s (use %s)", ErrNoPools, f.ver, a.Hostname, a.IntendedUse)
	}
	f.pools = pools
	if err := f.run(ctx); err != nil {
		m.undo(ctx, a.HandleID, f.got)
		return nil, err
	}
	return f.got, nil
}

// familyAssign is one family's share of an AutoAssign: it takes addresses
// from the host's blocks, then new blocks, then other hosts' blocks, until
// it has num of them.
type familyAssign struct {
	m        *IPAM
	snap     *snapshot
	a        AutoAssignArgs
	hs       *handleState
	attrs    map[string]string
	num, ver int
	fam      string
	pools    []pool
	affine   []netip.Prefix // the host's blocks, including those claimed here
	limit    int            // the block cap (0: none)
	limitHit bool
	got      []netip.Prefix
}

// run assigns; on error, what it took is in f.got for the caller to undo.
func (f *familyAssign) run(ctx context.Context) error {
	var err error
	if f.affine, err = f.m.hostBlocks(ctx, f.a.Hostname, f.fam); err != nil {
		return err
	}
	if err := f.fromAffine(ctx); err != nil {
		return err
	}
	if err := f.fromNewBlocks(ctx); err != nil {
		return err
	}
	if len(f.got) < f.num && !f.snap.cfg.StrictAffinity {
		err := f.m.borrow(ctx, f.pools, f.fam, f.a.Hostname, f.snap.reserved, func(cidr netip.Prefix) (bool, error) {
			err := f.take(ctx, cidr, "", false)
			return len(f.got) >= f.num, err
		})
		if err != nil {
			return err
		}
	}
	if len(f.got) < f.num {
		return f.shortError()
	}
	return nil
}

// take allocates what is still wanted from the block cidr.
func (f *familyAssign) take(ctx context.Context, cidr netip.Prefix, expectHost string, cached bool) error {
	ips, err := f.m.allocateInBlock(ctx, cidr, f.num-len(f.got), f.hs, f.attrs, f.snap.reserved, expectHost, cached)
	for _, ip := range ips {
		f.got = append(f.got, netip.PrefixFrom(ip, cidr.Bits()))
	}
	return err
}

// fromAffine takes from the host's own blocks in the chosen pools. With a
// cache, blocks it believes full are skipped without a read; before
// claiming a new block they are all read again, in case addresses were
// released elsewhere.
func (f *familyAssign) fromAffine(ctx context.Context) error {
	for _, cached := range []bool{true, false} {
		if cached && f.m.cache == nil {
			continue
		}
		for _, cidr := range f.affine {
			if !cached && f.m.cache.fresh(cidr, f.m.now()) {
				continue // the first pass used a copy young enough to trust
			}
			if len(f.got) < f.num && inPools(f.pools, cidr) {
				if err := f.take(ctx, cidr, f.a.Hostname, cached); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fromNewBlocks claims new blocks for the host, up to the cap.
func (f *familyAssign) fromNewBlocks(ctx context.Context) error {
	f.limit = blockCap(f.snap.cfg, f.a.MaxBlocksPerHost)
	for len(f.got) < f.num && f.snap.cfg.AutoAllocateBlocks {
		if f.limit > 0 && len(f.affine) >= f.limit {
			f.limitHit = true
			return nil
		}
		cidr, err := f.m.claimBlock(ctx, f.a.Hostname, f.pools, f.snap.reserved)
		if errors.Is(err, errNoFreeBlocks) {
			return nil
		}
		if err != nil {
			return err
		}
		f.affine = append(f.affine, cidr)
		if err := f.take(ctx, cidr, f.a.Hostname, true); err != nil {
			return err
		}
	}
	return nil
}

// shortError says why fewer than num addresses were found.
func (f *familyAssign) shortError() error {
	switch {
	case f.limitHit:
		return fmt.Errorf("failed to request %d IPv%d addresses: %w (%d)", f.num, f.ver, ErrBlockLimit, f.limit)
	case f.snap.cfg.StrictAffinity:
		return fmt.Errorf("failed to request %d IPv%d addresses: %w", f.num, f.ver, ErrStrictAffinity)
	}
	return fmt.Errorf("failed to request %d IPv%d addresses, IPAM allocated only %d: %w (pools %s)", f.num, f.ver, len(f.got), ErrExhausted, poolNames(f.pools))
}

func blockCap(cfg Config, requested int) int {
	switch {
	case cfg.MaxBlocksPerHost > 0 && requested > 0:
		return min(cfg.MaxBlocksPerHost, requested)
	case cfg.MaxBlocksPerHost > 0:
		return cfg.MaxBlocksPerHost
	case requested > 0:
		return requested
	}
	return DefaultMaxBlocksPerHost
}

func inPools(pools []pool, cidr netip.Prefix) bool {
	for _, p := range pools {
		if p.cidr.Contains(cidr.Addr()) {
			return true
		}
	}
	return false
}

func poolNames(pools []pool) string {
	names := make([]string, len(pools))
	for i, p := range pools {
		names[i] = p.cidr.String()
	}
	return strings.Join(names, ", ")
}

// allocateInBlock takes up to n addresses from one block in a single
// transaction with the handle. expectHost, when set, is the host the block
// must still be affine to; if the block is gone but the host's affinity
// remains (a crash between writes by another implementation), the block is
// recreated.
//
// cached lets the first attempt use the cached copy of the block (a stale
// copy fails the compare-and-swap and is read again); a block the cache
// believes full is then skipped without a read.
func (m *IPAM) allocateInBlock(ctx context.Context, cidr netip.Prefix, n int, hs *handleState, attrs map[string]string, reserved func(netip.Addr) bool, expectHost string, cached bool) ([]netip.Addr, error) {
	if n <= 0 {
		return nil, nil
	}
	for attempt := 0; attempt < maxRetries; attempt++ {
		var sb storedBlock
		var err error
		if cached && attempt == 0 {
			if sb, err = m.cachedOrRead(ctx, cidr); err == nil && sb.Free(reserved) == 0 {
				return nil, nil
			}
		} else {
			sb, err = m.getBlock(ctx, cidr)
		}
		if isNotFound(err) && expectHost != "" {
			if err := m.recreateBlock(ctx, cidr, expectHost); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read block %s: %w", cidr, err)
		}
		if sb.Deleted || (expectHost != "" && sb.Host() != expectHost) {
			return nil, nil
		}
		ips := sb.allocate(n, hs.id, attrs, reserved)
		if len(ips) == 0 {
			return nil, nil
		}
		sb.SequenceNumber++
		hop, next := hs.op(cidr, len(ips))
		// The handle before the block: see txnOrder.
		rev, err := m.s.Txn(ctx, hop,
			datastore.Op{Type: datastore.OpUpdate, Key: BlockKey(cidr), Value: mustJSON(sb.Block), Rev: sb.rev})
		switch {
		case err == nil:
			hs.applied(next, rev)
			m.cache.putBlock(cidr, sb.Block, rev, m.now())
			return ips, nil
		case keyOf(err) == HandleKey(hs.id):
			if hs.mustBeNew && errors.Is(err, datastore.ErrAlreadyExists) {
				return nil, fmt.Errorf("handle %s: %w", hs.id, ErrHandleInUse)
			}
			if err := hs.load(ctx, m.s); err != nil {
				return nil, err
			}
		case errors.Is(err, datastore.ErrConflict) || errors.Is(err, datastore.ErrNotFound):
			// The block changed under us: read it again.
		default:
			return nil, fmt.Errorf("allocate in block %s: %w", cidr, err)
		}
	}
	return nil, fmt.Errorf("allocate in block %s: gave up after %d conflicting writes", cidr, maxRetries)
}

// recreateBlock writes an empty block for an affinity whose block is missing.
func (m *IPAM) recreateBlock(ctx context.Context, cidr netip.Prefix, host string) error {
	_, err := m.s.Create(ctx, BlockKey(cidr), mustJSON(newBlock(cidr, host, m.now())))
	if err != nil && !errors.Is(err, datastore.ErrAlreadyExists) {
		return fmt.Errorf("recreate block %s for %s: %w", cidr, host, err)
	}
	m.log.Warn("recreated the missing block of an affinity", "block", cidr, "host", host)
	return nil
}

// undo releases addresses an unfinished request allocated.
func (m *IPAM) undo(ctx context.Context, handle string, got []netip.Prefix) {
	if len(got) == 0 {
		return
	}
	opts := make([]ReleaseOptions, len(got))
	for i, p := range got {
		opts[i] = ReleaseOptions{Address: p.Addr(), Handle: handle}
	}
	if _, err := m.ReleaseIPs(context.WithoutCancel(ctx), opts...); err != nil {
		m.log.Error("could not release addresses of a failed request", "handle", handle, "error", err)
	}
}
