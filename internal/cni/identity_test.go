package cni

import "testing"

func TestWorkloadNames(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		network, container, arg string
		node                    string
		wantHost, wantWEP, ns   string
	}{
		{
			name: "cni, as in calico-anchor.md §3.2", network: "ca-net", container: "cnitool-3dac2234a9cb9032b2c9", node: "ca-node1",
			wantHost: "calic437d2ca0be", wantWEP: "ca--node1-cni-cnitool--3dac2234a9cb9032b2c9-eth0", ns: "default",
		},
		{
			name: "k8s pod args", network: "k8s-pod-network", container: "abc123", node: "node1",
			arg:      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx;K8S_POD_INFRA_CONTAINER_ID=abc123",
			wantHost: "calic440f455693", wantWEP: "node1-k8s-nginx-eth0", ns: "default",
		},
		{
			name: "k8s name with dashes", network: "n", container: "c", node: "node-1",
			arg:      "K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-abc",
			wantHost: "cali3d5d6ab04b5", wantWEP: "node--1-k8s-coredns--abc-eth0", ns: "kube-system",
		},
		{
			name: "only a namespace is not k8s", network: "ca-net", container: "cnitool-3dac2234a9cb9032b2c9", node: "n",
			arg: "K8S_POD_NAMESPACE=x", wantHost: "calic437d2ca0be", wantWEP: "n-cni-cnitool--3dac2234a9cb9032b2c9-eth0", ns: "default",
		},
	} {
		w := NewWorkload(tc.network, tc.container, "eth0", tc.arg)
		if got := w.HostIfName(); got != tc.wantHost {
			t.Errorf("%s: host ifname = %s, want %s", tc.name, got, tc.wantHost)
		}
		if got := w.WEPName(tc.node); got != tc.wantWEP {
			t.Errorf("%s: WEP name = %s, want %s", tc.name, got, tc.wantWEP)
		}
		if w.Namespace != tc.ns {
			t.Errorf("%s: namespace = %s, want %s", tc.name, w.Namespace, tc.ns)
		}
	}
}

// Container IDs that share their first 11 characters (every cnitool ID
// starts "cnitool-") must not share a host interface: with Calico's
// "cali"+containerID[:11] they did, and one ADD deleted another pod's veth.
func TestHostIfNamesDoNotCollideOnSharedPrefix(t *testing.T) {
	a := NewWorkload("net", "cnitool-3dac2234a9cb9032b2c9", "eth0", "").HostIfName()
	b := NewWorkload("net", "cnitool-3dac2234a9cb9032b2c8", "eth0", "").HostIfName()
	if a == b || len(a) != 15 || len(b) != 15 {
		t.Fatalf("host names %s and %s", a, b)
	}
}
