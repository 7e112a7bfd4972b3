package topo

import "fmt"

// GenerateOptions are the `lab up` flags that describe a topology without a
// file.
type GenerateOptions struct {
	Name        string
	Nodes       int
	PodsPerNode int
	// Underlay is l2 (one subnet) or routed (two subnets, nodes
	// alternating between them).
	Underlay string
	Outside  bool
	CNI      string
}

// Generate builds the topology the flags describe: nodes node1..nodeN, each
// with eth0, and pods <node>-pod<j> in namespace default labelled
// app=lab and node=<node>. The result still needs Resolve.
func Generate(o GenerateOptions) *Topology {
	t := &Topology{Name: o.Name, Underlay: o.Underlay, CNI: o.CNI}
	if o.Outside {
		t.Outside = &Outside{}
	}
	subnets := 1
	if o.Underlay == UnderlayRouted {
		subnets = 2
	}
	for i := range subnets {
		t.Subnets = append(t.Subnets, Subnet{Name: fmt.Sprintf("s%d", i+1), CIDR: DefaultSubnetCIDR(i)})
	}
	for i := range o.Nodes {
		n := Node{Name: fmt.Sprintf("node%d", i+1)}
		n.Interfaces = []Interface{{Name: DefaultIfName, Subnet: t.Subnets[i%subnets].Name}}
		t.Nodes = append(t.Nodes, n)
		for j := range o.PodsPerNode {
			t.Pods = append(t.Pods, Pod{
				Name:      fmt.Sprintf("%s-pod%d", n.Name, j+1),
				Namespace: DefaultPodNamespace,
				Node:      n.Name,
				Labels:    map[string]string{"app": "lab", "node": n.Name},
			})
		}
	}
	return t
}
