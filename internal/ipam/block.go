package ipam

import (
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/netip"
	"strconv"
	"time"
)

// ErrBadSequenceNumber refuses a release of an address that was released
// and allocated again since the caller learned of it.
var ErrBadSequenceNumber = errors.New("the address was reallocated since (stale sequence number)")

// newBlock returns an empty block for cidr. host "" means no affinity.
func newBlock(cidr netip.Prefix, host string, now time.Time) *Block {
	n := 1 << (cidr.Addr().BitLen() - cidr.Bits())
	b := &Block{
		CIDR:                        cidr.String(),
		Allocations:                 make([]*int, n),
		Unallocated:                 make([]int, n),
		Attributes:                  []AllocationAttribute{},
		SequenceNumber:              uint64(now.UnixNano()),
		SequenceNumberForAllocation: map[string]uint64{},
	}
	for i := range b.Unallocated {
		b.Unallocated[i] = i
	}
	if host != "" {
		aff := "host:" + host
		t := now.UTC().Truncate(time.Second)
		b.Affinity, b.AffinityClaimTime = &aff, &t
	}
	return b
}

// Prefix is the block's CIDR.
func (b *Block) Prefix() netip.Prefix {
	p, _ := netip.ParsePrefix(b.CIDR)
	return p
}

// Host is the host the block is affine to, or "".
func (b *Block) Host() string {
	if b.Affinity == nil {
		return ""
	}
	if h, ok := cutPrefix(*b.Affinity, "host:"); ok {
		return h
	}
	return ""
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// Size is the number of addresses in the block.
func (b *Block) Size() int { return len(b.Allocations) }

// InUse is the number of allocated addresses.
func (b *Block) InUse() int { return len(b.Allocations) - len(b.Unallocated) }

// Empty reports whether no address is allocated.
func (b *Block) Empty() bool { return len(b.Unallocated) == len(b.Allocations) }

// Addr is the address with ordinal ord.
func (b *Block) Addr(ord int) netip.Addr {
	base := b.Prefix().Addr()
	if base.Is4() {
		v := base.As4()
		n := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
		n += uint32(ord)
		return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
	v := base.As16()
	x := new(big.Int).SetBytes(v[:])
	x.Add(x, big.NewInt(int64(ord)))
	var out [16]byte
	x.FillBytes(out[:])
	return netip.AddrFrom16(out)
}

// Ordinal is a's ordinal in the block, if it is in the block.
func (b *Block) Ordinal(a netip.Addr) (int, bool) {
	p := b.Prefix()
	if !p.Contains(a) {
		return 0, false
	}
	base, x := p.Addr().AsSlice(), a.AsSlice()
	d := new(big.Int).Sub(new(big.Int).SetBytes(x), new(big.Int).SetBytes(base))
	return int(d.Int64()), true
}

// Owner returns the attribute of an allocated ordinal.
func (b *Block) Owner(ord int) (AllocationAttribute, bool) {
	if ord < 0 || ord >= len(b.Allocations) || b.Allocations[ord] == nil {
		return AllocationAttribute{}, false
	}
	return b.Attributes[*b.Allocations[ord]], true
}

// allocate takes up to n free, non-reserved addresses from the head of the
// free list for handle, recording attrs and the allocation sequence number.
func (b *Block) allocate(n int, handle string, attrs map[string]string, reserved func(netip.Addr) bool) []netip.Addr {
	var out []netip.Addr
	attr := -1
	kept := b.Unallocated[:0:0]
	for i, ord := range b.Unallocated {
		if len(out) == n {
			kept = append(kept, b.Unallocated[i:]...)
			break
		}
		a := b.Addr(ord)
		if reserved != nil && reserved(a) {
			kept = append(kept, ord)
			continue
		}
		if attr < 0 {
			attr = b.addAttribute(handle, attrs)
		}
		b.take(ord, attr)
		out = append(out, a)
	}
	b.Unallocated = kept
	return out
}

// assign allocates one specific address.
func (b *Block) assign(a netip.Addr, handle string, attrs map[string]string) error {
	ord, ok := b.Ordinal(a)
	if !ok {
		return fmt.Errorf("%s is not in block %s", a, b.CIDR)
	}
	if b.Allocations[ord] != nil {
		return fmt.Errorf("address %s is already in use", a)
	}
	for i, o := range b.Unallocated {
		if o == ord {
			b.Unallocated = append(b.Unallocated[:i:i], b.Unallocated[i+1:]...)
			break
		}
	}
	b.take(ord, b.addAttribute(handle, attrs))
	return nil
}

func (b *Block) take(ord, attr int) {
	idx := attr
	b.Allocations[ord] = &idx
	b.SequenceNumberForAllocation[strconv.Itoa(ord)] = b.SequenceNumber
}

func (b *Block) addAttribute(handle string, attrs map[string]string) int {
	b.Attributes = append(b.Attributes, AllocationAttribute{HandleID: handle, ActiveOwnerAttrs: maps.Clone(attrs)})
	return len(b.Attributes) - 1
}

// releaseAddr frees one address. seq, when non-zero, must be the sequence
// number recorded at its allocation. It returns the handle it belonged to;
// ok is false when the address was not allocated.
func (b *Block) releaseAddr(a netip.Addr, seq uint64) (handle string, ok bool, err error) {
	ord, in := b.Ordinal(a)
	if !in || b.Allocations[ord] == nil {
		return "", false, nil
	}
	key := strconv.Itoa(ord)
	if seq != 0 && b.SequenceNumberForAllocation[key] != seq {
		return "", false, fmt.Errorf("release %s: %w", a, ErrBadSequenceNumber)
	}
	handle = b.Attributes[*b.Allocations[ord]].HandleID
	b.Allocations[ord] = nil
	delete(b.SequenceNumberForAllocation, key)
	b.Unallocated = append(b.Unallocated, ord)
	return handle, true, nil
}

// releaseHandle frees every address of handle and returns them.
func (b *Block) releaseHandle(handle string) []netip.Addr {
	var out []netip.Addr
	for ord, idx := range b.Allocations {
		if idx != nil && b.Attributes[*idx].HandleID == handle {
			a := b.Addr(ord)
			b.releaseAddr(a, 0)
			out = append(out, a)
		}
	}
	return out
}

// AddrsOf lists the addresses held by handle.
func (b *Block) AddrsOf(handle string) []netip.Addr {
	var out []netip.Addr
	for ord, idx := range b.Allocations {
		if idx != nil && b.Attributes[*idx].HandleID == handle {
			out = append(out, b.Addr(ord))
		}
	}
	return out
}

// compactAttributes drops attributes no allocation refers to any more and
// renumbers the rest, as Calico does after a release.
func (b *Block) compactAttributes() {
	used := make([]bool, len(b.Attributes))
	for _, idx := range b.Allocations {
		if idx != nil {
			used[*idx] = true
		}
	}
	renum := make([]int, len(b.Attributes))
	kept := b.Attributes[:0:0]
	for i, a := range b.Attributes {
		if used[i] {
			renum[i] = len(kept)
			kept = append(kept, a)
		}
	}
	for ord, idx := range b.Allocations {
		if idx != nil {
			n := renum[*idx]
			b.Allocations[ord] = &n
		}
	}
	b.Attributes = kept
}

// Free is the number of free addresses that are not reserved.
func (b *Block) Free(reserved func(netip.Addr) bool) int {
	if reserved == nil {
		return len(b.Unallocated)
	}
	n := 0
	for _, ord := range b.Unallocated {
		if !reserved(b.Addr(ord)) {
			n++
		}
	}
	return n
}
