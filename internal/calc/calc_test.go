package calc

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

// The test cluster: a and b share subnet 172.31.1.0/24, c sits behind a
// router in 172.31.2.0/24. Each owns one /26 of 10.244.0.0/16 and has the
// block's first address as its VXLAN tunnel address.
func node(name, addr, vtep string) *v3.Node {
	n := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: name}}
	n.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: addr, IPv4IPIPTunnelAddr: vtep}
	n.Spec.IPv4VXLANTunnelAddr = vtep
	return n
}

var (
	nodeA = node("a", "172.31.1.1/24", "10.244.0.0")
	nodeB = node("b", "172.31.1.2/24", "10.244.0.64")
	nodeC = node("c", "172.31.2.3/24", "10.244.0.128")

	blocks = []Block{
		{CIDR: netip.MustParsePrefix("10.244.0.0/26"), Host: "a"},
		{CIDR: netip.MustParsePrefix("10.244.0.64/26"), Host: "b"},
		{CIDR: netip.MustParsePrefix("10.244.0.128/26"), Host: "c"},
	}
)

func testPool(ipip, vxlan v3.EncapMode, nat bool) *v3.IPPool {
	p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "pool"}}
	p.Spec.CIDR, p.Spec.IPIPMode, p.Spec.VXLANMode, p.Spec.NATOutgoing = "10.244.0.0/16", ipip, vxlan, nat
	v3.Default(p)
	return p
}

func input(self string, p *v3.IPPool) Input {
	return Input{
		Node: self, Nodes: []*v3.Node{nodeA, nodeB, nodeC}, Pools: []*v3.IPPool{p}, Blocks: blocks,
		Backend: "bird", RouteUnencapsulated: true, ParentDevice: "eth0", HostMTU: 1500, IPIPSupported: true,
	}
}

// render lists routes, neighbours and FDB entries as ip(8) shows them.
func render(d Desired) string {
	var lines []string
	for _, r := range d.Routes {
		lines = append(lines, r.String())
	}
	for _, n := range d.Neighbors {
		lines = append(lines, "neigh "+n.String())
	}
	for _, f := range d.FDB {
		lines = append(lines, "fdb "+f.String())
	}
	return strings.Join(lines, "\n")
}

var (
	macB = VTEPMAC(nodeB).String()
	macC = VTEPMAC(nodeC).String()
)

