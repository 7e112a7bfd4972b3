package nft

import (
	"cmp"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Shapes: a merged element (protocol . source . destination . source
// port . destination port, each exact, a prefix or range, or any) goes to
// a hash set when every field is exact, any, or can be made exact by a
// mask: a prefix is its network address under the prefix's mask (ip saddr
// & 255.255.255.0), a port range the aligned power-of-two blocks it is
// made of, each its first port under the block's mask (th dport & 0xfff0;
// a block of one port is exact). A shape is the kind of each field — "x"
// exact, "a" any, "m<bits>" a masked address, "p<bits>" a masked port —
// and one hash set per shape holds the keys of its non-any fields; the
// packet's key is looked up in each. A lookup costs the same whatever the
// set's size, where pipapo (the interval set) scans its whole width.
//
// Limits keep the lookups per run few: an element whose port range takes
// more than maxBlocks blocks, or whose protocol is any, or with fewer than
// two non-any fields, stays in the interval set, and so do the elements of
// the shapes past the maxShapes most used in a run.
const (
	maxBlocks = 8
	maxShapes = 8
)

// piece is one hash-set element: its shape and key.
type piece struct{ shape, key string }

// splitElement is a merged element: its interval key, and its pieces
// (nil: it stays in the interval set). The pieces together match exactly
// what the interval key does.
type splitElement struct {
	interval string
	pieces   []piece
}

// fieldVal is one field of a piece: its shape token and value ("" for any).
type fieldVal struct{ tok, val string }

func splitParts(parts []string) splitElement {
	el := splitElement{interval: strings.Join(parts, " . ")}
	alts := make([][]fieldVal, len(parts))
	n := 1
	for i, p := range parts {
		a, ok := fieldAlternatives(i, p)
		if !ok {
			return el
		}
		alts[i], n = a, n*len(a)
	}
	if alts[0][0].tok != "x" || n > maxBlocks {
		return el
	}
	el.pieces = crossPieces(alts)
	if el.pieces == nil {
		return splitElement{interval: el.interval}
	}
	return el
}

// crossPieces is every combination of the fields' alternatives as pieces;
// nil when any has fewer than two non-any fields.
func crossPieces(alts [][]fieldVal) []piece {
	combos := [][]fieldVal{nil}
	for _, a := range alts {
		var next [][]fieldVal
		for _, c := range combos {
			for _, v := range a {
				next = append(next, append(slices.Clip(c), v))
			}
		}
		combos = next
	}
	var out []piece
	for _, c := range combos {
		var shape strings.Builder
		var key []string
		for _, v := range c {
			shape.WriteString(v.tok)
			if v.tok != "a" {
				key = append(key, v.val)
			}
		}
		if len(key) < 2 {
			return nil
		}
		out = append(out, piece{shape.String(), strings.Join(key, " . ")})
	}
	return out
}

// fieldAlternatives is field i's text p as exact, masked or any values;
// ok is false when it cannot be made so.
func fieldAlternatives(i int, p string) (alts []fieldVal, ok bool) {
	if p == keyFields[i].any {
		return []fieldVal{{tok: "a"}}, true
	}
	switch i {
	case 0:
		return []fieldVal{{"x", p}}, true
	case 1, 2:
		n, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, false
		}
		if n.Bits() == 32 {
			return []fieldVal{{"x", n.Addr().String()}}, true
		}
		return []fieldVal{{"m" + strconv.Itoa(n.Bits()), n.Masked().Addr().String()}}, true
	}
	lo, hi, ok := parseRange(p)
	if !ok {
		return nil, false
	}
	for _, b := range portBlocks(lo, hi) {
		if b.bits == 16 {
			alts = append(alts, fieldVal{"x", strconv.Itoa(int(b.start))})
		} else {
			alts = append(alts, fieldVal{"p" + strconv.Itoa(b.bits), strconv.Itoa(int(b.start))})
		}
		if len(alts) > maxBlocks {
			return nil, false
		}
	}
	return alts, true
}

func parseRange(p string) (lo, hi uint16, ok bool) {
	a, b, found := strings.Cut(p, "-")
	l, err1 := strconv.ParseUint(a, 10, 16)
	h, err2 := strconv.ParseUint(b, 10, 16)
	return uint16(l), uint16(h), found && err1 == nil && err2 == nil && l <= h
}

// block is an aligned run of 2^(16-bits) ports starting at start.
type block struct {
	start uint16
	bits  int // the mask's length: 16 is one port
}

// portBlocks splits lo-hi into the fewest aligned power-of-two blocks.
func portBlocks(lo, hi uint16) []block {
	var out []block
	for l := uint32(lo); l <= uint32(hi); {
		size := uint32(1) << bits.TrailingZeros32(l|1<<16) // the largest aligned at l
		for l+size-1 > uint32(hi) {
			size >>= 1
		}
		out = append(out, block{uint16(l), 16 - bits.TrailingZeros32(size)})
		l += size
	}
	return out
}

// addSplit adds the pieces of els to out by shape, keeping the maxShapes
// shapes with the most pieces; an element with a piece of another shape
// goes whole to the interval set ("" shape).
func addSplit(out map[string][]string, els []splitElement) {
	count := map[string]int{}
	for _, el := range els {
		for _, p := range el.pieces {
			count[p.shape]++
		}
	}
	shapes := sortedKeys(count)
	slices.SortStableFunc(shapes, func(a, b string) int { return cmp.Compare(count[b], count[a]) })
	keep := map[string]bool{}
	for _, s := range shapes[:min(len(shapes), maxShapes)] {
		keep[s] = true
	}
	for _, el := range els {
		if el.pieces == nil || slices.ContainsFunc(el.pieces, func(p piece) bool { return !keep[p.shape] }) {
			out[""] = append(out[""], el.interval)
			continue
		}
		for _, p := range el.pieces {
			out[p.shape] = append(out[p.shape], p.key)
		}
	}
}

// shapeKey is the lookup key and set type of a hash-set shape.
func shapeKey(shape string) (key, typ string) {
	var exprs, types []string
	for i, tok := range shapeTokens(shape) {
		f := keyFields[i]
		switch {
		case tok == "a":
			continue
		case tok[0] == 'm':
			n, _ := strconv.Atoi(tok[1:])
			var mask [4]byte
			for b := range n {
				mask[b/8] |= 0x80 >> (b % 8)
			}
			exprs = append(exprs, f.expr+" & "+netip.AddrFrom4(mask).String())
		case tok[0] == 'p':
			n, _ := strconv.Atoi(tok[1:])
			exprs = append(exprs, fmt.Sprintf("%s & 0x%x", f.expr, uint16(0xffff<<(16-n))))
		default:
			exprs = append(exprs, f.expr)
		}
		types = append(types, f.typ)
	}
	return strings.Join(exprs, " . "), strings.Join(types, " . ")
}

// shapeTokens splits a shape into its fields' tokens.
func shapeTokens(shape string) []string {
	var out []string
	for i := 0; i < len(shape); {
		j := i + 1
		for j < len(shape) && shape[j] >= '0' && shape[j] <= '9' {
			j++
		}
		out = append(out, shape[i:j])
		i = j
	}
	return out
}
