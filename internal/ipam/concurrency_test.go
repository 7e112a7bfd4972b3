package ipam

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// TestConcurrentAllocateRelease: goroutines on several nodes allocate and
// release at random against one etcd. No address is ever held twice, and
// at the end every handle's counts match the blocks.
func TestConcurrentAllocateRelease(t *testing.T) {
	t.Run("fresh reads", func(t *testing.T) { testConcurrent(t, false) })
	t.Run("each worker with its own cache", func(t *testing.T) { testConcurrent(t, true) })
}

func testConcurrent(t *testing.T, cached bool) {
	e := newEnv(t)
	e.pool("p", "10.20.0.0/24", 28, nil) // 16 blocks of 16: claims, borrowing and reuse all happen
	const workers, rounds = 12, 25
	var (
		mu   sync.Mutex
		held = map[netip.Addr]string{}
		errs []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			m := e.ipam
			if cached {
				m = New(e.c, WithCache(time.Minute))
			}
			host := fmt.Sprintf("node-%d", w%3)
			var mine []string
			for i := range rounds {
				if len(mine) > 0 && r.IntN(3) == 0 {
					h := mine[r.IntN(len(mine))]
					mu.Lock()
					for a, owner := range held {
						if owner == h {
							delete(held, a)
						}
					}
					mu.Unlock()
					if _, err := m.ReleaseByHandle(e.ctx, h); err != nil {
						fail("release %s: %v", h, err)
					}
					mine = remove(mine, h)
					continue
				}
				h := fmt.Sprintf("w%d-%d", w, i)
				v4, _, err := m.AutoAssign(e.ctx, AutoAssignArgs{Num4: 1 + r.IntN(3), HandleID: h, Hostname: host})
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
		}()
	}
	wg.Wait()
	for _, s := range errs {
		t.Error(s)
	}
	r, err := e.ipam.Check(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.HandleMismatches)+len(r.MissingHandles)+len(r.EmptyHandles) > 0 {
		t.Errorf("handles disagree with blocks: mismatches %v, missing %v, empty %v", r.HandleMismatches, r.MissingHandles, r.EmptyHandles)
	}
	if r.Allocations != len(held) {
		t.Errorf("blocks record %d allocations, the workers hold %d", r.Allocations, len(held))
	}
}

func remove(ss []string, s string) []string {
	for i, x := range ss {
		if x == s {
			return append(ss[:i], ss[i+1:]...)
		}
	}
	return ss
}
