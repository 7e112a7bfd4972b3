package calc

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

// world is the property test's truth: the resources as the datastore
// holds them, from which Compute (the oracle) works.
type world struct {
	env    Env
	felix  *v3.FelixConfigurationSpec
	nodes  map[string]*v3.Node
	pools  map[string]*v3.IPPool
	blocks map[netip.Prefix]string
	eps    map[string]*v3.WorkloadEndpoint
}

func (w *world) input() Input {
	in := Input{Node: w.env.Node, Backend: w.env.Backend, RouteUnencapsulated: w.env.RouteUnencapsulated,
		ParentDevice: w.env.ParentDevice, HostMTU: w.env.HostMTU, IPIPSupported: w.env.IPIPSupported, Felix: w.felix}
	for _, k := range slices.Sorted(maps.Keys(w.nodes)) {
		in.Nodes = append(in.Nodes, w.nodes[k])
	}
	for _, k := range slices.Sorted(maps.Keys(w.pools)) {
		in.Pools = append(in.Pools, w.pools[k])
	}
	if w.env.UsePodCIDR {
		in.Blocks = PodCIDRBlocks(in.Nodes)
	} else {
		for c, h := range w.blocks {
			in.Blocks = append(in.Blocks, Block{CIDR: c, Host: h})
		}
	}
	slices.SortFunc(in.Blocks, func(a, b Block) int { return prefixCompare(a.CIDR, b.CIDR) })
	for _, k := range slices.Sorted(maps.Keys(w.eps)) {
		in.Endpoints = append(in.Endpoints, w.eps[k])
	}
	return in
}

// gen makes random changes from small spaces, so that they collide:
// addresses shared by endpoints, blocks moving, nodes re-addressed.
type gen struct {
	r *rand.Rand
}

func (g gen) pick(ss ...string) string { return ss[g.r.IntN(len(ss))] }

func (g gen) nodeName() string { return fmt.Sprintf("n%d", g.r.IntN(6)) }

func (g gen) node(podCIDR bool) *v3.Node {
	n := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: g.nodeName()}}
	i := n.Name[1:]
	if g.r.IntN(8) > 0 {
		addr := g.pick("10.0.0."+i+"/24", "10.0.1."+i+"/24", "10.0.0."+i, "10.0.0.9/24", "bad")
		n.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: addr, IPv4IPIPTunnelAddr: g.pick("", "192.168.9."+i, "192.168.9.1"),
			IPv6Address: g.pick("", "fc00::"+i+"/64", "fc00:1::"+i+"/64", "fc00::"+i)}
	}
	n.Spec.IPv4VXLANTunnelAddr = g.pick("", "192.168.8."+i, "192.168.8."+i, "192.168.8.1", "bad")
	n.Spec.VXLANTunnelMACAddr = g.pick("", "", "66:00:00:00:00:0"+i, "66:00:00:00:00:01")
	if podCIDR && g.r.IntN(4) > 0 {
		n.Status.PodCIDRs = []string{g.pick("192.168."+i+".0/26", "192.168."+i+".64/26", "fd00::/64")}
	}
	return n
}

func (g gen) pool() *v3.IPPool {
	p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: fmt.Sprintf("p%d", g.r.IntN(3))}}
	modes := []v3.EncapMode{"", v3.EncapNever, v3.EncapAlways, v3.EncapCrossSubnet}
	p.Spec.CIDR = g.pick("192.168.0.0/16", "192.168.0.0/16", "192.168.2.0/24", "172.16.0.0/16", "fd00::/48", "bad")
	p.Spec.VXLANMode = modes[g.r.IntN(4)]
	p.Spec.IPIPMode = modes[g.r.IntN(4)]
	p.Spec.NATOutgoing = g.r.IntN(2) == 0
	if g.r.IntN(6) == 0 {
		p.Spec.AllowedUses = []v3.IPPoolAllowedUse{v3.AllowedUseLoadBalancer}
	}
	return p
}

func (g gen) block() Block {
	c := netip.MustParsePrefix(fmt.Sprintf("192.168.%d.%d/26", g.r.IntN(4), 64*g.r.IntN(4)))
	switch g.r.IntN(10) {
	case 0:
		c = netip.MustParsePrefix(fmt.Sprintf("192.168.%d.%d/28", g.r.IntN(4), 16*g.r.IntN(4)))
	case 1:
		c = netip.MustParsePrefix("172.16.0.0/26")
	case 2:
		c = netip.MustParsePrefix(fmt.Sprintf("fd00::%x/122", 64*g.r.IntN(4)))
	}
	return Block{CIDR: c, Host: g.pick(g.nodeName(), g.nodeName(), g.nodeName(), "", "gone")}
}

