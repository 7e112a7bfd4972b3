package crds

import (
	"bytes"
	"os"
	"testing"
)

// TestCRDsCurrent: deploy/crds.yaml is what the types generate.
func TestCRDsCurrent(t *testing.T) {
	want, err := YAML()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../../../deploy/crds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("deploy/crds.yaml is stale: run go generate ./internal/datastore/kdd/crds")
	}
}

// TestManifestCurrent: deploy/tortie.yaml is the CRDs and the components.
func TestManifestCurrent(t *testing.T) {
	comp, err := os.ReadFile("../../../../deploy/tortie-components.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Manifest(comp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../../../deploy/tortie.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("deploy/tortie.yaml is stale: run go generate ./internal/datastore/kdd/crds")
	}
}

// TestCRDNames: the storage CRDs Calico has (calico-reference.md §5.2).
func TestCRDNames(t *testing.T) {
	want := []string{"bgpconfigurations", "bgpfilters", "bgppeers", "blockaffinities", "caliconodestatuses",
		"clusterinformations", "felixconfigurations", "globalnetworkpolicies", "globalnetworksets", "hostendpoints",
		"ipamblocks", "ipamconfigs", "ipamhandles", "ippools", "ipreservations", "kubecontrollersconfigurations",
		"networkpolicies", "networksets", "stagedglobalnetworkpolicies", "stagedkubernetesnetworkpolicies",
		"stagednetworkpolicies", "tiers"}
	var got []string
	for _, d := range Defs() {
		got = append(got, d.Plural)
	}
	if len(got) != len(want) {
		t.Fatalf("CRDs %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("CRDs %v, want %v", got, want)
		}
	}
}