func TestRoutesPerEncapsulation(t *testing.T) {
	Never, Always, Cross := v3.EncapNever, v3.EncapAlways, v3.EncapCrossSubnet
	cases := []struct {
		name        string
		ipip, vxlan v3.EncapMode
		mutate      func(*Input)
		want        string
		mtu         int
		ipipDev     bool
		vxlanDev    bool
		problem     string
	}{
		{name: "no encapsulation", ipip: Never, vxlan: Never, mtu: 1500,
			want: `blackhole 10.244.0.0/26
10.244.0.64/26 via 172.31.1.2 dev eth0`,
			problem: "node c is in another subnet"},
		{name: "no encapsulation, routes left to BGP", ipip: Never, vxlan: Never, mtu: 1500,
			mutate: func(in *Input) { in.RouteUnencapsulated = false },
			want:   `blackhole 10.244.0.0/26`},
		{name: "VXLAN Always", ipip: Never, vxlan: Always, mtu: 1450, vxlanDev: true,
			want: fmt.Sprintf(`blackhole 10.244.0.0/26
10.244.0.64/26 via 10.244.0.64 dev vxlan.calico onlink
10.244.0.128/26 via 10.244.0.128 dev vxlan.calico onlink
neigh 10.244.0.64 dev vxlan.calico lladdr %s PERMANENT
neigh 10.244.0.128 dev vxlan.calico lladdr %s PERMANENT
fdb %s dev vxlan.calico dst 172.31.1.2 self permanent
fdb %s dev vxlan.calico dst 172.31.2.3 self permanent`, macB, macC, macB, macC)},
		{name: "VXLAN CrossSubnet", ipip: Never, vxlan: Cross, mtu: 1450, vxlanDev: true,
			want: fmt.Sprintf(`blackhole 10.244.0.0/26
10.244.0.64/26 via 172.31.1.2 dev eth0
10.244.0.128/26 via 10.244.0.128 dev vxlan.calico onlink
neigh 10.244.0.128 dev vxlan.calico lladdr %s PERMANENT
fdb %s dev vxlan.calico dst 172.31.2.3 self permanent`, macC, macC)},
		{name: "IPIP Always", ipip: Always, vxlan: Never, mtu: 1480, ipipDev: true,
			want: `blackhole 10.244.0.0/26
10.244.0.64/26 via 172.31.1.2 dev tunl0 onlink
10.244.0.128/26 via 172.31.2.3 dev tunl0 onlink`},
		{name: "IPIP CrossSubnet", ipip: Cross, vxlan: Never, mtu: 1480, ipipDev: true,
			want: `blackhole 10.244.0.0/26
10.244.0.64/26 via 172.31.1.2 dev eth0
10.244.0.128/26 via 172.31.2.3 dev tunl0 onlink`},
		{name: "IPIP Always without kernel support", ipip: Always, vxlan: Never, mtu: 1500,
			mutate:  func(in *Input) { in.IPIPSupported = false },
			want:    `blackhole 10.244.0.0/26`,
			problem: "no ipip support"},
		{name: "IPIP CrossSubnet without kernel support still routes the same subnet", ipip: Cross, vxlan: Never, mtu: 1500,
			mutate: func(in *Input) { in.IPIPSupported = false },
			want: `blackhole 10.244.0.0/26
10.244.0.64/26 via 172.31.1.2 dev eth0`,
			problem: "no ipip support"},
		{name: "a deleted node's block is not routed", ipip: Never, vxlan: Always, mtu: 1450, vxlanDev: true,
			mutate: func(in *Input) { in.Nodes = []*v3.Node{nodeA, nodeB} },
			want: fmt.Sprintf(`blackhole 10.244.0.0/26
10.244.0.64/26 via 10.244.0.64 dev vxlan.calico onlink
neigh 10.244.0.64 dev vxlan.calico lladdr %s PERMANENT
fdb %s dev vxlan.calico dst 172.31.1.2 self permanent`, macB, macB)},
		{name: "a deleted block is not routed", ipip: Always, vxlan: Never, mtu: 1480, ipipDev: true,
			mutate: func(in *Input) { in.Blocks = blocks[:2] },
			want: `blackhole 10.244.0.0/26
10.244.0.64/26 via 172.31.1.2 dev tunl0 onlink`},
		{name: "peer without a tunnel address yet", ipip: Never, vxlan: Always, mtu: 1450, vxlanDev: true,
			mutate: func(in *Input) {
				c := *nodeC
				c.Spec.IPv4VXLANTunnelAddr = ""
				in.Nodes = []*v3.Node{nodeA, nodeB, &c}
			},
			want: fmt.Sprintf(`blackhole 10.244.0.0/26
10.244.0.64/26 via 10.244.0.64 dev vxlan.calico onlink
neigh 10.244.0.64 dev vxlan.calico lladdr %s PERMANENT
fdb %s dev vxlan.calico dst 172.31.1.2 self permanent`, macB, macB),
			problem: "node c has no VXLAN tunnel address yet"},
		{name: "backend none programs no routes", ipip: Always, vxlan: Never, mtu: 1500,
			mutate: func(in *Input) { in.Backend = "none" }, want: ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := input("a", testPool(c.ipip, c.vxlan, true))
			if c.mutate != nil {
				c.mutate(&in)
			}
			d := Compute(in)
			if got := render(d); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
			if d.PodMTU != c.mtu {
				t.Errorf("pod MTU = %d, want %d", d.PodMTU, c.mtu)
			}
			if (d.IPIP != nil) != c.ipipDev || (d.VXLAN != nil) != c.vxlanDev {
				t.Errorf("devices: ipip %v vxlan %v, want %v %v", d.IPIP != nil, d.VXLAN != nil, c.ipipDev, c.vxlanDev)
			}
			joined := strings.Join(d.Problems, "\n")
			if (c.problem == "") != (joined == "") || !strings.Contains(joined, c.problem) {
				t.Errorf("problems = %q, want one containing %q", d.Problems, c.problem)
			}
		})
	}
}

