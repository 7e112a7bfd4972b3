package topo

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestGenerateResolves(t *testing.T) {
	for _, underlay := range []string{UnderlayL2, UnderlayRouted} {
		top := Generate(GenerateOptions{Name: "demo", Nodes: 3, PodsPerNode: 2, Underlay: underlay, Outside: true})
		if err := Resolve(top); err != nil {
			t.Fatalf("%s: %v", underlay, err)
		}
		if len(top.Nodes) != 3 || len(top.Pods) != 6 {
			t.Fatalf("%s: %d nodes, %d pods", underlay, len(top.Nodes), len(top.Pods))
		}
		want := map[string]string{UnderlayL2: "172.31.1.12", UnderlayRouted: "172.31.1.11"}[underlay]
		if got := top.Nodes[2].Interfaces[0].Address; got != want {
			t.Errorf("%s: node3 address %s, want %s", underlay, got, want)
		}
		if got := top.DatastoreAddr().String(); got != "172.31.1.1:2379" {
			t.Errorf("datastore at %s", got)
		}
		// Resolve is idempotent.
		before := top.Nodes[2].Interfaces[0].Address
		if err := Resolve(top); err != nil || top.Nodes[2].Interfaces[0].Address != before {
			t.Errorf("second Resolve: %v, address %s", err, top.Nodes[2].Interfaces[0].Address)
		}
	}
}

// The multi-homed topology of scenarios.md §3.
const multiHomed = `
name: mh
subnets:
  - {name: s1, cidr: 172.31.1.0/24}
  - {name: s2, cidr: 172.31.2.0/24}
outside: {}
nodes:
  - name: node-a
    interfaces:
      - {name: ens32, subnet: s1}
      - {name: ens33, subnet: s2}
  - name: node-b
    autodetect: interface=eth0
    interfaces:
      - {name: eth1, subnet: s1, address: 172.31.1.10}
      - {name: eth0, subnet: s2}
pods:
  - {name: web, node: node-a, labels: {app: web}}
routers:
  - {name: tor, kind: bird2, as: 65000}
`

