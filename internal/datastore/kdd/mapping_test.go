package kdd

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

func TestWEPName(t *testing.T) {
	for _, tc := range []struct{ node, pod, want string }{
		{"node1", "mypod-1", "node1-k8s-mypod--1-eth0"},
		{"node-a", "p", "node--a-k8s-p-eth0"},
	} {
		got := WEPName(tc.node, tc.pod, "eth0")
		if got != tc.want {
			t.Errorf("WEPName(%s, %s) = %s, want %s", tc.node, tc.pod, got, tc.want)
		}
		if seg := splitWEPName(got); !reflect.DeepEqual(seg, []string{tc.node, "k8s", tc.pod, "eth0"}) {
			t.Errorf("splitWEPName(%s) = %q", got, seg)
		}
	}
}

func TestIPAMNames(t *testing.T) {
	if got := cidrObjName("10.244.1.0/26"); got != "10-244-1-0-26" {
		t.Errorf("block name %s", got)
	}
	if got := cidrObjName("fd00::/122"); got != "fd00---122" {
		t.Errorf("v6 block name %s", got)
	}
	if got := affinityName("node1", "10.244.1.0/26"); got != "node1-10-244-1-0-26" {
		t.Errorf("affinity name %s", got)
	}
	long := affinityName(strings.Repeat("a", 300), "10.0.0.0/26")
	if len(long) != 253 {
		t.Errorf("long affinity name has %d characters, want 253", len(long))
	}
	if got := dnsName("k8s-pod-network.ABC_1"); got == "k8s-pod-network.abc_1" || len(got) < len("k8s-pod-network.abc-1") {
		t.Errorf("dnsName = %s", got)
	}
}

