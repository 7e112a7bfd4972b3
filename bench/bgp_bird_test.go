package bench

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The BIRD baseline, measured in the same run: one bird per node
// namespace on a bridge, configured as calico-node configures it
// (spec/bgp-convergence.md: AS 64512, full mesh with the lexical passive
// rule, graceful restart, connect delay 2, `bird -R`), each node
// originating 10.244.<i>.0/26. New routes are learned from the kernel, as
// in that document's kernel-learn method.

type birdMesh struct {
	nodes []string // namespace of node i+1
	sw    string   // the bridge's namespace; node i+1's port is p<i+1>
	procs []*exec.Cmd
	dir   string
}

func sh(b *testing.B, argv ...string) {
	b.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		b.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

func newBirdMesh(b *testing.B, n int) *birdMesh {
	b.Helper()
	m := &birdMesh{dir: b.TempDir()}
	sw := newPlainNS(b, fmt.Sprintf("bsw%d", n))
	m.sw = sw
	sh(b, "ip", "-n", sw, "link", "add", "br0", "type", "bridge")
	sh(b, "ip", "-n", sw, "link", "set", "br0", "up")
	for i := 1; i <= n; i++ {
		node := newPlainNS(b, fmt.Sprintf("b%d-%d", n, i))
		port := fmt.Sprintf("p%d", i)
		sh(b, "ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", node)
		sh(b, "ip", "-n", sw, "link", "set", port, "master", "br0", "up")
		sh(b, "ip", "-n", node, "addr", "add", fmt.Sprintf("100.64.0.%d/24", i), "dev", "eth0")
		sh(b, "ip", "-n", node, "link", "set", "eth0", "up")
		m.nodes = append(m.nodes, node)
		conf := filepath.Join(m.dir, fmt.Sprintf("bird%d.conf", i))
		if err := os.WriteFile(conf, []byte(birdNodeConfig(i, n)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(m.stop)
	return m
}

func birdNodeConfig(i, n int) string {
	self := fmt.Sprintf("100.64.0.%d", i)
	var s strings.Builder
	fmt.Fprintf(&s, `router id %s;
protocol device { scan time 2; }
protocol direct { interface -"cali*", "*"; ipv4; }
protocol kernel { learn; persist; scan time 2; graceful restart;
  ipv4 { import all; export filter { if source = RTS_DEVICE then reject; if source = RTS_BGP then accept; reject; }; }; }
protocol static { ipv4; route 10.244.%d.0/26 blackhole; }
template bgp bgp_template { local as 64512;
  ipv4 { gateway recursive; import all; add paths on;
    export filter { if net ~ 10.244.0.0/16 then accept; if net ~ 10.245.0.0/16 then accept; reject; }; };
  graceful restart; connect delay time 2; connect retry time 5; error wait time 5,30; }
`, self, i)
	for j := 1; j <= n; j++ {
		if j == i {
			continue
		}
		peer := fmt.Sprintf("100.64.0.%d", j)
		passive := ""
		if peer > self {
			passive = "passive on;"
		}
		fmt.Fprintf(&s, "protocol bgp Mesh_100_64_0_%d from bgp_template { neighbor %s as 64512; source address %s; ttl security off; multihop; %s }\n", j, peer, self, passive)
	}
	return s.String()
}

// start starts every bird; it returns when the last was started.
func (m *birdMesh) start(b *testing.B) time.Time {
	b.Helper()
	t0 := time.Now()
	for i := range m.nodes {
		m.startOne(b, i)
	}
	return t0
}

// startOne starts node i+1's bird.
func (m *birdMesh) startOne(b *testing.B, i int) {
	b.Helper()
	cmd := exec.Command("ip", "netns", "exec", m.nodes[i], "bird", "-f", "-R",
		"-c", filepath.Join(m.dir, fmt.Sprintf("bird%d.conf", i+1)), "-s", filepath.Join(m.dir, fmt.Sprintf("bird%d.ctl", i+1)))
	if err := dieWithUs(cmd).Start(); err != nil {
		b.Fatal(err)
	}
	m.procs = append(m.procs, cmd)
}

// stop kills every bird and empties the nodes' neighbour tables.
// Linux keeps one ARP table for all network namespaces, with a host-wide
// limit (net.ipv4.neigh.default.gc_thresh3, 1024 by default): a 30-node
// mesh holds 870 entries until they go stale (a minute), and a lab
// started after it could not resolve its peers' addresses (its SYNs never
// leave: "neighbor table overflow!" in the kernel log).
func (m *birdMesh) stop() {
	for _, c := range m.procs {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	m.procs = nil
	for _, nd := range m.nodes {
		_ = exec.Command("ip", "-n", nd, "neigh", "flush", "all").Run()
	}
}

func (m *birdMesh) pids() []int {
	var out []int
	for _, c := range m.procs {
		out = append(out, c.Process.Pid)
	}
	return out
}

// waitComplete waits until every namespace's kernel has n remote /26s of
// 10.244.0.0/16 from protocol proto, checking every 10 ms over netlink.
func waitComplete(b *testing.B, nodes []string, n int, proto int, limit time.Duration) time.Time {
	b.Helper()
	pool := netip.MustParsePrefix("10.244.0.0/16")
	handles := make([]*netlink.Handle, len(nodes))
	for i, name := range nodes {
		nsh, err := netns.GetFromName(name)
		if err != nil {
			b.Fatal(err)
		}
		if handles[i], err = netlink.NewHandleAt(nsh); err != nil {
			b.Fatal(err)
		}
		nsh.Close()
		defer handles[i].Close()
	}
	deadline := time.Now().Add(limit)
	for {
		complete, short := true, []string(nil)
		for i, h := range handles {
			rs, _ := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
			c := 0
			for _, r := range rs {
				if r.Dst == nil || int(r.Protocol) != proto || r.Gw == nil {
					continue
				}
				a, _ := netip.AddrFromSlice(r.Dst.IP.To4())
				if ones, _ := r.Dst.Mask.Size(); ones == 26 && pool.Contains(a) {
					c++
				}
			}
			complete = complete && c >= n
			if c < n {
				short = append(short, fmt.Sprintf("%s %d/%d", nodes[i], c, n))
			}
		}
		if complete {
			return time.Now()
		}
		if time.Now().After(deadline) {
			b.Fatalf("the mesh did not complete within %v: %s", limit, strings.Join(short, ", "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kernelRoute adds or deletes `blackhole dst proto static` in a namespace.
func kernelRoute(b *testing.B, node string, dst netip.Prefix, add bool) {
	b.Helper()
	nsh, err := netns.GetFromName(node)
	if err != nil {
		b.Fatal(err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	r := &netlink.Route{Dst: &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), 32)},
		Type: unix.RTN_BLACKHOLE, Protocol: unix.RTPROT_STATIC}
	if add {
		err = h.RouteAdd(r)
	} else {
		err = h.RouteDel(r)
	}
	if err != nil {
		b.Fatalf("route %s in %s (add %v): %v", dst, node, add, err)
	}
}

// rssKiB is a process's VmRSS and RssAnon.
func rssKiB(pid int) (rss, anon int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			fmt.Sscan(f[1], &rss)
		}
		if len(f) >= 2 && f[0] == "RssAnon:" {
			fmt.Sscan(f[1], &anon)
		}
	}
	return rss, anon
}

// dieWithUs has cmd, once started, killed when the benchmark process
// ends, killed or not, so that nothing it started outlives it holding the
// e2e lock or a namespace.
func dieWithUs(cmd *exec.Cmd) *exec.Cmd {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return cmd
}