func TestParseMultiHomed(t *testing.T) {
	top, err := Parse([]byte(multiHomed))
	if err != nil {
		t.Fatal(err)
	}
	if err := Resolve(top); err != nil {
		t.Fatal(err)
	}
	a, _ := top.Node("node-a")
	b, _ := top.Node("node-b")
	got := []string{a.Interfaces[0].Address, a.Interfaces[1].Address, b.Interfaces[0].Address, b.Interfaces[1].Address}
	// node-b's explicit .10 is taken first, so node-a gets .11 on s1.
	want := []string{"172.31.1.11", "172.31.2.10", "172.31.1.10", "172.31.2.11"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("addresses %v, want %v", got, want)
	}
	if top.Underlay != UnderlayRouted || top.Pods[0].Namespace != "default" {
		t.Errorf("underlay %q, pod namespace %q", top.Underlay, top.Pods[0].Namespace)
	}
	if r := top.Routers[0]; r.Interfaces[0].Address != "172.31.1.12" || r.Interfaces[0].BridgePort != "tor-eth0" {
		t.Errorf("router interface %+v", r.Interfaces[0])
	}
	if got := a.Interfaces[1].BridgePort; got != "node-a-ens33" {
		t.Errorf("bridge port %q", got)
	}
	if got := PodNamespaceName("mh", top.Pods[0]); got != "tl-mh.pod.default.web" {
		t.Errorf("pod namespace name %q", got)
	}
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string // substrings, each in its own FieldError
	}{
		{"duplicate node", `nodes: [{name: n1}, {name: n1}]`,
			[]string{`nodes[1].name: "n1" is already the name of nodes[0]`}},
		{"node and router share a name", `nodes: [{name: n1}]
routers: [{name: n1}]`, []string{`routers[0].name: "n1" is already the name of nodes[0]`}},
		{"interface name too long", `nodes: [{name: n1, interfaces: [{name: averyverylongname0}]}]`,
			[]string{`nodes[0].interfaces[0].name: "averyverylongname0" is 18 bytes long; Linux allows at most 15`}},
		{"interface name with slash", `nodes: [{name: n1, interfaces: [{name: "a/b"}]}]`,
			[]string{`nodes[0].interfaces[0].name: "a/b" contains '/'`}},
		{"duplicate interface", `nodes: [{name: n1, interfaces: [{name: eth0}, {name: eth0}]}]`,
			[]string{`nodes[0].interfaces[1].name: "eth0" is used twice on this host`}},
		{"loopback", `nodes: [{name: n1, interfaces: [{name: lo}]}]`,
			[]string{`nodes[0].interfaces[0].name: "lo" is the loopback device`}},
		{"overlapping subnets", `subnets: [{name: a, cidr: 172.31.0.0/16}, {name: b, cidr: 172.31.5.0/24}]
nodes: [{name: n1}]`, []string{`subnets[1].cidr: "172.31.5.0/24" overlaps subnets[0].cidr "172.31.0.0/16"`}},
		{"subnet overlaps pool", `subnets: [{name: a, cidr: 10.244.3.0/24}]
nodes: [{name: n1}]`, []string{`pool.cidr: "10.244.0.0/16" overlaps subnets[0].cidr "10.244.3.0/24"`}},
		{"host bits", `subnets: [{name: a, cidr: 172.31.1.5/24}]
nodes: [{name: n1}]`, []string{`subnets[0].cidr: "172.31.1.5/24" has host bits set; did you mean 172.31.1.0/24?`}},
		{"duplicate subnet", `subnets: [{name: a, cidr: 172.31.1.0/24}, {name: a, cidr: 172.31.2.0/24}]
nodes: [{name: n1}]`, []string{`subnets[1].name: "a" is used by another subnet`}},
		{"subnet name too long for its bridge", `subnets: [{name: abcdefghijklm, cidr: 172.31.1.0/24}]
nodes: [{name: n1}]`, []string{`subnets[0].name: "abcdefghijklm" is 13 bytes long; at most 12`}},
		{"unknown subnet", `nodes: [{name: n1, interfaces: [{name: eth0, subnet: nope}]}]`,
			[]string{`nodes[0].interfaces[0].subnet: "nope" is not a subnet`}},
		{"address outside subnet", `nodes: [{name: n1, interfaces: [{name: eth0, address: 10.1.1.1}]}]`,
			[]string{`nodes[0].interfaces[0].address: "10.1.1.1" is not a host address of subnet s1`}},
		{"address is the gateway", `nodes: [{name: n1, interfaces: [{name: eth0, address: 172.31.1.1}]}]`,
			[]string{`nodes[0].interfaces[0].address: "172.31.1.1" is already used by subnets[0].gateway`}},
		{"duplicate address", `nodes: [{name: n1, interfaces: [{name: eth0, address: 172.31.1.9}]}, {name: n2, interfaces: [{name: eth0, address: 172.31.1.9}]}]`,
			[]string{`nodes[1].interfaces[0].address: "172.31.1.9" is already used by nodes[0].interfaces[0].address`}},
		{"unknown datastore", `datastore: consul
nodes: [{name: n1}]`, []string{`datastore: "consul" must be etcdv3 or kubernetes`}},
		{"kubernetes with the upstream plugins", `datastore: kubernetes
cni: ptp
nodes: [{name: n1}]`, []string{`cni: "ptp" datastore kubernetes needs the tortie plugin`}},
		{"usePodCIDR on etcd", `usePodCIDR: true
nodes: [{name: n1}]`, []string{`usePodCIDR: "true" needs datastore kubernetes`}},
		{"pod on unknown node", `nodes: [{name: n1}]
pods: [{name: p, node: n9}]`, []string{`pods[0].node: "n9" is not a node`}},
		{"duplicate pod", `nodes: [{name: n1}]
pods: [{name: p, node: n1}, {name: p, namespace: default, node: n1}]`, []string{`pods[1].name: "p" is used twice in namespace default`}},
		{"same pod name, other namespace is fine, bad label", `nodes: [{name: n1}]
pods: [{name: p, node: n1}, {name: p, namespace: other, node: n1, labels: {app: "no good"}}]`,
			[]string{`pods[1].labels[app]: "no good" is not a valid label value`}},
		{"pod named like a node", `nodes: [{name: n1}]
pods: [{name: n1, node: n1}]`, []string{`pods[0].name: "n1" is also the name of a node or router`}},
		{"bad lab name", `name: My.Lab
nodes: [{name: n1}]`, []string{`name: "My.Lab" must be lower-case`}},
		{"l2 with two subnets", `underlay: l2
subnets: [{name: a, cidr: 172.31.1.0/24}, {name: b, cidr: 172.31.2.0/24}]
nodes: [{name: n1}]`, []string{`underlay: "l2" has exactly one subnet, but 2 are given`}},
		{"no nodes", `name: x`, []string{`nodes: the lab needs at least one node`}},
		{"pool modes", `pool: {ipipMode: Always, vxlanMode: Sometimes}
nodes: [{name: n1}]`, []string{`pool.vxlanMode: "Sometimes" must be Never, Always or CrossSubnet`, `pool.vxlanMode: "Sometimes" cannot be enabled together with ipipMode Always`}},
		{"bridge port clash", `nodes: [{name: a-b, interfaces: [{name: c}]}, {name: a, interfaces: [{name: b-c}]}]`,
			[]string{`nodes[1].interfaces[0].name: "b-c" would name its underlay link "a-b-c", like nodes[0].interfaces[0].name`}},
		{"router kind", `nodes: [{name: n1}]
routers: [{name: r, kind: quagga}]`, []string{`routers[0].kind: "quagga" must be bird2, frr or none`}},
		{"cni", `cni: calico
nodes: [{name: n1}]`, []string{`cni: "calico" must be one of auto, tortie, ptp, bridge`}},
		{"subnet cidr6 not IPv6", `subnets: [{name: a, cidr: 172.31.1.0/24, cidr6: 172.31.2.0/24}]
nodes: [{name: n1}]`, []string{`subnets[0].cidr6: "172.31.2.0/24" is not an IPv6 CIDR`}},
		{"subnet cidr6 too small", `subnets: [{name: a, cidr: 172.31.1.0/24, cidr6: "fd00:ff::/124"}]
nodes: [{name: n1}]`, []string{`subnets[0].cidr6: "fd00:ff::/124" must be between a /64 and a /120`}},
		{"pool cidr6 host bits", `pool: {cidr6: "fd00:10::1/48"}
nodes: [{name: n1}]`, []string{`pool.cidr6: "fd00:10::1/48" has host bits set; did you mean fd00:10::/48?`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top, err := Parse([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			err = Resolve(top)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Resolve = %v, want a ValidationError", err)
			}
			if len(ve.Errors) != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(ve.Errors), len(tc.want), err)
			}
			for i, w := range tc.want {
				if i < len(ve.Errors) && !strings.Contains(ve.Errors[i].Error(), w) {
					t.Errorf("error %d = %q\nwant it to contain %q", i, ve.Errors[i].Error(), w)
				}
			}
		})
	}
}

