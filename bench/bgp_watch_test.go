package bench

import (
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// routeWatch holds a netlink route subscription in each of a set of
// namespaces (as `ip monitor route` would) and reports when every
// expected namespace has seen a route to the target appear or go.
type routeWatch struct {
	mu      sync.Mutex
	target  netip.Prefix
	add     bool
	expect  map[string]bool
	seen    map[string]time.Time
	origin  string    // the namespace where the change starts
	originT time.Time // when its kernel changed
	done    chan struct{}
	stop    chan struct{}
	handles []netns.NsHandle
}

func watchRoutes(b *testing.B, namespaces []string) *routeWatch {
	b.Helper()
	w := &routeWatch{stop: make(chan struct{}), seen: map[string]time.Time{}}
	for _, name := range namespaces {
		h, err := netns.GetFromName(name)
		if err != nil {
			b.Fatalf("namespace %s: %v", name, err)
		}
		w.handles = append(w.handles, h)
		ch := make(chan netlink.RouteUpdate, 4096)
		if err := netlink.RouteSubscribeWithOptions(ch, w.stop, netlink.RouteSubscribeOptions{Namespace: &h}); err != nil {
			b.Fatalf("subscribe to routes in %s: %v", name, err)
		}
		go func(name string) {
			for u := range ch {
				w.event(name, u)
			}
		}(name)
	}
	b.Cleanup(w.close)
	return w
}

func (w *routeWatch) close() {
	close(w.stop)
	for _, h := range w.handles {
		h.Close()
	}
}

func (w *routeWatch) event(ns string, u netlink.RouteUpdate) {
	t := time.Now()
	if u.Dst == nil {
		return
	}
	ones, _ := u.Dst.Mask.Size()
	a, _ := netip.AddrFromSlice(u.Dst.IP.To4())
	p := netip.PrefixFrom(a, ones)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done == nil || p != w.target || (u.Type == unix.RTM_NEWROUTE) != w.add {
		return
	}
	if ns == w.origin && w.originT.IsZero() {
		w.originT = t
	}
	if !w.expect[ns] {
		return
	}
	if _, ok := w.seen[ns]; ok {
		return
	}
	w.seen[ns] = t
	if len(w.seen) == len(w.expect) {
		close(w.done)
	}
}

// arm starts waiting for target to be added (or removed) in every
// namespace of expect.
func (w *routeWatch) arm(target netip.Prefix, add bool, expect []string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.target, w.add, w.seen, w.done = target, add, map[string]time.Time{}, make(chan struct{})
	w.originT = time.Time{}
	w.expect = map[string]bool{}
	for _, n := range expect {
		w.expect[n] = true
	}
	return w.done
}

// last is when the last namespace saw the change, measured from t0.
func (w *routeWatch) last(t0 time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var max time.Duration
	for _, t := range w.seen {
		if d := t.Sub(t0); d > max {
			max = d
		}
	}
	return max
}

// fromOrigin is when the last namespace saw the change, measured from
// the origin's own kernel change (0 if the origin saw none).
func (w *routeWatch) fromOrigin() time.Duration {
	w.mu.Lock()
	t0 := w.originT
	w.mu.Unlock()
	if t0.IsZero() {
		return 0
	}
	return w.last(t0)
}

// stats is p50 and max of ds, in milliseconds.
func stats(ds []time.Duration) (p50, max float64) {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0, 0
	}
	return float64(s[len(s)/2]) / 1e6, float64(s[len(s)-1]) / 1e6
}
