package nft

import (
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/ns/nstest"
)

func TestNFTables(t *testing.T) {
	ns := nstest.New(t, "tdp")
	ns.MustRun(t, "nft", "add table ip foreign; add chain ip foreign c { type filter hook forward priority 0 ; }; add rule ip foreign c counter accept")
	n := natWant()
	n.AllPools = append(n.AllPools, prefixes("10.250.0.1/32")...)

	var nft *counting
	apply := func(r **Owner) (Result, error) {
		var res Result
		err := ns.Do(func() error {
			if *r == nil {
				real, err := NewNFTables()
				if err != nil {
					return err
				}
				nft = &counting{Interface: real}
				*r = New(Config{NFT: nft})
			}
			var err error
			res, err = (*r).Apply(ctx, Wanted{NAT: n})
			return err
		})
		return res, err
	}

	var r *Owner
	if res, err := apply(&r); err != nil || !res.Rebuilt {
		t.Fatalf("first apply: %+v %v", res, err)
	}
	out := ns.MustRun(t, "nft", "list", "table", "ip", "tortie")
	for _, w := range []string{
		"set masq-ipam-pools", "elements = { 10.244.0.0/16 }",
		"type nat hook postrouting priority srcnat; policy accept;",
		"ip saddr @masq-ipam-pools ip daddr != @all-ipam-pools masquerade comment",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("nft list table ip tortie lacks %q:\n%s", w, out)
		}
	}
	all := ns.MustRun(t, "nft", "list", "set", "ip", "tortie", "all-ipam-pools")
	for _, w := range []string{"10.244.0.0/16", "10.245.0.0/16", "10.250.0.1"} {
		if !strings.Contains(all, w) {
			t.Errorf("all-ipam-pools lacks %s:\n%s", w, all)
		}
	}

	// A restart (new reconciler, same kernel) reads the table and writes nothing.
	var r2 *Owner
	if res, err := apply(&r2); err != nil || res.Rebuilt || nft.runs != 0 {
		t.Fatalf("restart: %+v %v, %d runs", res, err, nft.runs)
	}

	// Drift repaired on a resync.
	ns.MustRun(t, "nft", "delete element ip tortie all-ipam-pools { 10.245.0.0/16 }")
	r2.Forget()
	if res, err := apply(&r2); err != nil || !res.Rebuilt {
		t.Fatalf("resync after drift: %+v %v", res, err)
	}
	if out := ns.MustRun(t, "nft", "list", "set", "ip", "tortie", "all-ipam-pools"); !strings.Contains(out, "10.245.0.0/16") {
		t.Errorf("element not restored:\n%s", out)
	}

	if out := ns.MustRun(t, "nft", "list", "table", "ip", "foreign"); !strings.Contains(out, "counter packets 0 bytes 0 accept") {
		t.Errorf("foreign table changed:\n%s", out)
	}
}
