package calc

import (
	"fmt"
	"net/netip"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

// cluster is the simulated cluster of issue 11: nodes × 20 endpoints, one
// /26 block per node with its affinity, one VXLAN Always pool.
type cluster struct {
	in   Input
	keys []string // endpoint keys, by node then endpoint
}

func newCluster(nodes int) cluster {
	var c cluster
	c.in = Input{Node: "node-0", Backend: "bird", ParentDevice: "eth0", IPIPSupported: true}
	c.in.Pools = []*v3.IPPool{{ObjectMeta: v3.ObjectMeta{Name: "default"},
		Spec: v3.IPPoolSpec{CIDR: "10.64.0.0/10", VXLANMode: v3.EncapAlways, IPIPMode: v3.EncapNever, NATOutgoing: true}}}
	for i := range nodes {
		name := fmt.Sprintf("node-%d", i)
		c.in.Nodes = append(c.in.Nodes, &v3.Node{ObjectMeta: v3.ObjectMeta{Name: name},
			Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: fmt.Sprintf("172.16.%d.%d/16", i/250, i%250+1)},
				IPv4VXLANTunnelAddr: blockOf(i).Addr().Next().String()}})
		c.in.Blocks = append(c.in.Blocks, Block{CIDR: blockOf(i), Host: name})
		for j := range 20 {
			w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("pod-%d-%d", i, j),
				Labels: map[string]string{"app": fmt.Sprintf("app-%d", j)}}}
			w.Spec.Node = name
			w.Spec.InterfaceName = fmt.Sprintf("cali%d", j)
			w.Spec.IPNetworks = []string{addrIn(blockOf(i), j+2).String() + "/32"}
			c.in.Endpoints = append(c.in.Endpoints, w)
			c.keys = append(c.keys, fmt.Sprintf("ns/pod-%d-%d", i, j))
		}
	}
	return c
}

// blockOf is node i's /26.
func blockOf(i int) netip.Prefix {
	a := netip.AddrFrom4([4]byte{10, byte(64 + i>>10), byte(i >> 2), byte(i % 4 * 64)})
	return netip.PrefixFrom(a, 26)
}

func addrIn(p netip.Prefix, n int) netip.Addr {
	b := p.Addr().As4()
	b[3] += byte(n)
	return netip.AddrFrom4(b)
}

func (c cluster) engine() *Engine {
	in := c.in
	e := NewEngine(Env{Node: in.Node, Backend: in.Backend, ParentDevice: in.ParentDevice, IPIPSupported: in.IPIPSupported})
	e.Begin()
	for _, n := range in.Nodes {
		e.PutNode(n)
	}
	for _, p := range in.Pools {
		e.PutPool(p)
	}
	for _, b := range in.Blocks {
		e.PutBlock(b)
	}
	for i, w := range in.Endpoints {
		e.PutEndpoint(c.keys[i], EndpointOf(w))
	}
	e.End()
	e.Flush()
	return e
}

var benchSizes = []int{100, 1000, 5000} // nodes: 2k, 20k, 100k endpoints

// BenchmarkEngine is the cost of one change, flushed, with what the agent
// gives the dataplane for a delta (Globals), at 2k, 20k and 100k
// endpoints; remote-block+lists adds the lists a full Apply reads.
//
//	go test -run '^$' -bench 'Engine|ComputeScale' -benchtime 2000x ./internal/calc/
func BenchmarkEngine(b *testing.B) {
	for _, nodes := range benchSizes {
		c := newCluster(nodes)
		e := c.engine()
		size := fmt.Sprintf("endpoints=%d", nodes*20)
		b.Run(size+"/remote-endpoint", func(b *testing.B) {
			// A pod on a remote node is relabelled, then changes address.
			for i := 0; b.Loop(); i++ {
				n := 1 + i%(nodes-1)
				ep := EndpointOf(c.in.Endpoints[n*20])
				ep.Attrs.Labels = map[string]string{"app": fmt.Sprint(i)}
				ep.Addrs = []netip.Addr{addrIn(blockOf(n), 2+i%60)}
				e.PutEndpoint(c.keys[n*20], ep)
				e.Flush()
				_ = e.Globals()
			}
		})
		// moveBlock: change i moves a block to another node, and i+1 back.
		moveBlock := func(i int) {
			n := 1 + (i/2)%(nodes-1)
			host := fmt.Sprintf("node-%d", n)
			if i%2 == 0 {
				host = fmt.Sprintf("node-%d", 1+n%(nodes-1))
			}
			e.PutBlock(Block{CIDR: blockOf(n), Host: host})
			e.Flush()
		}
		b.Run(size+"/remote-block", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				moveBlock(i)
				_ = e.Globals()
			}
		})
		b.Run(size+"/remote-block+lists", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				moveBlock(i)
				_ = e.Desired()
			}
		})
		b.Run(size+"/borrowed-address", func(b *testing.B) {
			// A pod gets an address from another node's block, then its own.
			for i := 0; b.Loop(); i++ {
				n := 1 + (i/2)%(nodes-1)
				ep := EndpointOf(c.in.Endpoints[n*20+1])
				if i%2 == 0 {
					ep.Addrs = []netip.Addr{addrIn(blockOf(1+n%(nodes-1)), 63)}
				}
				e.PutEndpoint(c.keys[n*20+1], ep)
				e.Flush()
				_ = e.Globals()
			}
		})
	}
}

// BenchmarkComputeScale is the full computation on the same clusters: what
// every change cost before the Engine.
func BenchmarkComputeScale(b *testing.B) {
	for _, nodes := range benchSizes {
		c := newCluster(nodes)
		b.Run(fmt.Sprintf("endpoints=%d", nodes*20), func(b *testing.B) {
			for b.Loop() {
				_ = Compute(c.in)
			}
		})
	}
}

// BenchmarkEngineInitial is the initial sync: every resource put, then
// the state computed at once.
func BenchmarkEngineInitial(b *testing.B) {
	for _, nodes := range benchSizes {
		c := newCluster(nodes)
		b.Run(fmt.Sprintf("endpoints=%d", nodes*20), func(b *testing.B) {
			for b.Loop() {
				_ = c.engine().Desired()
			}
		})
	}
}
