package nft

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// The hash-set pieces of a merged element match exactly the packets its
// interval key does: random elements (prefixes, port ranges, any), random
// packets near their edges, membership computed from the pieces' shapes
// and keys as the kernel computes it (mask, then exact lookup).
func TestSplitMatchesInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	split := 0
	for range 3000 {
		parts := randomElement(rng)
		el := splitParts(parts)
		if el.pieces == nil {
			continue
		}
		split++
		for range 40 {
			pkt := randomPacketNear(rng, parts)
			if in, hashed := intervalHas(parts, pkt), piecesHave(el.pieces, pkt); in != hashed {
				t.Fatalf("element %q, packet %v: interval %v, pieces %v (%v)", el.interval, pkt, in, hashed, el.pieces)
			}
		}
	}
	if split < 1000 {
		t.Errorf("only %d of 3000 elements split into hash pieces", split)
	}
}

func TestPortBlocks(t *testing.T) {
	for _, c := range []struct {
		lo, hi uint16
		want   string
	}{
		{80, 80, "[{80 16}]"},
		{20000, 20015, "[{20000 12}]"},
		{9000, 9050, "[{9000 13} {9008 12} {9024 12} {9040 13} {9048 15} {9050 16}]"},
		{1024, 65535, "[{1024 6} {2048 5} {4096 4} {8192 3} {16384 2} {32768 1}]"},
		{0, 65535, "[{0 0}]"},
		{65535, 65535, "[{65535 16}]"},
	} {
		if got := fmt.Sprint(portBlocks(c.lo, c.hi)); got != c.want {
			t.Errorf("%d-%d: %s, want %s", c.lo, c.hi, got, c.want)
		}
	}
	if k, typ := shapeKey("xm24aap12"); k != "meta l4proto . ip saddr & 255.255.255.0 . th dport & 0xfff0" || typ != "inet_proto . ipv4_addr . inet_service" {
		t.Errorf("shapeKey: %q %q", k, typ)
	}
}

type testPacket struct {
	proto    string
	src, dst netip.Addr
	sp, dp   uint16
}

func randomElement(rng *rand.Rand) []string {
	proto := []string{"tcp", "udp", "0-255"}[rng.IntN(3)]
	nets := func() string {
		bits := []int{0, 8, 16, 23, 24, 30, 31, 32}[rng.IntN(8)]
		a := netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.IntN(256))})
		return netip.PrefixFrom(a, bits).Masked().String()
	}
	ports := func() string {
		switch rng.IntN(4) {
		case 0:
			return "0-65535"
		case 1:
			p := rng.IntN(65536)
			return fmt.Sprintf("%d-%d", p, p)
		}
		lo := rng.IntN(65536)
		hi := min(65535, lo+rng.IntN([]int{4, 64, 4096}[rng.IntN(3)]))
		return fmt.Sprintf("%d-%d", lo, hi)
	}
	return []string{proto, nets(), nets(), ports(), ports()}
}

// randomPacketNear picks each field inside, at the edge of, or just
// outside the element's.
func randomPacketNear(rng *rand.Rand, parts []string) testPacket {
	addr := func(p string) netip.Addr {
		n := netip.MustParsePrefix(p)
		a := n.Addr().As4()
		v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		size := uint64(1) << (32 - n.Bits())
		off := []int64{0, int64(size) - 1, int64(size), -1, rng.Int64N(int64(size))}[rng.IntN(5)]
		v += uint32(off)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	port := func(p string) uint16 {
		lo, hi, _ := parseRange(p)
		return []uint16{lo, hi, lo - 1, hi + 1, lo + uint16(rng.IntN(int(hi-lo)+1))}[rng.IntN(5)]
	}
	proto := parts[0]
	if proto == "0-255" || rng.IntN(8) == 0 {
		proto = []string{"tcp", "udp"}[rng.IntN(2)]
	}
	return testPacket{proto, addr(parts[1]), addr(parts[2]), port(parts[3]), port(parts[4])}
}

func intervalHas(parts []string, p testPacket) bool {
	inRange := func(r string, v uint16) bool { lo, hi, _ := parseRange(r); return lo <= v && v <= hi }
	return (parts[0] == "0-255" || parts[0] == p.proto) &&
		netip.MustParsePrefix(parts[1]).Contains(p.src) && netip.MustParsePrefix(parts[2]).Contains(p.dst) &&
		inRange(parts[3], p.sp) && inRange(parts[4], p.dp)
}

// piecesHave looks the packet up as the rendered rules do: per piece, the
// packet's fields under the shape's masks, compared with the key.
func piecesHave(pieces []piece, p testPacket) bool {
	for _, pc := range pieces {
		var key []string
		for i, tok := range shapeTokens(pc.shape) {
			n, _ := strconv.Atoi(tok[1:])
			switch i {
			case 0:
				if tok != "a" {
					key = append(key, p.proto)
				}
			case 1, 2:
				a := []netip.Addr{p.src, p.dst}[i-1]
				switch tok[0] {
				case 'x':
					key = append(key, a.String())
				case 'm':
					key = append(key, netip.PrefixFrom(a, n).Masked().Addr().String())
				}
			default:
				v := []uint16{p.sp, p.dp}[i-3]
				switch tok[0] {
				case 'x':
					key = append(key, strconv.Itoa(int(v)))
				case 'p':
					key = append(key, strconv.Itoa(int(v&uint16(0xffff<<(16-n)))))
				}
			}
		}
		if strings.Join(key, " . ") == pc.key {
			return true
		}
	}
	return false
}