func TestDevices(t *testing.T) {
	d := Compute(input("a", testPool(v3.EncapNever, v3.EncapAlways, false)))
	v := d.VXLAN
	if v == nil || v.VNI != 4096 || v.Port != 4789 || v.MTU != 1450 || v.Addr.String() != "10.244.0.0" ||
		v.LocalIP.String() != "172.31.1.1" || v.Parent != "eth0" || v.MAC.String() != VTEPMAC(nodeA).String() {
		t.Errorf("vxlan device = %+v", v)
	}
	if m := VTEPMAC(nodeA); m[0] != 0x66 {
		t.Errorf("derived VTEP MAC %s does not start with 66", m)
	}
	mtu, vni := 1400, 7
	in := input("a", testPool(v3.EncapAlways, v3.EncapNever, false))
	in.Felix = &v3.FelixConfigurationSpec{IPIPMTU: &mtu, VXLANVNI: &vni}
	d = Compute(in)
	if d.IPIP == nil || d.IPIP.MTU != 1400 || d.IPIP.Addr.String() != "10.244.0.0" || d.PodMTU != 1400 {
		t.Errorf("ipip device with ipipMTU 1400 = %+v, pod MTU %d", d.IPIP, d.PodMTU)
	}
	off := false
	in.Felix = &v3.FelixConfigurationSpec{IPIPEnabled: &off}
	if d = Compute(in); d.IPIP != nil {
		t.Error("ipipEnabled=false still wants tunl0")
	}
}

func wep(name, node, ip, iface, mac string) *v3.WorkloadEndpoint {
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: name, Namespace: "default"}}
	w.Spec = v3.WorkloadEndpointSpec{Node: node, IPNetworks: []string{ip}, InterfaceName: iface, MAC: mac}
	return w
}

func TestWorkloadsAndBorrowedAddresses(t *testing.T) {
	eps := []*v3.WorkloadEndpoint{
		wep("local", "a", "10.244.0.2/32", "cali1111", "02:00:00:00:00:01"),
		wep("borrower", "b", "10.244.0.5/32", "cali2222", ""),      // borrowed from a's block
		wep("owner-local", "c", "10.244.0.130/32", "cali3333", ""), // in c's own block
	}
	in := input("a", testPool(v3.EncapNever, v3.EncapNever, false))
	in.Endpoints = eps
	got := render(Compute(in))
	want := `blackhole 10.244.0.0/26
10.244.0.2 dev cali1111 scope link
10.244.0.5 via 172.31.1.2 dev eth0
10.244.0.64/26 via 172.31.1.2 dev eth0
neigh 10.244.0.2 dev cali1111 lladdr 02:00:00:00:00:01 PERMANENT`
	if got != want {
		t.Errorf("node a:\n%s\nwant\n%s", got, want)
	}
	in = input("c", testPool(v3.EncapAlways, v3.EncapNever, false))
	in.Endpoints = eps
	got = render(Compute(in))
	want = `10.244.0.0/26 via 172.31.1.1 dev tunl0 onlink
10.244.0.5 via 172.31.1.2 dev tunl0 onlink
10.244.0.64/26 via 172.31.1.2 dev tunl0 onlink
blackhole 10.244.0.128/26
10.244.0.130 dev cali3333 scope link`
	if got != want {
		t.Errorf("node c:\n%s\nwant\n%s", got, want)
	}
	for _, r := range Compute(in).Routes {
		if r.Workload && r.Dev != "cali3333" {
			t.Errorf("node c has a workload route %s for a remote endpoint", r)
		}
	}
}

func TestNATSets(t *testing.T) {
	nat := testPool(v3.EncapNever, v3.EncapNever, true)
	plain := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "plain"}}
	plain.Spec.CIDR = "10.96.0.0/16"
	lb := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "lb"}}
	lb.Spec.CIDR, lb.Spec.AllowedUses = "192.0.2.0/24", []v3.IPPoolAllowedUse{v3.AllowedUseLoadBalancer}
	in := input("a", nat)
	in.Pools = []*v3.IPPool{plain, nat, lb}
	d := Compute(in)
	if got := fmt.Sprint(d.NAT.MasqPools); got != "[10.244.0.0/16]" {
		t.Errorf("masq pools = %s", got)
	}
	if got := fmt.Sprint(d.NAT.AllPools); got != "[10.96.0.0/16 10.244.0.0/16]" {
		t.Errorf("all pools = %s (LoadBalancer pools are left out)", got)
	}
}

