package v3

import (
	"strings"
	"testing"
)

func TestLookupKind(t *testing.T) {
	tests := map[string]string{
		"IPPool": "IPPool", "ippools": "IPPool", "IPP": "IPPool", "pool": "IPPool", "pools": "IPPool", "ipps": "IPPool",
		"node": "Node", "no": "Node", "nos": "Node",
		"bgppeer": "BGPPeer", "bp": "BGPPeer", "bgpps": "BGPPeer",
		"bgpconfig": "BGPConfiguration", "bgpconfigurations": "BGPConfiguration",
		"felixconfig": "FelixConfiguration", "FelixConfigurations": "FelixConfiguration",
		"policy": "NetworkPolicy", "np": "NetworkPolicy", "pol": "NetworkPolicy", "cnp": "NetworkPolicy", "networkpolicies": "NetworkPolicy",
		"gnp": "GlobalNetworkPolicy", "globalnetworkpolicies": "GlobalNetworkPolicy",
		"profile": "Profile", "pro": "Profile",
		"hep": "HostEndpoint", "hostendpoints": "HostEndpoint",
		"wep": "WorkloadEndpoint", "weps": "WorkloadEndpoint",
		"netset": "NetworkSet", "gns": "GlobalNetworkSet",
		"ipres": "IPReservation", "ipreservations": "IPReservation",
		"clusterinfo": "ClusterInformation", "clusterinformations": "ClusterInformation",
		"tiers": "Tier", "kcc": "KubeControllersConfiguration", "kubecontrollersconfigurations": "KubeControllersConfiguration",
	}
	for in, want := range tests {
		k, ok := LookupKind(in)
		if !ok || k.Kind != want {
			t.Errorf("LookupKind(%q) = %q, %v; want %q", in, k.Kind, ok, want)
		}
	}
	if _, ok := LookupKind("ipamblock"); ok {
		t.Error("ipamblock should be unknown")
	}
}

func TestKindsRegistry(t *testing.T) {
	seen := map[string]string{}
	for _, k := range Kinds() {
		for _, n := range append([]string{strings.ToLower(k.Kind), k.Plural}, k.Aliases...) {
			if prev, dup := seen[n]; dup {
				t.Errorf("name %q used by %s and %s", n, prev, k.Kind)
			}
			seen[n] = k.Kind
		}
		if k.ListKind != k.Kind+"List" {
			t.Errorf("%s: ListKind %q", k.Kind, k.ListKind)
		}
		r := k.New()
		if tm := r.GetTypeMeta(); tm.Kind != k.Kind || tm.APIVersion != APIVersion {
			t.Errorf("%s: New gives TypeMeta %+v", k.Kind, tm)
		}
		if got := KindOf(r); got.Kind != k.Kind || got.Plural != k.Plural {
			t.Errorf("KindOf(%T) = %+v", r, got)
		}
		r2, err := NewResource(k.Plural)
		if err != nil || KindOf(r2).Kind != k.Kind {
			t.Errorf("NewResource(%q) = %T, %v", k.Plural, r2, err)
		}
	}
	ns := map[string]bool{"NetworkPolicy": true, "WorkloadEndpoint": true, "NetworkSet": true,
		"StagedNetworkPolicy": true, "StagedKubernetesNetworkPolicy": true}
	for _, k := range Kinds() {
		if k.Namespaced != ns[k.Kind] {
			t.Errorf("%s: Namespaced = %v", k.Kind, k.Namespaced)
		}
	}
	if _, err := NewResource("bogus"); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("NewResource(bogus) error = %v", err)
	}
}
