package calc

import (
	"iter"
	"net/netip"
	"slices"
)

// addrRef names one address of one endpoint: its key and the address's
// place among the endpoint's IPv4 addresses.
type addrRef struct {
	key string
	idx int
}

// blockIndex holds the IPAM blocks by CIDR and by node. Finding the block
// of an address is a prefix lookup: one map probe per block length in use
// (in practice one or two), not a scan of the blocks.
type blockIndex struct {
	host   map[netip.Prefix]string
	byNode map[string][]netip.Prefix // in no order; a node has few
	lens   [2][129]int               // blocks of each length, per family (0: IPv4)
}

func newBlockIndex() blockIndex {
	return blockIndex{host: map[netip.Prefix]string{}, byNode: map[string][]netip.Prefix{}}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// put records a block; newLen says whether its length was not in use.
func (x *blockIndex) put(c netip.Prefix, host string) (newLen bool) {
	if old, ok := x.host[c]; ok {
		x.unlinkNode(c, old)
	} else {
		x.lens[family(c.Addr())][c.Bits()]++
		newLen = x.lens[family(c.Addr())][c.Bits()] == 1
	}
	x.host[c] = host
	x.linkNode(c, host)
	return newLen
}

// del forgets a block; goneLen says whether no block has its length now.
func (x *blockIndex) del(c netip.Prefix) (goneLen bool) {
	old, ok := x.host[c]
	if !ok {
		return false
	}
	x.unlinkNode(c, old)
	delete(x.host, c)
	x.lens[family(c.Addr())][c.Bits()]--
	return x.lens[family(c.Addr())][c.Bits()] == 0
}

func (x *blockIndex) linkNode(c netip.Prefix, host string) {
	x.byNode[host] = append(x.byNode[host], c)
}

func (x *blockIndex) unlinkNode(c netip.Prefix, host string) {
	unlist(x.byNode, host, c)
}

// unlist takes v out of m[k], a list in no order (k goes with its last).
func unlist[K, V comparable](m map[K][]V, k K, v V) {
	s := m[k]
	i := slices.Index(s, v)
	if i < 0 {
		return
	}
	var zero V
	s[i], s[len(s)-1] = s[len(s)-1], zero
	if s = s[:len(s)-1]; len(s) == 0 {
		delete(m, k)
	} else {
		m[k] = s
	}
}

// lookup is the most specific block holding a.
func (x *blockIndex) lookup(a netip.Addr) (netip.Prefix, string, bool) {
	lens := &x.lens[family(a)]
	for bits := a.BitLen(); bits >= 0; bits-- {
		if lens[bits] == 0 {
			continue
		}
		p := netip.PrefixFrom(a, bits).Masked()
		if h, ok := x.host[p]; ok {
			return p, h, true
		}
	}
	return netip.Prefix{}, "", false
}

// lengths are the block lengths in use for a's family.
func (x *blockIndex) lengths(a netip.Addr) iter.Seq[int] {
	return func(yield func(int) bool) {
		for bits, n := range x.lens[family(a)] {
			if n > 0 && !yield(bits) {
				return
			}
		}
	}
}

// addrIndex finds the endpoint addresses inside a block: each address is
// filed under its prefix at every block length in use, so the addresses
// of block c are at[c] (in no order). A block holds few addresses (64 for
// the usual /26), so each is a slice: about 24 bytes an address, where a
// set costs about 60.
type addrIndex struct {
	at map[netip.Prefix][]addrRef
}

func (x *addrIndex) add(p netip.Prefix, r addrRef) {
	x.at[p] = append(x.at[p], r)
}

// trim gives each list the room it needs (a list grown by appends has up
// to twice that): once, after a full list.
func (x *addrIndex) trim() {
	for p, s := range x.at {
		if cap(s) > len(s) {
			x.at[p] = slices.Clone(s)
		}
	}
}

func (x *addrIndex) remove(p netip.Prefix, r addrRef) {
	unlist(x.at, p, r)
}

// borrowedIndex holds the remote addresses outside their node's blocks
// (routed one by one), and by node: a node's change re-evaluates its
// borrowed addresses, not all its endpoints.
type borrowedIndex struct {
	all    map[addrRef]struct{}
	byNode map[string]map[addrRef]struct{}
}

func newBorrowedIndex() borrowedIndex {
	return borrowedIndex{all: map[addrRef]struct{}{}, byNode: map[string]map[addrRef]struct{}{}}
}

func (x *borrowedIndex) add(r addrRef, node string) {
	x.all[r] = struct{}{}
	s := x.byNode[node]
	if s == nil {
		s = map[addrRef]struct{}{}
		x.byNode[node] = s
	}
	s[r] = struct{}{}
}

func (x *borrowedIndex) del(r addrRef, node string) {
	if _, ok := x.all[r]; !ok {
		return
	}
	delete(x.all, r)
	if s := x.byNode[node]; s != nil {
		delete(s, r)
		if len(s) == 0 {
			delete(x.byNode, node)
		}
	}
}