func TestDeterministic(t *testing.T) {
	in := input("a", testPool(v3.EncapNever, v3.EncapCrossSubnet, true))
	first := render(Compute(in))
	for range 20 {
		slices.Reverse(in.Nodes)
		slices.Reverse(in.Blocks)
		if got := render(Compute(in)); got != first {
			t.Fatalf("output depends on input order:\n%s\nvs\n%s", got, first)
		}
	}
}

// dualStack is the test cluster with an IPv6 address per node (a and b in
// one /64, c in another), an IPv6 pool and a /122 block per node.
func dualStack(self string) Input {
	nodes := []*v3.Node{}
	for i, n := range []*v3.Node{nodeA, nodeB, nodeC} {
		c := *n
		bgp := *n.Spec.BGP
		bgp.IPv6Address = []string{"fd00:ff::1/64", "fd00:ff::2/64", "fd00:fe::3/64"}[i]
		c.Spec.BGP = &bgp
		nodes = append(nodes, &c)
	}
	p6 := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "pool6"}}
	p6.Spec.CIDR = "fd00:1::/48"
	v3.Default(p6)
	in := input(self, testPool(v3.EncapNever, v3.EncapNever, false))
	in.Nodes, in.Pools = nodes, append(in.Pools, p6)
	in.Blocks = append(slices.Clone(blocks),
		Block{CIDR: netip.MustParsePrefix("fd00:1::/122"), Host: "a"},
		Block{CIDR: netip.MustParsePrefix("fd00:1::40/122"), Host: "b"},
		Block{CIDR: netip.MustParsePrefix("fd00:1::80/122"), Host: "c"})
	in.Endpoints = []*v3.WorkloadEndpoint{
		{ObjectMeta: v3.ObjectMeta{Name: "dual", Namespace: "default"}, Spec: v3.WorkloadEndpointSpec{Node: "a",
			IPNetworks: []string{"10.244.0.2/32", "fd00:1::2/128"}, InterfaceName: "cali1111", MAC: "02:00:00:00:00:01"}},
		wep("v6only", "a", "fd00:1::3/128", "cali4444", "02:00:00:00:00:04"),
		wep("borrower6", "b", "fd00:1::5/128", "cali2222", ""), // borrowed from a's block
	}
	return in
}

// TestIPv6Routes: a local workload's /128 on its interface (its neighbour
// entry is the CNI plugin's), a blackhole for the local IPv6 block, the
// remote IPv6 blocks via the peer's IPv6 address on the underlay (the
// datastore path) when in the same IPv6 subnet, a problem otherwise.
func TestIPv6Routes(t *testing.T) {
	d := Compute(dualStack("a"))
	got := render(d)
	want := `blackhole 10.244.0.0/26
10.244.0.2 dev cali1111 scope link
10.244.0.64/26 via 172.31.1.2 dev eth0
blackhole fd00:1::/122
fd00:1::2 dev cali1111 scope link
fd00:1::3 dev cali4444 scope link
fd00:1::5 via fd00:ff::2 dev eth0
fd00:1::40/122 via fd00:ff::2 dev eth0
neigh 10.244.0.2 dev cali1111 lladdr 02:00:00:00:00:01 PERMANENT`
	if got != want {
		t.Errorf("node a:\n%s\nwant\n%s", got, want)
	}
	if !slices.ContainsFunc(d.Problems, func(p string) bool { return strings.Contains(p, "node c is in another IPv6 subnet") }) {
		t.Errorf("problems %q: want node c's IPv6 subnet named", d.Problems)
	}
	in := dualStack("a")
	in.RouteUnencapsulated = false // BGP programs the remote blocks
	if got := render(Compute(in)); strings.Contains(got, "via fd00") {
		t.Errorf("without the datastore path:\n%s\nwant no remote IPv6 routes", got)
	}
}
