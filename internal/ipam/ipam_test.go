package ipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

func TestBlockFillsThenSecondIsClaimed(t *testing.T) {
	e := newEnv(t)
	e.pool("p", "10.244.0.0/16", 26, nil)
	first := e.assign("node-1", "net.c0", 1)[0]
	if !strings.HasSuffix(first, "/26") {
		t.Fatalf("address %s not returned with the block mask", first)
	}
	block := netip.MustParsePrefix(first).Masked()
	if a := netip.MustParsePrefix(first).Addr(); a != block.Addr() {
		t.Errorf("first address %s is not the block's ordinal 0 (%s)", a, block)
	}
	for i := 1; i < 64; i++ {
		got := e.assign("node-1", fmt.Sprintf("net.c%d", i), 1)[0]
		if !block.Contains(netip.MustParsePrefix(got).Addr()) {
			t.Fatalf("allocation %d (%s) left block %s before it was full", i, got, block)
		}
	}
	next := netip.MustParsePrefix(e.assign("node-1", "net.c64", 1)[0])
	if block.Contains(next.Addr()) {
		t.Fatalf("65th address %s is in the full block %s", next, block)
	}
	blocks, _ := e.ipam.hostBlocks(e.ctx, "node-1", "ipv4")
	if len(blocks) != 2 || !slicesContain(blocks, next.Masked()) {
		t.Errorf("node-1 blocks = %v, want %s and %s", blocks, block, next.Masked())
	}

	// The stored values are Calico's.
	kv, err := e.c.Store().Get(e.ctx, AffinityKey("node-1", block))
	if err != nil || string(kv.Value) != `{"state":"confirmed","deleted":false}` {
		t.Errorf("affinity = %s (%v)", kv.Value, err)
	}
	kv, err = e.c.Store().Get(e.ctx, HandleKey("net.c0"))
	if err != nil || string(kv.Value) != fmt.Sprintf(`{"block":{"%s":1},"deleted":false}`, block) {
		t.Errorf("handle = %s (%v)", kv.Value, err)
	}
	kv, _ = e.c.Store().Get(e.ctx, BlockKey(block))
	var raw map[string]any
	json.Unmarshal(kv.Value, &raw)
	for _, f := range []string{"cidr", "affinity", "affinity_claim_time", "allocations", "unallocated", "attributes", "sequenceNumber", "sequenceNumberForAllocation", "deleted"} {
		if _, ok := raw[f]; !ok {
			t.Errorf("block JSON lacks %q: %s", f, kv.Value)
		}
	}
	if raw["affinity"] != "host:node-1" || raw["cidr"] != block.String() {
		t.Errorf("block affinity/cidr = %v/%v", raw["affinity"], raw["cidr"])
	}
	kv, _ = e.c.Store().Get(e.ctx, ConfigKey)
	if string(kv.Value) != `{"auto_allocate_blocks":true,"kubeVirtVMAddressPersistence":"Enabled"}` {
		t.Errorf("IPAM config = %s", kv.Value)
	}
}

func slicesContain(ps []netip.Prefix, p netip.Prefix) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func TestReleaseReusesLastFIFO(t *testing.T) {
	e := newEnv(t)
	e.pool("p", "10.1.0.0/24", 29, nil)
	a := e.assign("n1", "h1", 3)
	if _, err := e.ipam.ReleaseByHandle(e.ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Store().Get(e.ctx, HandleKey("h1")); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("handle still stored after release: %v", err)
	}
	b := e.assign("n1", "h2", 5)
	for _, x := range b {
		for _, y := range a {
			if x == y {
				t.Errorf("released address %s reused before the rest of the block (got %v after releasing %v)", x, b, a)
			}
		}
	}
	c := e.assign("n1", "h3", 3)
	if strings.Join(c, ",") != strings.Join(a, ",") {
		t.Errorf("after the block's free list ran out, got %v, want the released %v in order", c, a)
	}
}

