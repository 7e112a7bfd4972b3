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
	num, requested, fam, ver := a.Num4, a.IPv4Pools, "ipv4", 4
	if v6 {
		num, requested, fam, ver = a.Num6, a.IPv6Pools, "ipv6", 6
	}
	pools, err := selectPools(snap.pools, v6, requested, snap.nodeLabels, a.NamespaceLabels, a.IntendedUse)
	if err != nil {
		return nil, err
	}
	if len(pools) == 0 {
		return nil, fmt.Errorf("%w for IPv%d on node %s (use %s)", ErrNoPools, ver, a.Hostname, a.IntendedUse)
	}
	var got []netip.Prefix
	fail := func(err error) ([]netip.Prefix, error) {
		m.undo(ctx, a.HandleID, got)
		return nil, err
	}
	take := func(cidr netip.Prefix, expectHost string, cached bool) error {
		ips, err := m.allocateInBlock(ctx, cidr, num-len(got), hs, attrs, snap.reserved, expectHost, cached)
		for _, ip := range ips {
			got = append(got, netip.PrefixFrom(ip, cidr.Bits()))
		}
		return err
	}

	// 1. The host's own blocks in the chosen pools.
	affine, err := m.hostBlocks(ctx, a.Hostname, fam)
	if err != nil {
		return fail(err)
	}
	// With a cache, blocks it believes full are skipped without a read;
	// before claiming a new block they are all read again, in case
	// addresses were released elsewhere.
	for _, cached := range []bool{true, false} {
		if cached && m.cache == nil {
			continue
		}
		for _, cidr := range affine {
			if !cached && m.cache.fresh(cidr, m.now()) {
				continue // the first pass used a copy young enough to trust
			}
			if len(got) < num && inPools(pools, cidr) {
				if err := take(cidr, a.Hostname, cached); err != nil {
					return fail(err)
				}
			}
		}
	}
	// 2. New blocks, up to the cap.
	limit := blockCap(snap.cfg, a.MaxBlocksPerHost)
	var limitHit error
	for len(got) < num && snap.cfg.AutoAllocateBlocks {
		if limit > 0 && len(affine) >= limit {
			limitHit = ErrBlockLimit
			break
		}
		cidr, err := m.claimBlock(ctx, a.Hostname, pools, snap.reserved)
		if errors.Is(err, errNoFreeBlocks) {
			break
		}
		if err != nil {
			return fail(err)
		}
		affine = append(affine, cidr)
		if err := take(cidr, a.Hostname, true); err != nil {
			return fail(err)
		}
	}
	// 3. Borrowing from other hosts' blocks.
	if len(got) < num && !snap.cfg.StrictAffinity {
		if err := m.borrow(ctx, pools, fam, a.Hostname, snap.reserved, func(cidr netip.Prefix) (bool, error) {
			err := take(cidr, "", false)
			return len(got) >= num, err
		}); err != nil {
			return fail(err)
		}
	}
	if len(got) < num {
		short := fmt.Errorf("failed to request %d IPv%d addresses, IPAM allocated only %d: %w (pools %s)", num, ver, len(got), ErrExhausted, poolNames(pools))
		switch {
		case limitHit != nil:
			short = fmt.Errorf("failed to request %d IPv%d addresses: %w (%d)", num, ver, limitHit, limit)
		case snap.cfg.StrictAffinity:
			short = fmt.Errorf("failed to request %d IPv%d addresses: %w", num, ver, ErrStrictAffinity)
		}
		return fail(short)
	}
	return got, nil
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
		rev, err := m.s.Txn(ctx,
			datastore.Op{Type: datastore.OpUpdate, Key: BlockKey(cidr), Value: mustJSON(sb.Block), Rev: sb.rev},
			hop)
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
