package kdd_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/ipam"
)

// TestIPAMConcurrent: 16 allocators on 4 nodes, each with its own
// connection (as 16 CNI plugins would be), allocate and release against
// the real apiserver. Without a multi-object transaction, no address is
// ever held twice, and once everything is released no handle is left and
// `ipam check` finds nothing wrong.
func TestIPAMConcurrent(t *testing.T) {
	ctx := t.Context()
	c := client.New(open(t))
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "kdd-concurrent"}}
	pool.Spec.CIDR, pool.Spec.BlockSize = "10.30.0.0/24", 28 // 16 blocks of 16: claims and borrowing happen
	if _, err := c.Apply(ctx, pool); err != nil {
		t.Fatal(err)
	}
	const workers, nodes, rounds = 16, 4, 12
	var (
		mu   sync.Mutex
		held = map[netip.Addr]string{}
		errs []string
		left []string // handles still held at the end
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			m := ipam.New(client.New(open(t)))
			r := rand.New(rand.NewPCG(uint64(w), 14))
			host := fmt.Sprintf("kdd-node-%d", w%nodes)
			var mine []string
			for i := range rounds {
				if len(mine) > 0 && r.IntN(3) == 0 {
					h := mine[r.IntN(len(mine))]
					mine = slices.DeleteFunc(mine, func(s string) bool { return s == h })
					mu.Lock()
					for a, owner := range held {
						if owner == h {
							delete(held, a)
						}
					}
					mu.Unlock()
					if _, err := m.ReleaseByHandle(ctx, h); err != nil {
						fail("release %s: %v", h, err)
					}
					continue
				}
				h := fmt.Sprintf("kdd-w%d-%d", w, i)
				v4, _, err := m.AutoAssign(ctx, ipam.AutoAssignArgs{Num4: 1 + r.IntN(2), HandleID: h, Hostname: host,
					Attrs: map[string]string{ipam.AttrNode: host}})
				if err != nil {
					fail("assign %s: %v", h, err)
					continue
				}
				mine = append(mine, h)
				mu.Lock()
				for _, p := range v4 {
					if other, dup := held[p.Addr()]; dup {
						errs = append(errs, fmt.Sprintf("%s given to %s while %s holds it", p.Addr(), h, other))
					}
					held[p.Addr()] = h
				}
				mu.Unlock()
			}
			mu.Lock()
			left = append(left, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, first: %s", len(errs), errs[0])
	}
	m := ipam.New(c)
	rep, err := m.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// No pods exist, so `ipam check` counts every allocation as leaked
	// (no endpoint has it); what must hold is that the blocks and the
	// handles agree.
	if rep.Allocations != len(held) || len(rep.MissingHandles)+len(rep.HandleMismatches)+len(rep.EmptyHandles) > 0 {
		t.Fatalf("ipam check while allocated: %d allocations (want %d), missing handles %v, mismatches %v, empty handles %v",
			rep.Allocations, len(held), rep.MissingHandles, rep.HandleMismatches, rep.EmptyHandles)
	}
	for _, h := range left {
		if _, err := m.ReleaseByHandle(ctx, h); err != nil {
			t.Fatalf("release %s: %v", h, err)
		}
	}
	kvs, _, err := c.Store().List(ctx, ipam.HandlePrefix())
	if err != nil || len(kvs) != 0 {
		t.Fatalf("after releasing everything, handles %v (%v)", kvs, err)
	}
	if rep, err = m.Check(ctx); err != nil || rep.Allocations != 0 || len(rep.Leaked)+len(rep.MissingHandles)+len(rep.HandleMismatches)+len(rep.EmptyHandles) > 0 {
		t.Fatalf("ipam check after release: %+v (%v)", rep, err)
	}
	t.Logf("%d allocators on %d nodes, %d rounds each: %d addresses held at the peak check, 0 duplicates, 0 handles left",
		workers, nodes, rounds, len(held))
}
