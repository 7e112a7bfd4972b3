package nft

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc"
)

var ctx = context.Background()

// counting counts the nft invocations made through an Interface.
type counting struct {
	knftables.Interface
	runs, reads int
	// onRun, when set, sees every transaction run.
	onRun func(tx string)
}

func (c *counting) Run(ctx context.Context, tx *knftables.Transaction) error {
	c.runs++
	if c.onRun != nil {
		c.onRun(tx.String())
	}
	return c.Interface.Run(ctx, tx)
}

func (c *counting) ListRules(ctx context.Context, chain string) ([]*knftables.Rule, error) {
	c.reads++
	return c.Interface.ListRules(ctx, chain)
}

func (c *counting) ListElements(ctx context.Context, t, name string) ([]*knftables.Element, error) {
	c.reads++
	return c.Interface.ListElements(ctx, t, name)
}

func (c *counting) listSetJSON(ctx context.Context, name string) ([]byte, error) {
	l, ok := c.Interface.(setJSONLister)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	c.reads++
	return l.listSetJSON(ctx, name)
}

func (c *counting) listTableJSON(ctx context.Context) ([]byte, error) {
	l, ok := c.Interface.(tableJSONLister)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	c.reads++
	return l.listTableJSON(ctx)
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func natWant() calc.NAT {
	return calc.NAT{
		MasqPools: prefixes("10.244.0.0/16"),
		AllPools:  prefixes("10.245.0.0/16", "10.244.0.0/16", "fd00::/48", "10.244.5.0/24"),
	}
}

func TestApplyBuildsTable(t *testing.T) {
	fake := knftables.NewFake(Family, Table)
	nft := &counting{Interface: fake}
	r := New(Config{NFT: nft})
	res, err := r.Apply(ctx, Wanted{NAT: natWant()})
	if err != nil || !res.Rebuilt || res.MasqPools != 1 || res.AllPools != 2 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	dump := fake.Dump()
	for _, w := range []string{
		"add set ip tortie all-ipam-pools { type ipv4_addr ; flags interval ; }",
		"add chain ip tortie nat-outgoing { type nat hook postrouting priority 100 ; }",
		"add rule ip tortie nat-outgoing ip saddr @masq-ipam-pools ip daddr != @all-ipam-pools masquerade comment",
		"add element ip tortie masq-ipam-pools { 10.244.0.0/16 }",
		"add element ip tortie all-ipam-pools { 10.244.0.0/16 }",
		"add element ip tortie all-ipam-pools { 10.245.0.0/16 }",
	} {
		if !strings.Contains(dump, w) {
			t.Errorf("table lacks %q:\n%s", w, dump)
		}
	}
	if strings.Contains(dump, "10.244.5.0") || strings.Contains(dump, "fd00") {
		t.Errorf("nested or IPv6 pool in the sets:\n%s", dump)
	}

	nft.runs, nft.reads = 0, 0
	if res, err := r.Apply(ctx, Wanted{NAT: natWant()}); err != nil || res.Rebuilt || nft.runs+nft.reads != 0 {
		t.Fatalf("repeat: %+v %v, %d runs %d reads; want no nft at all", res, err, nft.runs, nft.reads)
	}
	// A restart reads the table and finds it right.
	if res, err := New(Config{NFT: nft}).Apply(ctx, Wanted{NAT: natWant()}); err != nil || res.Rebuilt || nft.runs != 0 {
		t.Fatalf("restart: %+v %v, %d runs", res, err, nft.runs)
	}
}

func TestApplyChangesAndDrift(t *testing.T) {
	fake := knftables.NewFake(Family, Table)
	nft := &counting{Interface: fake}
	r := New(Config{NFT: nft})
	if _, err := r.Apply(ctx, Wanted{NAT: natWant()}); err != nil {
		t.Fatal(err)
	}

	// A new pool: rebuilt with it.
	n := natWant()
	n.MasqPools = append(n.MasqPools, prefixes("10.246.0.0/16")...)
	n.AllPools = append(n.AllPools, prefixes("10.246.0.0/16")...)
	if res, err := r.Apply(ctx, Wanted{NAT: n}); err != nil || !res.Rebuilt {
		t.Fatalf("new pool: %+v %v", res, err)
	}
	if fake.Table.Sets[MasqSet].FindElement("10.246.0.0/16") == nil {
		t.Fatal("new pool not in the masq set")
	}

	// Drift: an element removed behind our back, found on the resync.
	tx := fake.NewTransaction()
	tx.Delete(&knftables.Element{Set: AllSet, Key: []string{"10.245.0.0/16"}})
	if err := fake.Run(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.Apply(ctx, Wanted{NAT: n}); res.Rebuilt {
		t.Fatal("rebuilt without a resync: the known state should have been trusted")
	}
	r.Forget()
	if res, err := r.Apply(ctx, Wanted{NAT: n}); err != nil || !res.Rebuilt || fake.Table.Sets[AllSet].FindElement("10.245.0.0/16") == nil {
		t.Fatalf("resync: %+v %v", res, err)
	}

	// A table made by another definition (an older tortie) is rebuilt.
	fake.Table.Chains[NATChain].Rules[0].Comment = knftables.PtrTo("tortie 000000000000")
	r.Forget()
	if res, err := r.Apply(ctx, Wanted{NAT: n}); err != nil || !res.Rebuilt {
		t.Fatalf("old definition: %+v %v", res, err)
	}
}

func TestEmptyMasqKeepsTable(t *testing.T) {
	fake := knftables.NewFake(Family, Table)
	r := New(Config{NFT: fake})
	if _, err := r.Apply(ctx, Wanted{NAT: calc.NAT{AllPools: prefixes("10.244.0.0/16")}}); err != nil {
		t.Fatal(err)
	}
	if fake.Table == nil || fake.Table.Sets[MasqSet] == nil || len(fake.Table.Sets[MasqSet].Elements) != 0 {
		t.Fatalf("table:\n%s", fake.Dump())
	}
	r.Forget()
	if res, err := r.Apply(ctx, Wanted{NAT: calc.NAT{AllPools: prefixes("10.244.0.0/16")}}); err != nil || res.Rebuilt {
		t.Fatalf("empty sets compared unequal: %+v %v", res, err)
	}
}

func TestNormalise(t *testing.T) {
	got := normalise(prefixes("10.0.0.0/8", "10.1.0.0/16", "192.168.1.7/24", "10.0.0.0/8", "172.16.0.0/12", "::/0"))
	want := prefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.1.0/24")
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	for _, k := range []struct {
		in   string
		want string
		ok   bool
	}{{"10.0.0.0/16", "10.0.0.0/16", true}, {"10.0.0.1", "10.0.0.1/32", true}, {"10.0.0.1-10.0.0.9", "", false}} {
		p, ok := parseKey(k.in)
		if ok != k.ok || (ok && p.String() != k.want) {
			t.Errorf("parseKey(%q) = %v %v", k.in, p, ok)
		}
	}
}
