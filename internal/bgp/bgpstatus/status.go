// Package bgpstatus is what `tortiectl node status` reads from tortie-node
// (JSON over the status socket in the node's state directory) and how it
// prints it, in calicoctl's format (calico-reference.md §7.8). It is pure
// and imports no BGP engine, so tortiectl does not link one.
package bgpstatus

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// Path is the HTTP path the agent serves the status on.
const Path = "/bgp/status"

// Status is the agent's BGP status.
type Status struct {
	// Running is false when the node runs no BGP speaker (backend vxlan or
	// none, or no IPv4 address).
	Running bool   `json:"running"`
	Peers   []Peer `json:"peers"`
}

// Peer is one session.
type Peer struct {
	Name    string     `json:"name"` // Mesh_..., Global_..., Node_..., Local_Workload_...
	Address netip.Addr `json:"address"`
	Passive bool       `json:"passive,omitempty"`
	// State is the BGP state (Idle, Connect, Active, OpenSent,
	// OpenConfirm, Established).
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// Info is why the session is not Established, if known.
	Info string `json:"info,omitempty"`
}

// LocalWorkloadPrefix starts the name of a session to a workload on the
// node (BGPPeer localWorkloadSelector).
const LocalWorkloadPrefix = "Local_Workload_"

// Type is the PEER TYPE column: from the name, as calicoctl derives it.
func (p Peer) Type() string {
	switch {
	case strings.HasPrefix(p.Name, "Mesh_"):
		return "node-to-node mesh"
	case strings.HasPrefix(p.Name, "Global_"):
		return "global"
	case strings.HasPrefix(p.Name, "Node_"):
		return "node specific"
	case strings.HasPrefix(p.Name, LocalWorkloadPrefix):
		// calicoctl leaves these rows out; tortie shows them.
		return "local workload"
	}
	return "unknown"
}

// protoState is BIRD's protocol state, the STATE column.
func (p Peer) protoState() string {
	if p.State == "Established" {
		return "up"
	}
	return "start"
}

// since is BIRD's time format: the time of day today, else the date.
func since(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(now.Location())
	if t.Format(time.DateOnly) == now.Format(time.DateOnly) {
		return t.Format(time.TimeOnly)
	}
	return t.Format(time.DateOnly)
}

// Render prints the status as `calicoctl node status` does, given a box
// table writer (centred headers, cells left-aligned).
func Render(w io.Writer, st Status, now time.Time, table func(io.Writer, []string, [][]string) error) error {
	if !st.Running {
		_, err := fmt.Fprint(w, "Calico process is running.\n\nThe BGP backend process (BIRD) is not running.\n")
		return err
	}
	if _, err := fmt.Fprint(w, "Calico process is running.\n"); err != nil {
		return err
	}
	for _, fam := range []struct {
		name string
		is   func(netip.Addr) bool
	}{{"IPv4", netip.Addr.Is4}, {"IPv6", netip.Addr.Is6}} {
		var rows [][]string
		for _, p := range st.Peers {
			if !fam.is(p.Address) {
				continue
			}
			info := p.State
			if p.Info != "" && p.State != "Established" {
				info += " " + p.Info
			}
			rows = append(rows, []string{p.Address.String(), p.Type(), p.protoState(), since(p.Since, now), info})
		}
		if _, err := fmt.Fprintf(w, "\n%s BGP status\n", fam.name); err != nil {
			return err
		}
		if len(rows) == 0 {
			if _, err := fmt.Fprintf(w, "No %s peers found.\n", fam.name); err != nil {
				return err
			}
			continue
		}
		if err := table(w, []string{"PEER ADDRESS", "PEER TYPE", "STATE", "SINCE", "INFO"}, rows); err != nil {
			return err
		}
	}
	return nil
}
