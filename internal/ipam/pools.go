package ipam

import (
	"fmt"
	"math/big"
	"net/netip"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/selector"
)

// pool is an IPPool with its parsed CIDR.
type pool struct {
	*v3.IPPool
	cidr netip.Prefix
}

// selectPools picks the pools an assignment may use (calico-reference.md
// §4.5 step 2): the requested pools exactly, when any are named (by CIDR or
// name; they must exist, be enabled and of the family); otherwise enabled,
// Automatic pools of the family whose nodeSelector matches the node, whose
// namespaceSelector matches the namespace (when one is given), and whose
// allowedUses include use.
func selectPools(all []*v3.IPPool, v6 bool, requested []string, nodeLabels, nsLabels map[string]string, use v3.IPPoolAllowedUse) ([]pool, error) {
	parsed := make([]pool, 0, len(all))
	for _, p := range all {
		c, err := netip.ParsePrefix(p.Spec.CIDR)
		if err != nil || c.Addr().Is6() != v6 {
			continue
		}
		parsed = append(parsed, pool{p, c})
	}
	if len(requested) > 0 {
		var out []pool
		for _, r := range requested {
			p, ok := findPool(parsed, r)
			switch {
			case !ok:
				return nil, fmt.Errorf("the requested IP pool %q does not exist", r)
			case p.Spec.Disabled:
				return nil, fmt.Errorf("the requested IP pool %q is disabled", r)
			case !p.Spec.HasAllowedUse(use):
				return nil, fmt.Errorf("the requested IP pool %q does not allow use %s", r, use)
			}
			out = append(out, p)
		}
		return out, nil
	}
	var out []pool
	for _, p := range parsed {
		if p.Spec.Disabled || p.Spec.AssignmentMode == v3.AssignmentManual || !p.Spec.HasAllowedUse(use) {
			continue
		}
		if !matches(p.Spec.NodeSelector, nodeLabels) {
			continue
		}
		if nsLabels != nil && p.Spec.NamespaceSelector != "" && !matches(p.Spec.NamespaceSelector, nsLabels) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func findPool(ps []pool, want string) (pool, bool) {
	for _, p := range ps {
		if p.Name == want || p.cidr.String() == want {
			return p, true
		}
	}
	if c, err := netip.ParsePrefix(want); err == nil {
		for _, p := range ps {
			if p.cidr == c.Masked() {
				return p, true
			}
		}
	}
	return pool{}, false
}

func matches(sel string, labels map[string]string) bool {
	if strings.TrimSpace(sel) == "" {
		return true
	}
	s, err := selector.Parse(sel)
	if err != nil {
		return false
	}
	return s.Evaluate(labels)
}

// reservations is the set of reserved CIDRs.
type reservations []netip.Prefix

func parseReservations(rs []*v3.IPReservation) reservations {
	var out reservations
	for _, r := range rs {
		for _, c := range r.Spec.ReservedCIDRs {
			if p, err := netip.ParsePrefix(c); err == nil {
				out = append(out, p.Masked())
			} else if a, err := netip.ParseAddr(c); err == nil {
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	return out
}

// reserved reports whether a is reserved; nil when nothing is.
func (r reservations) reservedFunc() func(netip.Addr) bool {
	if len(r) == 0 {
		return nil
	}
	return func(a netip.Addr) bool {
		for _, p := range r {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
}

// blockCandidates returns the pool's block CIDRs in the order this host
// tries them: from a start derived from the host name, wrapping around, so
// that hosts spread over the pool but each is stable.
func blockCandidates(p pool, host string) func(yield func(netip.Prefix) bool) {
	return func(yield func(netip.Prefix) bool) {
		blockBits := p.Spec.BlockSize
		if blockBits < p.cidr.Bits() {
			return
		}
		n := uint64(1) << min(uint(blockBits-p.cidr.Bits()), 40)
		start := uint64(fnv32(host)) % n
		for i := uint64(0); i < n; i++ {
			idx := (start + i) % n
			if !yield(nthBlock(p.cidr, blockBits, idx)) {
				return
			}
		}
	}
}

// nthBlock is the idx'th /blockBits subnet of cidr.
func nthBlock(cidr netip.Prefix, blockBits int, idx uint64) netip.Prefix {
	base := cidr.Masked().Addr()
	shift := uint(base.BitLen() - blockBits)
	if base.Is4() {
		v := base.As4()
		n := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
		n += uint32(idx) << shift
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), blockBits)
	}
	v := base.As16()
	x := new(big.Int).SetBytes(v[:])
	x.Add(x, new(big.Int).Lsh(new(big.Int).SetUint64(idx), shift))
	var out [16]byte
	x.FillBytes(out[:])
	return netip.PrefixFrom(netip.AddrFrom16(out), blockBits)
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
