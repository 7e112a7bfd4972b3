package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
)

// BenchmarkSpeakerFamilies reports the heap a started speaker with no
// sessions holds, IPv4 alone (a node without an IPv6 address) and IPv4
// with IPv6 (a dual-stack node), side by side in the same run: what
// Global.IPv6 costs.
//
//	go test -run '^$' -bench SpeakerFamilies -benchtime 5x ./internal/bgp/
func BenchmarkSpeakerFamilies(b *testing.B) {
	for _, v6 := range []bool{false, true} {
		b.Run(fmt.Sprintf("ipv6=%v", v6), func(b *testing.B) {
			var total float64
			for range b.N {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				sp, err := Start(context.Background(), Global{ASN: 64512, RouterID: netip.MustParseAddr("127.0.0.61"), ListenPort: -1, IPv6: v6}, nil)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				total += float64(after.HeapAlloc) - float64(before.HeapAlloc)
				_ = sp.Close()
			}
			b.ReportMetric(total/float64(b.N)/(1<<20), "heap-MiB")
		})
	}
}
