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