func TestBorrowingAndStrictAffinity(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			e := newEnv(t)
			e.pool("small", "10.9.0.0/28", 29, nil) // two blocks of 8
			if strict {
				if _, err := e.ipam.SetConfig(e.ctx, func(c *Config) { c.StrictAffinity = true }); err != nil {
					t.Fatal(err)
				}
			}
			e.assign("n2", "other", 1)
			e.assign("n1", "mine", 8)
			got, err := e.tryAssign("n1", "extra", 1)
			if strict {
				if !errors.Is(err, ErrStrictAffinity) {
					t.Fatalf("strict affinity: got %v, err %v; want ErrStrictAffinity", got, err)
				}
				if _, err := e.c.Store().Get(e.ctx, HandleKey("extra")); !errors.Is(err, datastore.ErrNotFound) {
					t.Error("the refused request left a handle behind")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, _ := netip.ParsePrefix(got[0])
			alloc, ok, _ := e.ipam.GetAllocation(e.ctx, a.Addr())
			if !ok || alloc.BlockHost != "n2" || alloc.HandleID != "extra" {
				t.Errorf("borrowed %s: %+v, want a block of n2", got[0], alloc)
			}
		})
	}
}

func TestReservationsAreSkipped(t *testing.T) {
	e := newEnv(t)
	e.pool("p", "10.2.0.0/28", 28, nil)
	r := &v3.IPReservation{ObjectMeta: v3.ObjectMeta{Name: "r"}}
	r.Spec.ReservedCIDRs = []string{"10.2.0.0/30", "10.2.0.5"}
	e.apply(r)
	got := e.assign("n1", "h", 3)
	want := "10.2.0.4/28,10.2.0.6/28,10.2.0.7/28"
	if strings.Join(got, ",") != want {
		t.Errorf("got %v, want %s (reserved skipped)", got, want)
	}
	if _, err := e.tryAssign("n1", "h2", 10); !errors.Is(err, ErrExhausted) {
		t.Errorf("asking for more than the unreserved rest: err = %v, want ErrExhausted", err)
	}
	if err := e.ipam.AssignIP(e.ctx, AssignIPArgs{IP: netip.MustParseAddr("10.2.0.5"), HandleID: "x", Hostname: "n1"}); err == nil {
		t.Error("a reserved address was assigned explicitly")
	}
}

func TestPoolChoice(t *testing.T) {
	e := newEnv(t)
	e.pool("off", "10.3.0.0/24", 26, func(p *v3.IPPool) { p.Spec.Disabled = true })
	if _, err := e.tryAssign("n1", "h", 1); !errors.Is(err, ErrNoPools) {
		t.Fatalf("only a disabled pool: err = %v, want ErrNoPools", err)
	}
	e.pool("rack-b", "10.4.0.0/24", 26, func(p *v3.IPPool) { p.Spec.NodeSelector = "rack == 'b'" })
	e.node("n1", map[string]string{"rack": "a"})
	e.node("n2", map[string]string{"rack": "b"})
	if _, err := e.tryAssign("n1", "h", 1); !errors.Is(err, ErrNoPools) {
		t.Fatalf("nodeSelector excludes n1: err = %v, want ErrNoPools", err)
	}
	got := e.assign("n2", "h", 1)
	if !strings.HasPrefix(got[0], "10.4.0.") {
		t.Errorf("n2 got %v, want an address of rack-b", got)
	}
}

