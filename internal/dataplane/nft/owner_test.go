package nft

import (
	"strings"
	"testing"

	"sigs.k8s.io/knftables"
)

// The table is the Owner's alone: an object in it that no part wants is
// found on a resync and removed with one rebuild.
func TestOwnerRemovesUnwantedObjects(t *testing.T) {
	fake := knftables.NewFake(Family, Table)
	o := New(Config{NFT: fake})
	if _, err := o.Apply(ctx, Wanted{NAT: natWant()}); err != nil {
		t.Fatal(err)
	}
	tx := fake.NewTransaction()
	tx.Add(&knftables.Chain{Name: "stray"})
	tx.Add(&knftables.Set{Name: "stray-set", Type: "ipv4_addr"})
	if err := fake.Run(ctx, tx); err != nil {
		t.Fatal(err)
	}
	o.Forget()
	res, err := o.Apply(ctx, Wanted{NAT: natWant()})
	if err != nil || !res.Rebuilt {
		t.Fatalf("resync with stray objects: %+v %v", res, err)
	}
	if dump := fake.Dump(); strings.Contains(dump, "stray") {
		t.Errorf("stray objects kept:\n%s", dump)
	}
}

// Two parts may not claim one name: the merge says which.
func TestMergeRefusesSharedNames(t *testing.T) {
	var c content
	if err := c.merge(natPart(natWant())); err != nil {
		t.Fatal(err)
	}
	if err := c.merge(natPart(natWant())); err == nil || !strings.Contains(err.Error(), MasqSet) {
		t.Errorf("second NAT part merged: %v", err)
	}
}

// A change of elements alone (a new pool, a pod) is written as those
// elements, not as a new table.
func TestElementsOnlyChange(t *testing.T) {
	fake := knftables.NewFake(Family, Table)
	nft := &counting{Interface: fake}
	o := New(Config{NFT: nft})
	if _, err := o.Apply(ctx, Wanted{NAT: natWant()}); err != nil {
		t.Fatal(err)
	}
	n := natWant()
	n.MasqPools = append(n.MasqPools, prefixes("10.246.0.0/16")...)
	n.AllPools = prefixes("10.244.0.0/16", "10.246.0.0/16") // 10.245 goes
	res, err := o.Apply(ctx, Wanted{NAT: n})
	if err != nil || !res.Rebuilt || !res.ElementsOnly {
		t.Fatalf("apply: %+v %v", res, err)
	}
	if fake.Table.Sets[MasqSet].FindElement("10.246.0.0/16") == nil || fake.Table.Sets[AllSet].FindElement("10.245.0.0/16") != nil {
		t.Errorf("elements not updated:\n%s", fake.Dump())
	}
	if add, del := diff([]string{"a", "c", "d"}, []string{"b", "c", "e"}); strings.Join(add, ",") != "b,e" || strings.Join(del, ",") != "a,d" {
		t.Errorf("diff: add %v del %v", add, del)
	}
}
