package bgpstatus

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// table is a box table as calicoctl prints it (the real one is ctl's).
func table(w io.Writer, header []string, rows [][]string) error {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
		for _, r := range rows {
			widths[i] = max(widths[i], len(r[i]))
		}
	}
	rule := ""
	for _, wd := range widths {
		rule += "+" + strings.Repeat("-", wd+2)
	}
	rule += "+\n"
	fmt.Fprint(w, rule)
	for i, h := range header {
		pad := widths[i] - len(h)
		fmt.Fprintf(w, "| %s%s%s ", strings.Repeat(" ", pad/2), h, strings.Repeat(" ", pad-pad/2))
	}
	fmt.Fprint(w, "|\n"+rule)
	for _, r := range rows {
		for i, c := range r {
			fmt.Fprintf(w, "| %-*s ", widths[i], c)
		}
		fmt.Fprint(w, "|\n")
	}
	fmt.Fprint(w, rule)
	return nil
}

func TestRender(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	st := Status{Running: true, Peers: []Peer{
		{Name: "Mesh_10_0_0_12", Address: netip.MustParseAddr("10.0.0.12"), State: "Established", Since: now.Add(-47*time.Minute - 16*time.Second)},
		{Name: "Global_10_0_0_254", Address: netip.MustParseAddr("10.0.0.254"), State: "Active", Since: now.Add(-48 * time.Hour), Info: "Socket: Connection refused"},
		{Name: "Node_10_0_0_5_port_1179", Address: netip.MustParseAddr("10.0.0.5"), State: "Connect", Since: now.Add(-time.Minute)},
		{Name: "Local_Workload_10_65_0_2", Address: netip.MustParseAddr("10.65.0.2"), State: "Established", Since: now.Add(-time.Minute)},
	}}
	var b strings.Builder
	if err := Render(&b, st, now, table); err != nil {
		t.Fatal(err)
	}
	want := `Calico process is running.

IPv4 BGP status
+--------------+-------------------+-------+------------+-----------------------------------+
| PEER ADDRESS |     PEER TYPE     | STATE |   SINCE    |               INFO                |
+--------------+-------------------+-------+------------+-----------------------------------+
| 10.0.0.12    | node-to-node mesh | up    | 09:12:44   | Established                       |
| 10.0.0.254   | global            | start | 2026-12-02 | Active Socket: Connection refused |
| 10.0.0.5     | node specific     | start | 09:59:00   | Connect                           |
| 10.65.0.2    | local workload    | up    | 09:59:00   | Established                       |
+--------------+-------------------+-------+------------+-----------------------------------+

IPv6 BGP status
No IPv6 peers found.
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	_ = Render(&b, Status{}, now, table)
	if want := "Calico process is running.\n\nThe BGP backend process (BIRD) is not running.\n"; b.String() != want {
		t.Errorf("not running: got %q, want %q", b.String(), want)
	}
}

// IPv6 sessions go to the IPv6 section, in the same table format.
func TestRenderIPv6(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	st := Status{Running: true, Peers: []Peer{
		{Name: "Mesh_10_0_0_12", Address: netip.MustParseAddr("10.0.0.12"), State: "Established", Since: now.Add(-time.Hour)},
		{Name: "Mesh_fd00_ff__12", Address: netip.MustParseAddr("fd00:ff::12"), State: "Established", Since: now.Add(-time.Hour)},
		{Name: "Global_fd00_ff__fe_port_1179", Address: netip.MustParseAddr("fd00:ff::fe"), State: "Active", Since: now.Add(-time.Minute), Info: "Socket: Connection refused"},
	}}
	var b strings.Builder
	if err := Render(&b, st, now, table); err != nil {
		t.Fatal(err)
	}
	want := `Calico process is running.

IPv4 BGP status
+--------------+-------------------+-------+----------+-------------+
| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |    INFO     |
+--------------+-------------------+-------+----------+-------------+
| 10.0.0.12    | node-to-node mesh | up    | 09:00:00 | Established |
+--------------+-------------------+-------+----------+-------------+

IPv6 BGP status
+--------------+-------------------+-------+----------+-----------------------------------+
| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |               INFO                |
+--------------+-------------------+-------+----------+-----------------------------------+
| fd00:ff::12  | node-to-node mesh | up    | 09:00:00 | Established                       |
| fd00:ff::fe  | global            | start | 09:59:00 | Active Socket: Connection refused |
+--------------+-------------------+-------+----------+-----------------------------------+
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
