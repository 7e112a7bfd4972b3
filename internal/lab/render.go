package lab

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteStatus prints s as tables, the way `lab status` shows it.
func WriteStatus(w io.Writer, s *Status) error {
	fmt.Fprintf(w, "Lab %s (%s): underlay %s, CNI %s, pool %s, datastore %s\n", s.Name, s.Phase, s.Underlay, orDash(s.CNI), s.Pool, orDash(s.Datastore))
	if s.Error != "" {
		fmt.Fprintf(w, "Error: %s\n", s.Error)
	}
	if len(s.Missing) > 0 {
		fmt.Fprintf(w, "Missing namespaces: %s\n", strings.Join(s.Missing, ", "))
	}
	if s.DatastoreErr != "" {
		fmt.Fprintf(w, "Datastore not readable: %s\n", s.DatastoreErr)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSUBNET\tCIDR\tGATEWAY\tMTU")
	for _, sn := range s.Subnets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", sn.Name, sn.CIDR, sn.Gateway, sn.MTU)
	}
	if s.Outside != nil {
		fmt.Fprintf(tw, "outside\t%s\t%s\t(internet host %s)\n", s.Outside.CIDR, s.Outside.Gateway, s.Outside.Address)
	}
	fmt.Fprintln(tw, "\nNODE\tINTERFACES\tAGENT\tNODE IP\tBLOCKS")
	for _, n := range s.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, ifaces(n.Interfaces), n.Agent, orDash(n.NodeIP), orDash(strings.Join(n.Blocks, ",")))
	}
	if len(s.Routers) > 0 {
		fmt.Fprintln(tw, "\nROUTER\tKIND\tINTERFACES")
		for _, r := range s.Routers {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Kind, ifaces(r.Interfaces))
		}
	}
	fmt.Fprintln(tw, "\nPOD\tNODE\tIP\tHOST IF\tLABELS")
	for _, p := range s.Pods {
		ip := orDash(strings.Join(p.IPs, ","))
		if p.Error != "" {
			ip = "error: " + p.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Key, p.Node, ip, orDash(p.HostIf), orDash(labels(p.Labels)))
	}
	if len(s.Blocks) > 0 {
		fmt.Fprintln(tw, "\nBLOCK\tAFFINITY\tIN USE")
		for _, b := range s.Blocks {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\n", b.CIDR, orDash(b.Affinity), b.InUse, b.Size)
		}
	}
	if len(s.Sessions) > 0 {
		fmt.Fprintln(tw, "\nBGP NODE\tPEER\tTYPE\tSTATE")
		for _, b := range s.Sessions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Node, b.Peer, b.Type, b.State)
		}
	}
	fmt.Fprintln(tw, "\nPROCESS\tPID\tSTATE\tLOG")
	for _, p := range s.Processes {
		state := "running"
		if !p.Running {
			state = "exited"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Role, p.Pid, state, p.Log)
	}
	return tw.Flush()
}

func ifaces(is []IfaceStatus) string {
	var parts []string
	for _, i := range is {
		a := orDash(strings.Join(i.Addrs, ","))
		if !i.Up {
			a += " (down)"
		}
		parts = append(parts, i.Name+"="+a)
	}
	return strings.Join(parts, " ")
}

func labels(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