func TestParseRejectsUnknownFields(t *testing.T) {
	_, err := Parse([]byte("nodes: [{name: n1, interface: []}]"))
	if err == nil || !strings.Contains(err.Error(), `unknown field "interface"`) {
		t.Fatalf("Parse = %v", err)
	}
}

func TestCheckIfName(t *testing.T) {
	for name, ok := range map[string]bool{
		"eth0": true, "ens32": true, "abcdefghijklmno": true, "abcdefghijklmnop": false,
		"": false, ".": false, "a b": false, "a:b": false, "é": false,
	} {
		if err := CheckIfName(name); (err == nil) != ok {
			t.Errorf("CheckIfName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func FuzzParseResolve(f *testing.F) {
	f.Add([]byte(multiHomed))
	f.Add([]byte(`nodes: [{name: n1}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		top, err := Parse(data)
		if err != nil {
			return
		}
		if Resolve(top) == nil && len(top.Nodes) == 0 {
			t.Fatal("a topology without nodes resolved")
		}
	})
}

// A subnet's IPv6 network gives each interface the address with its IPv4
// host number.
func TestSubnetAddr6(t *testing.T) {
	top, err := Parse([]byte(`subnets: [{name: a, cidr: 172.31.1.0/24, cidr6: "fd00:ff:1::/64"}]
pool: {cidr6: "fd00:10::/48"}
nodes: [{name: n1}, {name: n2}]`))
	if err != nil {
		t.Fatal(err)
	}
	if err := Resolve(top); err != nil {
		t.Fatal(err)
	}
	s, _ := top.Subnet("a")
	for _, n := range top.Nodes {
		a := n.Interfaces[0].Addr
		if got, want := s.Addr6(a).String(), "fd00:ff:1::"+fmt.Sprintf("%x", a.As4()[3]); got != want {
			t.Errorf("%s at %s: IPv6 %s, want %s", n.Name, a, got, want)
		}
	}
	if top.Pool.Prefix6.String() != "fd00:10::/48" {
		t.Errorf("pool.cidr6 parsed as %s", top.Pool.Prefix6)
	}
}
