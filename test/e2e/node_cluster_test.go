package e2e

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/lab"
)

// The cluster as the node tests see it, and the routes scenarios §1–2
// expect from it.

// labNode is what the tests know of a node: from the topology, the Node
// resource and the kernel.
type labNode struct {
	name   string
	iface  string       // underlay interface holding the node address
	ip     string       // node address
	subnet netip.Prefix // the node address's subnet
	tunnel string       // tunnel address from the Node resource
	blocks []string     // affine blocks
	pods   []labPod
}

type labPod struct {
	key, node, netns, ip, hostIf string
}

type labCluster struct {
	l     *nodeLab
	nodes []*labNode
	pods  map[string]labPod
}

func (c *labCluster) node(name string) *labNode {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	c.l.t.Fatalf("no node %s", name)
	return nil
}

// cluster reads the lab's nodes and pods once every node has its address
// and every node with pods a block in the datastore.
func (l *nodeLab) cluster() *labCluster {
	l.t.Helper()
	var st *lab.Status
	waitFor(l.t, "every node has a Node resource, and a block if it has pods", func() error {
		st = l.status()
		for _, n := range st.Nodes {
			hasPods := slices.ContainsFunc(st.Pods, func(p lab.PodStatus) bool { return p.Node == n.Name })
			if n.NodeIP == "" || (hasPods && len(n.Blocks) == 0) {
				return fmt.Errorf("node %s: address %q, blocks %v", n.Name, n.NodeIP, n.Blocks)
			}
		}
		return nil
	})
	res := l.nodeResources()
	c := &labCluster{l: l, pods: map[string]labPod{}}
	for _, h := range st.Nodes {
		n := &labNode{name: h.Name, ip: addrOnly(h.NodeIP), subnet: prefixOf(l.t, h.NodeIP).Masked(), blocks: h.Blocks}
		for _, ifc := range h.Interfaces {
			if slices.Contains(ifc.Addrs, h.NodeIP) {
				n.iface = ifc.Name
			}
		}
		if n.iface == "" {
			l.t.Fatalf("node %s: address %s is on none of its interfaces %+v", h.Name, h.NodeIP, h.Interfaces)
		}
		r := res[h.Name]
		n.tunnel = r.Spec.IPv4VXLANTunnelAddr
		if r.Spec.BGP != nil && r.Spec.BGP.IPv4IPIPTunnelAddr != "" {
			n.tunnel = r.Spec.BGP.IPv4IPIPTunnelAddr
		}
		c.nodes = append(c.nodes, n)
	}
	for _, p := range st.Pods {
		if len(p.IPs) == 0 || p.HostIf == "" {
			l.t.Fatalf("pod %s has no address or host interface: %+v", p.Key, p)
		}
		lp := labPod{key: p.Key, node: p.Node, netns: p.Netns, ip: addrOnly(p.IPs[0]), hostIf: p.HostIf}
		c.pods[p.Key] = lp
		c.node(p.Node).pods = append(c.node(p.Node).pods, lp)
	}
	return c
}

// checkNodeResources: each Node carries its address and, for an
// encapsulating pool, a tunnel address from one of its own blocks.
func (c *labCluster) checkNodeResources(t *testing.T, encap string) {
	t.Helper()
	res := c.l.nodeResources()
	for _, n := range c.nodes {
		r := res[n.name]
		if r.Spec.BGP == nil || addrOnly(r.Spec.BGP.IPv4Address) != n.ip {
			t.Errorf("Node %s: spec.bgp %+v, want ipv4Address %s", n.name, r.Spec.BGP, n.ip)
		}
		switch encap {
		case "vxlan":
			if r.Spec.IPv4VXLANTunnelAddr == "" {
				t.Errorf("Node %s has no spec.ipv4VXLANTunnelAddr", n.name)
				continue
			}
			if r.Spec.BGP != nil && r.Spec.BGP.IPv4IPIPTunnelAddr != "" {
				t.Errorf("Node %s has an IPIP tunnel address %s with a VXLAN pool", n.name, r.Spec.BGP.IPv4IPIPTunnelAddr)
			}
		case "none":
			if n.tunnel != "" {
				t.Errorf("Node %s has tunnel address %s though no pool encapsulates", n.name, n.tunnel)
			}
			continue
		}
		a, err := netip.ParseAddr(n.tunnel)
		if err != nil {
			t.Errorf("Node %s: tunnel address %q: %v", n.name, n.tunnel, err)
			continue
		}
		if !slices.ContainsFunc(n.blocks, func(b string) bool { return prefixOf(t, b).Contains(a) }) {
			t.Errorf("Node %s: tunnel address %s is in none of its blocks %v", n.name, a, n.blocks)
		}
	}
}

// tunnelled says whether traffic from n to m goes through the VXLAN
// device under the pool's vxlanMode.
func tunnelled(mode string, n, m *labNode) bool {
	switch mode {
	case "Always":
		return true
	case "CrossSubnet":
		return !n.subnet.Contains(netip.MustParseAddr(m.ip))
	}
	return false
}

// routeErrs compares n's routes with scenarios §1–2: a blackhole for each
// own block, a /32 to the cali interface of each local pod, and for each
// remote block either `via <peer address> dev <underlay>` or `via <peer
// tunnel address> dev vxlan.calico onlink`. The agent's own routes (proto
// 80) must be exactly these.
func (c *labCluster) routeErrs(n *labNode, mode string) error {
	var want []string
	for _, b := range n.blocks {
		want = append(want, kRoute{Type: "blackhole", Dst: b, Protocol: "80"}.String())
	}
	for _, m := range c.nodes {
		if m == n {
			continue
		}
		for _, b := range m.blocks {
			r := kRoute{Dst: b, Gateway: m.ip, Dev: n.iface, Protocol: "80"}
			if tunnelled(mode, n, m) {
				r = kRoute{Dst: b, Gateway: m.tunnel, Dev: "vxlan.calico", Protocol: "80", Flags: []string{"onlink"}}
			}
			want = append(want, r.String())
		}
	}
	var got, all []string
	for _, r := range c.l.routes(n.name) {
		all = append(all, r.String())
		if r.Protocol == "80" {
			got = append(got, r.String())
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	var errs []error
	if !slices.Equal(got, want) {
		errs = append(errs, fmt.Errorf("tortie's routes (proto 80):\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  ")))
	}
	for _, p := range n.pods {
		if !slices.ContainsFunc(c.l.routes(n.name), func(r kRoute) bool {
			return r.Dst == p.ip && r.Dev == p.hostIf && r.Scope == "link" && r.Gateway == ""
		}) {
			errs = append(errs, fmt.Errorf("no route `%s dev %s scope link` for pod %s", p.ip, p.hostIf, p.key))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node %s: %w\nall routes:\n  %s", n.name, err, strings.Join(all, "\n  "))
	}
	return nil
}