func (g gen) endpoint() (string, *v3.WorkloadEndpoint) {
	k := g.r.IntN(25)
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("ep%d", k),
		Labels: map[string]string{"app": g.pick("a", "b"), "k": fmt.Sprint(k % 4)}}}
	w.Spec.Node = g.nodeName()
	w.Spec.InterfaceName = g.pick(fmt.Sprintf("cali%d", k), fmt.Sprintf("cali%d", k), "")
	w.Spec.MAC = g.pick("ee:ee:ee:ee:ee:ee", "", "bad", fmt.Sprintf("ee:00:00:00:00:%02x", k))
	for range 1 + g.r.IntN(3) {
		a := fmt.Sprintf("192.168.%d.%d/32", g.r.IntN(4), g.r.IntN(256))
		switch g.r.IntN(12) {
		case 0:
			a = fmt.Sprintf("fd00::%x/128", g.r.IntN(256))
		case 1:
			a = "bad"
		case 2:
			a = "172.16.0.5/32"
		}
		w.Spec.IPNetworks = append(w.Spec.IPNetworks, a)
	}
	return fmt.Sprintf("/calico/resources/v3/projectcalico.org/workloadendpoints/ns/ep%d", k), w
}

func (g gen) felix() *v3.FelixConfigurationSpec {
	if g.r.IntN(3) == 0 {
		return nil
	}
	f := &v3.FelixConfigurationSpec{}
	tf := []*bool{nil, new(true), new(false)}
	f.IPIPEnabled, f.VXLANEnabled = tf[g.r.IntN(3)], tf[g.r.IntN(3)]
	if g.r.IntN(3) == 0 {
		f.VXLANMTU = new(1400)
	}
	return f
}

func (g gen) env(podCIDR bool) Env {
	return Env{Node: "n0", Backend: g.pick("bird", "bird", "vxlan", "none", ""), RouteUnencapsulated: g.r.IntN(2) == 0,
		ParentDevice: "eth0", HostMTU: []int{0, 1500, 9000}[g.r.IntN(3)], IPIPSupported: g.r.IntN(4) > 0, UsePodCIDR: podCIDR}
}

// step makes one random change to both the world and the engine, and
// says what it did.
func (g gen) step(w *world, e *Engine) string {
	switch n := g.r.IntN(100); {
	case n < 12:
		nd := g.node(w.env.UsePodCIDR)
		w.nodes[nd.Name] = nd
		e.PutNode(nd)
		bgp := v3.NodeBGPSpec{}
		if nd.Spec.BGP != nil {
			bgp = *nd.Spec.BGP
		}
		return fmt.Sprintf("put node %s bgp %+v vxlan %q %q podCIDRs %v", nd.Name, bgp,
			nd.Spec.IPv4VXLANTunnelAddr, nd.Spec.VXLANTunnelMACAddr, nd.Status.PodCIDRs)
	case n < 15:
		name := g.nodeName()
		delete(w.nodes, name)
		e.DeleteNode(name)
		return "delete node " + name
	case n < 19:
		p := g.pool()
		w.pools[p.Name] = p
		e.PutPool(p)
		return fmt.Sprintf("put pool %s %+v", p.Name, p.Spec)
	case n < 21:
		name := fmt.Sprintf("p%d", g.r.IntN(3))
		delete(w.pools, name)
		e.DeletePool(name)
		return "delete pool " + name
	case n < 40:
		b := g.block()
		w.blocks[b.CIDR] = b.Host
		e.PutBlock(b)
		return fmt.Sprintf("put block %s %q", b.CIDR, b.Host)
	case n < 48:
		b := g.block()
		delete(w.blocks, b.CIDR)
		e.DeleteBlock(b.CIDR)
		return fmt.Sprintf("delete block %s", b.CIDR)
	case n < 80:
		key, ep := g.endpoint()
		w.eps[key] = ep
		e.PutEndpoint(key, shared(EndpointOf(ep)))
		return fmt.Sprintf("put endpoint %s %+v", key, ep.Spec)
	case n < 92:
		key, _ := g.endpoint()
		delete(w.eps, key)
		e.DeleteEndpoint(key)
		return "delete endpoint " + key
	case n < 95:
		w.felix = g.felix()
		e.SetFelix(w.felix)
		return fmt.Sprintf("felix %+v", w.felix)
	case n < 98:
		w.env = g.env(w.env.UsePodCIDR)
		e.SetEnv(w.env)
		return fmt.Sprintf("env %+v", w.env)
	default:
		w.resync(e)
		return "resync"
	}
}

// resync feeds the whole world again, as the initial list does.
func (w *world) resync(e *Engine) {
	e.Begin()
	e.SetFelix(w.felix)
	for _, n := range w.nodes {
		e.PutNode(n)
	}
	for _, p := range w.pools {
		e.PutPool(p)
	}
	for c, h := range w.blocks {
		e.PutBlock(Block{CIDR: c, Host: h})
	}
	for k, ep := range w.eps {
		e.PutEndpoint(k, shared(EndpointOf(ep)))
	}
	e.End()
}

// normal makes empty and nil slices alike.
func normal(d Desired) Desired {
	if len(d.Routes) == 0 {
		d.Routes = nil
	}
	if len(d.Neighbors) == 0 {
		d.Neighbors = nil
	}
	if len(d.FDB) == 0 {
		d.FDB = nil
	}
	if len(d.Problems) == 0 {
		d.Problems = nil
	}
	if len(d.NAT.AllPools) == 0 {
		d.NAT.AllPools = nil
	}
	if len(d.NAT.MasqPools) == 0 {
		d.NAT.MasqPools = nil
	}
	return d
}