func TestStaleReleaseRefused(t *testing.T) {
	e := newEnv(t)
	e.pool("p", "10.5.0.0/24", 26, nil)
	ip := netip.MustParsePrefix(e.assign("n1", "h1", 1)[0]).Addr()
	old, _, _ := e.ipam.GetAllocation(e.ctx, ip)
	if _, err := e.ipam.ReleaseIPs(e.ctx, ReleaseOptions{Address: ip, SequenceNumber: old.SequenceNumber}); err != nil {
		t.Fatal(err)
	}
	if err := e.ipam.AssignIP(e.ctx, AssignIPArgs{IP: ip, HandleID: "h2", Hostname: "n1"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.ipam.ReleaseIPs(e.ctx, ReleaseOptions{Address: ip, SequenceNumber: old.SequenceNumber})
	if !errors.Is(err, ErrBadSequenceNumber) {
		t.Fatalf("stale release: err = %v, want ErrBadSequenceNumber", err)
	}
	now, ok, _ := e.ipam.GetAllocation(e.ctx, ip)
	if !ok || now.HandleID != "h2" {
		t.Errorf("after the refused release %s is %+v, want held by h2", ip, now)
	}
	if _, err := e.ipam.ReleaseIPs(e.ctx, ReleaseOptions{Address: ip, Handle: "h1"}); err == nil {
		t.Error("release naming the wrong handle was accepted")
	}
}

func TestEmptyBlockGivenBackAfterGrace(t *testing.T) {
	e := newEnv(t)
	e.pool("p", "10.6.0.0/24", 29, nil)
	e.assign("n1", "keep", 8)  // block 1, stays full
	e.assign("n1", "gone", 8)  // block 2
	e.assign("n1", "gone2", 1) // block 3
	for _, h := range []string{"gone", "gone2"} {
		if _, err := e.ipam.ReleaseByHandle(e.ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	r := &EmptyBlockReleaser{IPAM: e.ipam, Host: "n1", Grace: 5 * time.Minute}
	if rel, err := r.Sync(e.ctx); err != nil || len(rel) != 0 {
		t.Fatalf("first sync released %v (%v); the grace period has not passed", rel, err)
	}
	e.clock.Advance(4 * time.Minute)
	if rel, _ := r.Sync(e.ctx); len(rel) != 0 {
		t.Fatalf("released %v before the grace period", rel)
	}
	e.clock.Advance(2 * time.Minute)
	rel, err := r.Sync(e.ctx)
	if err != nil || len(rel) != 2 {
		t.Fatalf("after the grace period released %v (%v), want the two empty blocks", rel, err)
	}
	blocks, _ := e.ipam.hostBlocks(e.ctx, "n1", "ipv4")
	if len(blocks) != 1 {
		t.Errorf("n1 keeps %v, want only its full block", blocks)
	}
	for _, c := range rel {
		if _, err := e.c.Store().Get(e.ctx, BlockKey(c)); !errors.Is(err, datastore.ErrNotFound) {
			t.Errorf("released block %s still stored", c)
		}
	}

	// A host whose blocks are all empty keeps one.
	if _, err := e.ipam.ReleaseByHandle(e.ctx, "keep"); err != nil {
		t.Fatal(err)
	}
	r.Sync(e.ctx)
	e.clock.Advance(time.Hour)
	r.Sync(e.ctx)
	if blocks, _ := e.ipam.hostBlocks(e.ctx, "n1", "ipv4"); len(blocks) != 1 {
		t.Errorf("a host with only empty blocks kept %v, want exactly one", blocks)
	}
}

func TestBlockLimitAndReclaim(t *testing.T) {
	e := newEnv(t)
	e.pool("p", "10.7.0.0/28", 29, nil)
	if _, err := e.ipam.SetConfig(e.ctx, func(c *Config) { c.StrictAffinity, c.MaxBlocksPerHost = true, 1 }); err != nil {
		t.Fatal(err)
	}
	e.assign("n1", "h", 8)
	if _, err := e.tryAssign("n1", "h2", 1); !errors.Is(err, ErrBlockLimit) {
		t.Fatalf("past maxBlocksPerHost: err = %v, want ErrBlockLimit", err)
	}
	if _, err := e.ipam.SetConfig(e.ctx, func(c *Config) { c.StrictAffinity, c.MaxBlocksPerHost = false, 0 }); err != nil {
		t.Fatal(err)
	}
	// n2 takes the other block; n3 finds none until n2's empties and ages.
	e.assign("n2", "x", 1)
	e.ipam.ReleaseByHandle(e.ctx, "x")
	if _, err := e.ipam.SetConfig(e.ctx, func(c *Config) { c.StrictAffinity = true }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tryAssign("n3", "y", 1); err == nil {
		t.Fatal("n3 reclaimed n2's block before it was old enough")
	}
	e.clock.Advance(2 * time.Minute)
	got := e.assign("n3", "y", 1)
	a, _, _ := e.ipam.GetAllocation(e.ctx, netip.MustParsePrefix(got[0]).Addr())
	if a.BlockHost != "n3" {
		t.Errorf("n3's address %s is in a block of %q", got[0], a.BlockHost)
	}
	if b, _ := e.ipam.hostBlocks(e.ctx, "n2", "ipv4"); len(b) != 0 {
		t.Errorf("n2 still holds %v after the reclaim", b)
	}
}

func TestTunnelAddress(t *testing.T) {
	e := newEnv(t)
	e.pool("p", "10.8.0.0/16", 26, nil)
	a, err := e.ipam.EnsureTunnelAddress(e.ctx, "n1", TypeIPIPTunnel, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.ipam.EnsureTunnelAddress(e.ctx, "n1", TypeIPIPTunnel, nil)
	if err != nil || a != b {
		t.Fatalf("second call gave %s (%v), want the same %s", b, err, a)
	}
	al, ok, _ := e.ipam.GetAllocation(e.ctx, a)
	if !ok || al.HandleID != "ipip-tunnel-addr-n1" || al.Attrs[AttrType] != TypeIPIPTunnel || al.Attrs[AttrNode] != "n1" {
		t.Errorf("tunnel allocation = %+v", al)
	}
	if err := e.ipam.ReleaseTunnelAddress(e.ctx, "n1", TypeIPIPTunnel); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.ipam.GetAllocation(e.ctx, a); ok {
		t.Error("tunnel address still allocated after release")
	}
}

func TestAllOrNothing(t *testing.T) {
	e := newEnv(t)
	e.pool("p", "10.10.0.0/29", 29, nil)
	if _, err := e.tryAssign("n1", "big", 9); !errors.Is(err, ErrExhausted) {
		t.Fatalf("err = %v, want ErrExhausted", err)
	}
	got := e.assign("n1", "all", 8)
	if len(got) != 8 {
		t.Errorf("after the failed request, got %d of 8 addresses: something was left allocated", len(got))
	}
}

// NewHandle: a new handle is allocated without being read first; an
// existing one ends the request with ErrHandleInUse and nothing more
// allocated, on the ordinary path and the cached, batched one.
func TestNewHandle(t *testing.T) {
	e := newEnv(t)
	e.pool("p", "10.244.0.0/16", 26, nil)
	for _, m := range []struct {
		name string
		ipam *IPAM
	}{{"fresh", New(e.c, WithClock(e.clock.Now))}, {"cached", New(e.c, WithClock(e.clock.Now), WithCache(time.Minute))}} {
		t.Run(m.name, func(t *testing.T) {
			handle := "net." + m.name
			args := AutoAssignArgs{Num4: 1, HandleID: handle, Hostname: "node-1", NewHandle: true}
			first, _, err := m.ipam.AutoAssign(e.ctx, args)
			if err != nil || len(first) != 1 {
				t.Fatalf("first allocation: %v %v", first, err)
			}
			again, _, err := m.ipam.AutoAssign(e.ctx, args)
			if !errors.Is(err, ErrHandleInUse) || len(again) != 0 {
				t.Fatalf("second allocation on the handle: %v, %v; want ErrHandleInUse and nothing", again, err)
			}
			held, err := m.ipam.IPsByHandle(e.ctx, handle)
			if err != nil || len(held) != 1 || held[0] != first[0].Addr() {
				t.Errorf("handle holds %v (%v), want only %s", held, err, first[0].Addr())
			}
			args.NewHandle = false
			if more, _, err := m.ipam.AutoAssign(e.ctx, args); err != nil || len(more) != 1 {
				t.Errorf("without NewHandle an existing handle gets another address: %v %v", more, err)
			}
		})
	}
}
