package calc

import (
	"iter"
	"net/netip"
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
	byNode map[string]map[netip.Prefix]struct{}
	lens   [2][129]int // blocks of each length, per family (0: IPv4)
}

func newBlockIndex() blockIndex {
	return blockIndex{host: map[netip.Prefix]string{}, byNode: map[string]map[netip.Prefix]struct{}{}}
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
	s := x.byNode[host]
	if s == nil {
		s = map[netip.Prefix]struct{}{}
		x.byNode[host] = s
	}
	s[c] = struct{}{}
}

func (x *blockIndex) unlinkNode(c netip.Prefix, host string) {
	if s := x.byNode[host]; s != nil {
		delete(s, c)
		if len(s) == 0 {
			delete(x.byNode, host)
		}
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
// of block c are at[c].
type addrIndex struct {
	at map[netip.Prefix]map[addrRef]struct{}
}

func (x *addrIndex) add(p netip.Prefix, r addrRef) {
	s := x.at[p]
	if s == nil {
		s = map[addrRef]struct{}{}
		x.at[p] = s
	}
	s[r] = struct{}{}
}

func (x *addrIndex) remove(p netip.Prefix, r addrRef) {
	if s := x.at[p]; s != nil {
		delete(s, r)
		if len(s) == 0 {
			delete(x.at, p)
		}
	}
}

// LabelIndex finds endpoints by label. Endpoints are filed by their
// attributes (EndpointAttrs, which hold the labels): endpoints sharing
// one (the replicas of a workload, as the node agent decodes them) are
// one group, indexed under its labels once; a label's value then leads
// to groups, and a group to its endpoints' keys. It is what policy
// selectors can be evaluated against instead of every endpoint.
type LabelIndex struct {
	m      map[string]map[string]map[*EndpointAttrs]struct{} // label, value: groups
	groups map[*EndpointAttrs]map[string]struct{}            // group: endpoint keys
}

func newLabelIndex() LabelIndex {
	return LabelIndex{m: map[string]map[string]map[*EndpointAttrs]struct{}{}, groups: map[*EndpointAttrs]map[string]struct{}{}}
}

func (x *LabelIndex) add(ep string, a *EndpointAttrs) {
	if a == nil || len(a.Labels) == 0 {
		return
	}
	g := x.groups[a]
	if g == nil {
		g = map[string]struct{}{}
		x.groups[a] = g
		x.link(a)
	}
	g[ep] = struct{}{}
}

func (x *LabelIndex) remove(ep string, a *EndpointAttrs) {
	g := x.groups[a]
	if g == nil {
		return
	}
	delete(g, ep)
	if len(g) == 0 {
		delete(x.groups, a)
		x.unlink(a)
	}
}

// link files a new group under its labels.
func (x *LabelIndex) link(a *EndpointAttrs) {
	for k, v := range a.Labels {
		vals := x.m[k]
		if vals == nil {
			vals = map[string]map[*EndpointAttrs]struct{}{}
			x.m[k] = vals
		}
		gs := vals[v]
		if gs == nil {
			gs = map[*EndpointAttrs]struct{}{}
			vals[v] = gs
		}
		gs[a] = struct{}{}
	}
}

func (x *LabelIndex) unlink(a *EndpointAttrs) {
	for k, v := range a.Labels {
		vals := x.m[k]
		if gs := vals[v]; gs != nil {
			delete(gs, a)
			if len(gs) == 0 {
				delete(vals, v)
			}
		}
		if len(vals) == 0 {
			delete(x.m, k)
		}
	}
}

// With yields the keys of the endpoints labelled k=v.
func (x *LabelIndex) With(k, v string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for a := range x.m[k][v] {
			for ep := range x.groups[a] {
				if !yield(ep) {
					return
				}
			}
		}
	}
}

// Values yields each value of label k in use and how many endpoints
// have it (has(k) is the union over these).
func (x *LabelIndex) Values(k string) iter.Seq2[string, int] {
	return func(yield func(string, int) bool) {
		for v, gs := range x.m[k] {
			n := 0
			for a := range gs {
				n += len(x.groups[a])
			}
			if !yield(v, n) {
				return
			}
		}
	}
}
