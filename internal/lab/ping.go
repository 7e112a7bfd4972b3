package lab

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"text/tabwriter"
)

// Expectations of the ping matrix: which pairs should connect.
const (
	ExpectAuto     = "auto"      // all when every node runs an agent, else same-node
	ExpectSameNode = "same-node" // pods on the same node
	ExpectAll      = "all"       // every pair
)

// Matrix is the result of pinging every pod from every other pod.
type Matrix struct {
	Expect string    `json:"expect"`
	Pods   []PingPod `json:"pods"`
	Cells  [][]Cell  `json:"cells"` // [from][to]
}

// PingPod is a row and column of the matrix.
type PingPod struct {
	Key   string `json:"key"`
	Node  string `json:"node"`
	IP    string `json:"ip"`
	Netns string `json:"-"`
}

// Cell is one ordered pair.
type Cell struct {
	Self     bool `json:"self,omitempty"`
	Expected bool `json:"expected"`
	Reached  bool `json:"reached"`
}

// Failed counts the pairs that should connect and did not.
func (m *Matrix) Failed() int {
	n := 0
	for _, row := range m.Cells {
		for _, c := range row {
			if !c.Self && c.Expected && !c.Reached {
				n++
			}
		}
	}
	return n
}

// Ping pings every pod from every other pod (ping -c 2 from inside the
// source pod's namespace) and records which pairs were expected to
// connect. Pods without an address are tried by nobody.
func (l *Lab) Ping(ctx context.Context, expect string) (*Matrix, error) {
	if _, err := exec.LookPath("ping"); err != nil {
		return nil, fmt.Errorf("ping is not installed (apt-get install iputils-ping): %w", err)
	}
	st, err := l.Status(ctx)
	if err != nil {
		return nil, err
	}
	if expect == ExpectAuto || expect == "" {
		expect = ExpectAll
		for _, n := range st.Nodes {
			if n.Agent != "running" {
				expect = ExpectSameNode
			}
		}
	}
	if expect != ExpectAll && expect != ExpectSameNode {
		return nil, fmt.Errorf("expectation %q: must be auto, same-node or all", expect)
	}
	m := &Matrix{Expect: expect}
	for _, p := range st.Pods {
		ip := ""
		if len(p.IPs) > 0 {
			ip = strings.SplitN(p.IPs[0], "/", 2)[0]
		}
		m.Pods = append(m.Pods, PingPod{Key: p.Key, Node: p.Node, IP: ip, Netns: p.Netns})
	}
	allowed := l.policyAllows(ctx, expect)
	m.Cells = make([][]Cell, len(m.Pods))
	type job struct{ i, j int }
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for jb := range jobs {
				m.Cells[jb.i][jb.j].Reached = pingFrom(ctx, m.Pods[jb.i].Netns, m.Pods[jb.j].IP)
			}
		})
	}
	for i, from := range m.Pods {
		m.Cells[i] = make([]Cell, len(m.Pods))
		for j, to := range m.Pods {
			c := &m.Cells[i][j]
			c.Self = i == j
			c.Expected = (expect == ExpectAll || from.Node == to.Node) && allowed(from.IP, to.IP)
			if !c.Self && from.IP != "" && to.IP != "" {
				jobs <- job{i, j}
			}
		}
	}
	close(jobs)
	wg.Wait()
	return m, ctx.Err()
}

// pingFrom reports whether ip answers an ICMP echo from inside netns.
func pingFrom(ctx context.Context, netns, ip string) bool {
	if _, err := netip.ParseAddr(ip); err != nil {
		return false
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", netns, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", ip)
	return cmd.Run() == nil
}

// WriteMatrix prints the matrix as a table with a legend.
func WriteMatrix(w io.Writer, m *Matrix) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprint(tw, "#\tFROM\tNODE\tIP")
	for j := range m.Pods {
		fmt.Fprintf(tw, "\t%d", j+1)
	}
	fmt.Fprintln(tw)
	ok, expected := 0, 0
	for i, p := range m.Pods {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s", i+1, p.Key, p.Node, orDash(p.IP))
		for _, c := range m.Cells[i] {
			fmt.Fprintf(tw, "\t%s", cellMark(c))
			if !c.Self && c.Expected {
				expected++
				if c.Reached {
					ok++
				}
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nok = connected as expected, FAIL = expected to connect but did not,\n- = not connected as expected (%s), ok! = connected though not expected\n", m.Expect)
	fmt.Fprintf(w, "%d of %d expected pairs connected", ok, expected)
	if f := m.Failed(); f > 0 {
		fmt.Fprintf(w, "; %d FAILED", f)
	}
	fmt.Fprintln(w)
	return nil
}

func cellMark(c Cell) string {
	switch {
	case c.Self:
		return "·"
	case c.Expected && c.Reached:
		return "ok"
	case c.Expected:
		return "FAIL"
	case c.Reached:
		return "ok!"
	}
	return "-"
}
