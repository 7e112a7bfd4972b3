package lab

import (
	"context"
	"path/filepath"

	"github.com/tortienet/tortie/internal/bgp/bgpstatus"
	"github.com/tortienet/tortie/internal/conventions"
)

// bgpSessions asks each running agent for its BGP sessions, through its
// status socket (a file in the node's state directory, so no namespace
// needs entering), and names each peer as the lab knows it.
func (l *Lab) bgpSessions(ctx context.Context, agents map[string]string) []SessionStatus {
	names := map[string]string{}
	for _, n := range l.top.Nodes {
		for _, ifc := range n.Interfaces {
			names[ifc.Addr.String()] = n.Name
		}
	}
	for _, r := range l.top.Routers {
		for _, ifc := range r.Interfaces {
			names[ifc.Addr.String()] = r.Name
		}
	}
	var out []SessionStatus
	for _, n := range l.top.Nodes {
		if agents[n.Name] != "running" {
			continue
		}
		st, err := bgpstatus.Read(ctx, filepath.Join(l.dirsOf(n.Name).lib, conventions.StatusSocket))
		if err != nil {
			continue // an agent without BGP, or one starting
		}
		for _, p := range st.Peers {
			peer := p.Address.String()
			if name, ok := names[peer]; ok {
				peer = name + " (" + peer + ")"
			}
			state := p.State
			if p.Info != "" && p.State != "Established" {
				state += " " + p.Info
			}
			out = append(out, SessionStatus{Node: n.Name, Peer: peer, Type: p.Type(), State: state})
		}
	}
	return out
}
