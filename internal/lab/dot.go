package lab

import (
	"fmt"
	"io"
	"strings"
)

// WriteDOT draws s in Graphviz's DOT language: subnets as ellipses, nodes
// as clusters holding their pods, routers and the outside as boxes, an
// edge per underlay interface (labelled with its address), the node's
// blocks in its label, and BGP sessions as dashed edges.
func WriteDOT(w io.Writer, s *Status) error {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %q {\n", "lab "+s.Name)
	b.WriteString("  graph [rankdir=TB, fontname=\"Helvetica\", compound=true];\n")
	b.WriteString("  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n")
	fmt.Fprintf(&b, "  label=%q;\n", fmt.Sprintf("lab %s — underlay %s, CNI %s, pool %s", s.Name, s.Underlay, s.CNI, s.Pool))
	b.WriteString("  underlay [shape=box, style=rounded, label=\"underlay\\n(router, datastore)\"];\n")
	for _, sn := range s.Subnets {
		fmt.Fprintf(&b, "  %s [shape=ellipse, label=%q];\n", dotID("subnet", sn.Name), sn.Name+"\n"+sn.CIDR)
		fmt.Fprintf(&b, "  underlay -- %s [label=%q];\n", dotID("subnet", sn.Name), sn.Gateway)
	}
	if s.Outside != nil {
		fmt.Fprintf(&b, "  outside [shape=box, style=dashed, label=%q];\n", "outside\n"+s.Outside.Address)
		fmt.Fprintf(&b, "  underlay -- outside [label=%q];\n", s.Outside.CIDR)
	}
	for _, n := range s.Nodes {
		id := dotID("node", n.Name)
		fmt.Fprintf(&b, "  subgraph %s {\n    label=%q;\n    style=rounded;\n", dotID("cluster", n.Name), nodeLabel(n))
		fmt.Fprintf(&b, "    %s [shape=box, label=%q];\n", id, n.Name+"\nagent: "+n.Agent)
		for _, p := range s.Pods {
			if p.Node == n.Name {
				fmt.Fprintf(&b, "    %s [shape=oval, style=filled, fillcolor=\"#e8f0fe\", label=%q];\n", dotID("pod", p.Key), p.Key+"\n"+strings.Join(p.IPs, ","))
				fmt.Fprintf(&b, "    %s -- %s [label=%q];\n", id, dotID("pod", p.Key), p.HostIf)
			}
		}
		b.WriteString("  }\n")
		hostEdges(&b, id, n.Interfaces)
	}
	for _, r := range s.Routers {
		id := dotID("router", r.Name)
		fmt.Fprintf(&b, "  %s [shape=box3d, label=%q];\n", id, r.Name+"\n("+r.Kind+")")
		hostEdges(&b, id, r.Interfaces)
	}
	for _, ss := range s.Sessions {
		fmt.Fprintf(&b, "  %s -- %s [style=dashed, label=%q];\n", dotID("node", ss.Node), dotID("node", ss.Peer), "BGP "+ss.State)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func nodeLabel(n HostStatus) string {
	l := n.Name
	if len(n.Blocks) > 0 {
		l += "\nblocks " + strings.Join(n.Blocks, ", ")
	}
	return l
}

func hostEdges(b *strings.Builder, id string, is []IfaceStatus) {
	for _, i := range is {
		fmt.Fprintf(b, "  %s -- %s [label=%q];\n", id, dotID("subnet", i.Subnet), i.Name+" "+strings.Join(i.Addrs, ","))
	}
}

// dotID makes a quoted DOT identifier unique per kind.
func dotID(kind, name string) string { return fmt.Sprintf("%q", kind+":"+name) }