// TestV3RoundTrip: a v3 resource written as a CRD reads back the same,
// its extra metadata in the projectcalico.org/metadata annotation.
func TestV3RoundTrip(t *testing.T) {
	in := `{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"p1","uid":"u-1",
	"creationTimestamp":"2026-01-01T00:00:00Z","labels":{"a":"b"},"annotations":{"x":"y"}},
	"spec":{"cidr":"10.0.0.0/16","blockSize":26}}`
	res := crdResource("ippools", "IPPool", false)
	o, err := v3ToCRD(res, "", "p1", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if o.Metadata.Annotations[MetadataAnnotation] != `{"uid":"u-1","creationTimestamp":"2026-01-01T00:00:00Z"}` {
		t.Errorf("metadata annotation %q", o.Metadata.Annotations[MetadataAnnotation])
	}
	if o.APIVersion != "crd.projectcalico.org/v1" || o.Metadata.Labels["a"] != "b" {
		t.Errorf("object %+v", o)
	}
	out, err := crdToV3(o, "IPPool")
	if err != nil {
		t.Fatal(err)
	}
	wantJSONEqual(t, out, in)
}

// TestIPAMValues: the etcd values of blocks, handles, affinities and the
// config survive the trip through their CRD specs.
func TestIPAMValues(t *testing.T) {
	for _, tc := range []struct {
		m        *mapping
		key, val string
		spec     string
	}{
		{blockMapping(), "/calico/ipam/v2/assignment/ipv4/block/10.0.0.0-30",
			`{"cidr":"10.0.0.0/30","affinity":"host:n1","affinity_claim_time":"2026-01-01T00:00:00Z","allocations":[0,null,null,null],"unallocated":[1,2,3],"attributes":[{"handle_id":"h1","secondary":{"node":"n1"}}],"sequenceNumber":1,"sequenceNumberForAllocation":{"0":0},"deleted":false}`,
			`{"cidr":"10.0.0.0/30","affinity":"host:n1","affinityClaimTime":"2026-01-01T00:00:00Z","allocations":[0,null,null,null],"unallocated":[1,2,3],"attributes":[{"handle_id":"h1","secondary":{"node":"n1"}}],"sequenceNumber":1,"sequenceNumberForAllocation":{"0":0},"deleted":false,"strictAffinity":false}`},
		{handleMapping(), "/calico/ipam/v2/handle/k8s-pod-network.abc",
			`{"block":{"10.0.0.0/30":1},"deleted":false}`,
			`{"handleID":"k8s-pod-network.abc","block":{"10.0.0.0/30":1},"deleted":false}`},
		{affinityMapping(), "/calico/ipam/v2/host/n1/ipv4/block/10.0.0.0-30",
			`{"state":"confirmed","deleted":false}`,
			`{"state":"confirmed","node":"n1","type":"host","cidr":"10.0.0.0/30","deleted":"false"}`},
		{configMapping(), "/calico/ipam/v2/config",
			`{"strict_affinity":true,"auto_allocate_blocks":true,"maxBlocksPerHost":4}`,
			`{"strictAffinity":true,"autoAllocateBlocks":true,"maxBlocksPerHost":4}`},
	} {
		o, err := tc.m.toObj(tc.key, []byte(tc.val))
		if err != nil {
			t.Fatalf("%s: %v", tc.key, err)
		}
		wantJSONEqual(t, o.Spec, tc.spec)
		key, val, ok, err := tc.m.toKV(o, nil)
		if err != nil || !ok || key != tc.key {
			t.Fatalf("%s: back to key %q ok %v err %v", tc.key, key, ok, err)
		}
		wantJSONEqual(t, val, tc.val)
	}
}

// TestNodeAnnotations: a Calico Node written as annotations reads back.
func TestNodeAnnotations(t *testing.T) {
	asn := v3.ASNumber(64512)
	n := &v3.Node{}
	n.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: "10.0.0.5/24", IPv4IPIPTunnelAddr: "10.244.1.1", ASNumber: &asn}
	n.Spec.IPv4VXLANTunnelAddr = "10.244.1.2"
	ann := map[string]string{}
	for k, v := range nodeAnnotations(n) {
		if v != nil {
			ann[k] = v.(string)
		}
	}
	if ann[annIPv4] != "10.0.0.5/24" || ann[annASN] != "64512" || ann[annIPIP] != "10.244.1.1" || len(ann) != 4 {
		t.Fatalf("annotations %v", ann)
	}
	k := &k8sNode{Metadata: meta{Name: "n1", Annotations: ann, Labels: map[string]string{"kubernetes.io/hostname": "n1"}}}
	k.Spec.PodCIDRs = []string{"10.244.1.0/24"}
	c := calicoNode(k)
	if c.Spec.BGP.IPv4Address != "10.0.0.5/24" || *c.Spec.BGP.ASNumber != asn || c.Spec.IPv4VXLANTunnelAddr != "10.244.1.2" ||
		c.Status.PodCIDRs[0] != "10.244.1.0/24" || c.Labels["kubernetes.io/hostname"] != "n1" ||
		c.Spec.OrchRefs[0] != (v3.OrchRef{NodeName: "n1", Orchestrator: "k8s"}) {
		t.Fatalf("node %+v", c)
	}
}

