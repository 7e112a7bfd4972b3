package nft

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/knftables"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The policy part's table for the fixture, as nft text: readable in
// review, and any change to what is rendered shows in the diff.
func TestPolicyGolden(t *testing.T) {
	fake := knftables.NewFake(Family, Table)
	if _, err := New(Config{NFT: fake}).Apply(ctx, Wanted{NAT: natWant(), Policy: policyFixture(t)}); err != nil {
		t.Fatal(err)
	}
	got := fake.Dump()
	path := filepath.Join("testdata", "policy.nft")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("table differs from %s (go test -run TestPolicyGolden -update to accept):\n%s", path, got)
	}
}