// TestEngineMatchesCompute is the property: after every change of a random
// sequence, the Engine's Delta is the difference between Compute's states
// before and after, and its Desired, whenever asked for (after one Flush or
// several, and with changes not yet flushed), is Compute's as of the last
// Flush.
func TestEngineMatchesCompute(t *testing.T) {
	sequences, steps := 2000, 60
	if testing.Short() {
		sequences = 300
	}
	for seq := range sequences {
		podCIDR := seq%10 == 9
		g := gen{rand.New(rand.NewPCG(uint64(seq), 11))}
		w := &world{env: g.env(podCIDR), nodes: map[string]*v3.Node{}, pools: map[string]*v3.IPPool{},
			blocks: map[netip.Prefix]string{}, eps: map[string]*v3.WorkloadEndpoint{}}
		e := NewEngine(w.env)
		w.resync(e)
		prev := Compute(w.input())
		e.Flush()
		var log []string
		for range steps {
			log = append(log, g.step(w, e))
			delta := e.Flush()
			want := Compute(w.input())
			if !delta.Full {
				checkDelta(t, seq, log, prev, want, delta)
			}
			prev = want
			if g.r.IntN(3) != 0 {
				continue // the lists are not asked for after every Flush
			}
			got := e.Desired()
			if !reflect.DeepEqual(normal(got), normal(want)) {
				t.Fatalf("sequence %d: after\n  %s\nengine:\n%s\ncompute:\n%s", seq, strings.Join(log, "\n  "), dump(got), dump(want))
			}
			if g.r.IntN(2) == 0 {
				// A change not flushed yet is not in the lists (a resync
				// forgets them until its Flush).
				if log = append(log, g.step(w, e)); log[len(log)-1] == "resync" {
					continue
				}
				var lists Desired
				e.FillLists(&lists)
				if !reflect.DeepEqual(normal(lists), normal(Desired{Routes: want.Routes, Neighbors: want.Neighbors, FDB: want.FDB})) {
					t.Fatalf("sequence %d: after\n  %s\nthe lists before the Flush of the last step:\n%s\ncompute:\n%s", seq, strings.Join(log, "\n  "), dump(lists), dump(want))
				}
			}
		}
	}
}

// checkDelta: the previous routes, neighbours and FDB with the delta
// applied are the new ones.
func checkDelta(t *testing.T, seq int, log []string, prev, got Desired, d Delta) {
	t.Helper()
	routes := map[netip.Prefix]Route{}
	for _, r := range prev.Routes {
		routes[r.Dst] = r
	}
	for _, r := range d.RemovedRoutes {
		delete(routes, r.Dst)
	}
	for _, r := range d.AddedRoutes {
		routes[r.Dst] = r
	}
	want := map[netip.Prefix]Route{}
	for _, r := range got.Routes {
		want[r.Dst] = r
	}
	n := len(prev.Neighbors) - len(d.RemovedNeighbors) + len(d.AddedNeighbors)
	f := len(prev.FDB) - len(d.RemovedFDB) + len(d.AddedFDB)
	if !maps.Equal(routes, want) || n != len(got.Neighbors) || f != len(got.FDB) {
		t.Fatalf("sequence %d: after\n  %s\nthe delta %+v does not lead from\n%s\nto\n%s", seq, strings.Join(log, "\n  "), d, dump(prev), dump(got))
	}
}

func dump(d Desired) string {
	var b strings.Builder
	for _, r := range d.Routes {
		fmt.Fprintf(&b, "  route %s\n", r)
	}
	for _, n := range d.Neighbors {
		fmt.Fprintf(&b, "  neigh %s\n", n)
	}
	for _, f := range d.FDB {
		fmt.Fprintf(&b, "  fdb %s\n", f)
	}
	fmt.Fprintf(&b, "  ipip %+v vxlan %+v nat %+v mtu %d\n", d.IPIP, d.VXLAN, d.NAT, d.PodMTU)
	for _, p := range d.Problems {
		fmt.Fprintf(&b, "  problem %s\n", p)
	}
	return b.String()
}

// TestEngineNodesAt: nodes by address follow re-addressing.
func TestEngineNodesAt(t *testing.T) {
	e := NewEngine(Env{Node: "n0"})
	e.PutNode(&v3.Node{ObjectMeta: v3.ObjectMeta{Name: "n1"}, Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: "10.0.0.1/24"}}})
	e.PutNode(&v3.Node{ObjectMeta: v3.ObjectMeta{Name: "n1"}, Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: "10.0.0.2/24"}}})
	if got := e.NodesAt(netip.MustParseAddr("10.0.0.1")); len(got) != 0 {
		t.Errorf("old address: %v", got)
	}
	if got := e.NodesAt(netip.MustParseAddr("10.0.0.2")); !slices.Equal(got, []string{"n1"}) {
		t.Errorf("new address: %v", got)
	}
}