// TestWorkloadEndpointFromPod: what a Pod stands for (§2.10).
func TestWorkloadEndpointFromPod(t *testing.T) {
	pod := `{"metadata":{"name":"web-1","namespace":"ns1","labels":{"app":"web"},
	"annotations":{"cni.projectcalico.org/podIPs":"10.244.1.5/32,fd00::5/128","cni.projectcalico.org/containerID":"c1"}},
	"spec":{"nodeName":"node-a","serviceAccountName":"sa1","containers":[{"ports":[{"name":"http","containerPort":80},{"containerPort":81}]}]},
	"status":{"phase":"Running"}}`
	var p k8sPod
	if err := json.Unmarshal([]byte(pod), &p); err != nil {
		t.Fatal(err)
	}
	w, ok := workloadEndpoint(&p)
	if !ok {
		t.Fatal("no endpoint")
	}
	if w.Name != "node--a-k8s-web--1-eth0" || w.Namespace != "ns1" || w.Spec.ContainerID != "c1" ||
		!reflect.DeepEqual(w.Spec.IPNetworks, []string{"10.244.1.5/32", "fd00::5/128"}) ||
		!reflect.DeepEqual(w.Spec.Profiles, []string{"kns.ns1", "ksa.ns1.sa1"}) ||
		w.Labels["projectcalico.org/serviceaccount"] != "sa1" || w.Labels["app"] != "web" ||
		len(w.Spec.Ports) != 1 || w.Spec.Ports[0].Name != "http" || w.Spec.Ports[0].Port != 80 {
		t.Fatalf("endpoint %+v", w)
	}
	p.Metadata.Annotations[annPodIPs], p.Metadata.Annotations[annPodIP] = "", ""
	if _, ok := workloadEndpoint(&p); ok {
		t.Error("a pod whose podIP annotations the CNI DEL emptied still has an endpoint")
	}
	p.Metadata.Annotations = nil
	p.Spec.HostNetwork = true
	p.Status.PodIPs = append(p.Status.PodIPs, struct {
		IP string `json:"ip"`
	}{"10.0.0.9"})
	if _, ok := workloadEndpoint(&p); ok {
		t.Error("a host-network pod has an endpoint")
	}
}

func wantJSONEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestKubernetesNetworkPolicy: the Calico policy a Kubernetes
// NetworkPolicy maps to (calico-reference.md §3.4).
func TestKubernetesNetworkPolicy(t *testing.T) {
	np := `{"metadata":{"name":"web","namespace":"ns1"},"spec":{
	  "podSelector":{"matchLabels":{"app":"web"}},
	  "ingress":[
	    {"from":[{"podSelector":{"matchExpressions":[{"key":"role","operator":"In","values":["fe","be"]}]}},
	             {"namespaceSelector":{"matchLabels":{"team":"a"}}},
	             {"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}}],
	     "ports":[{"port":80},{"protocol":"UDP","port":53},{"port":8000,"endPort":8080},{"port":"http"}]},
	    {}],
	  "egress":[{"to":[{"podSelector":{}}]}]}}`
	var k k8sNetworkPolicy
	if err := json.Unmarshal([]byte(np), &k); err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(calicoPolicy(&k))
	if err != nil {
		t.Fatal(err)
	}
	tcp := `"protocol":"TCP","destination":{"ports":[80,"8000:8080","http"]}`
	udp := `"protocol":"UDP","destination":{"ports":[53]}`
	k8s := `projectcalico.org/orchestrator == 'k8s'`
	wantJSONEqual(t, got, `{"kind":"NetworkPolicy","apiVersion":"projectcalico.org/v3",
	  "metadata":{"name":"knp.default.web","namespace":"ns1"},
	  "spec":{"tier":"default","order":1000,"selector":"`+k8s+` && app == 'web'","types":["Ingress","Egress"],
	  "ingress":[
	    {"action":"Allow",`+tcp+`,"source":{"selector":"`+k8s+` && role in { 'fe', 'be' }"}},
	    {"action":"Allow",`+udp+`,"source":{"selector":"`+k8s+` && role in { 'fe', 'be' }"}},
	    {"action":"Allow",`+tcp+`,"source":{"selector":"`+k8s+`","namespaceSelector":"team == 'a'"}},
	    {"action":"Allow",`+udp+`,"source":{"selector":"`+k8s+`","namespaceSelector":"team == 'a'"}},
	    {"action":"Allow",`+tcp+`,"source":{"nets":["10.0.0.0/8"],"notNets":["10.1.0.0/16"]}},
	    {"action":"Allow",`+udp+`,"source":{"nets":["10.0.0.0/8"],"notNets":["10.1.0.0/16"]}},
	    {"action":"Allow","source":{},"destination":{}}],
	  "egress":[{"action":"Allow","source":{},"destination":{"selector":"`+k8s+`"}}]}}`)
}
