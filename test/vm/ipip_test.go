//go:build linux

// Package vm tests what this machine's kernel cannot: IP-in-IP. The test
// boots Debian's kernel under QEMU software emulation (KVM cannot boot a
// stock kernel on the CI machines: spec/environment.md §7) with an
// initramfs built on the fly: busybox, the ipip/veth/bridge/nftables
// modules, Debian's nft with its libraries, tortie's binaries built static,
// and vminit (./vminit), which runs the scenarios inside the VM and prints
// what it saw on the serial console. The assertions are made here.
package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/test/vm/vmproto"
)

// The modules the VM loads, in this order, each after its dependencies:
// IP-in-IP, the underlay's veths and bridges, what tortie's natOutgoing
// table uses (libcrc32c, a dependency of nf_conntrack, needs a crc32c
// implementation first: a soft dependency modules.dep does not list), and
// what its policy chains use (conntrack state, logging).
// xfrm_user is left out on purpose: tortie-node must not need it.
var vmModules = []string{"ipip", "veth", "bridge", "crc32c_generic", "nf_tables", "nft_chain_nat", "nft_masq", "nft_ct", "nft_log"}

// The plan: two scenarios in one boot.
//
//	br1 10.0.1.0/24 ── root namespace (router, datastore) ── br2 10.0.2.0/24
//
// "always": a1 and a2 on br1, pool ipipMode Always: encapsulated although
// they share a subnet. "crosssubnet": c1 and c2 on br1, c3 on br2, pool
// ipipMode CrossSubnet: c1-c2 direct, anything with c3 encapsulated.
func plan() vmproto.Plan {
	env := func(cidr, mode string) []string {
		return []string{"CALICO_IPV4POOL_CIDR=" + cidr, "CALICO_IPV4POOL_IPIP=" + mode,
			"CALICO_IPV4POOL_VXLAN=Never", "CALICO_IPV4POOL_NAT_OUTGOING=true"}
	}
	n := func(name, br, addr string) vmproto.NodeSpec {
		gw := map[string]string{"br1": "10.0.1.254", "br2": "10.0.2.254"}[br]
		return vmproto.NodeSpec{Name: name, Bridge: br, Addr: addr, Gateway: gw}
	}
	return vmproto.Plan{
		Bridges: []vmproto.Bridge{{Name: "br1", Addr: "10.0.1.254/24"}, {Name: "br2", Addr: "10.0.2.254/24"}},
		Scenarios: []vmproto.Scenario{
			{
				Name: "always", Datastore: "10.0.1.254:2379", Env: env("10.244.0.0/16", "Always"),
				Nodes: []vmproto.NodeSpec{n("a1", "br1", "10.0.1.1/24"), n("a2", "br1", "10.0.1.2/24")},
				Pings: []vmproto.PingSpec{{From: "a1", To: "a2"}, {From: "a2", To: "a1"}, {From: "a1", ToIP: "10.0.2.254"}},
			},
			{
				Name: "crosssubnet", Datastore: "10.0.1.254:2479", Env: env("10.245.0.0/16", "CrossSubnet"),
				Nodes: []vmproto.NodeSpec{n("c1", "br1", "10.0.1.11/24"), n("c2", "br1", "10.0.1.12/24"), n("c3", "br2", "10.0.2.13/24")},
				Pings: []vmproto.PingSpec{{From: "c1", To: "c2"}, {From: "c1", To: "c3"}, {From: "c3", To: "c2"}},
			},
		},
	}
}

func TestIPIPInVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM under software emulation (about a minute); skipped with -short")
	}
	env := requireVM(t)
	begin := time.Now()
	dir := t.TempDir()
	initrd := buildInitramfs(t, env, dir)
	t.Logf("initramfs built in %v", time.Since(begin).Round(time.Millisecond))

	console := bootVM(t, env, initrd, dir)
	res := parseConsole(t, console)

	p := plan()
	for _, sc := range p.Scenarios {
		t.Run(sc.Name, func(t *testing.T) { checkScenario(t, sc, res) })
	}
}

// vmEnv is what the test found on the host.
type vmEnv struct {
	qemu, kernel, release, modDir, busybox, nft string
}

// requireVM finds QEMU, a Debian kernel with its ipip module, static
// busybox and nft, or skips saying what is missing (.ci/setup installs
// qemu-system-x86, linux-image-amd64, busybox-static and nftables).
func requireVM(t *testing.T) vmEnv {
	t.Helper()
	const hint = " (.ci/setup installs qemu-system-x86, linux-image-amd64, busybox-static and nftables)"
	var e vmEnv
	var err error
	if e.qemu, err = exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not found" + hint)
	}
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	slices.Sort(kernels)
	for _, k := range slices.Backward(kernels) {
		rel := strings.TrimPrefix(filepath.Base(k), "vmlinuz-")
		if _, err := os.Stat(filepath.Join("/lib/modules", rel, "kernel/net/ipv4/ipip.ko")); err == nil {
			e.kernel, e.release, e.modDir = k, rel, filepath.Join("/lib/modules", rel)
			break
		}
	}
	if e.kernel == "" {
		t.Skip("no /boot/vmlinuz-* with an uncompressed ipip.ko in /lib/modules/<release>" + hint)
	}
	if f, err := os.Open(e.kernel); err != nil {
		t.Skipf("cannot read the kernel %s: %v (run as root)", e.kernel, err)
	} else {
		f.Close()
	}
	e.busybox = "/bin/busybox"
	if static, err := isStatic(e.busybox); err != nil || !static {
		t.Skipf("%s is missing or not static (%v)"+hint, e.busybox, err)
	}
	if e.nft, err = exec.LookPath("nft"); err != nil {
		if _, err := os.Stat("/usr/sbin/nft"); err != nil {
			t.Skip("nft not found" + hint)
		}
		e.nft = "/usr/sbin/nft"
	}
	return e
}

// buildInitramfs builds tortie and vminit static and packs the VM's root.
func buildInitramfs(t *testing.T, e vmEnv, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	goTool := "go"
	if _, err := exec.LookPath(goTool); err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-ldflags=-s -w", "-o", bin+"/",
		"./cmd/tortie", "./cmd/tortie-node", "./cmd/tortiectl", "./test/vm/vminit")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build static binaries: %v\n%s", err, out)
	}
	t.Logf("static binaries built in %v", time.Since(start).Round(time.Millisecond))

	mods, err := moduleOrder(e.modDir, vmModules)
	if err != nil {
		t.Fatal(err)
	}
	libs, err := sharedObjects(e.nft)
	if err != nil {
		t.Fatalf("nft's libraries: %v", err)
	}
	planJSON, err := json.Marshal(plan())
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(dir, "initramfs.cpio")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	c := newCPIO(w)
	for _, d := range []string{"dev", "proc", "sys", "tmp", "run", "var/run/netns", "var/lib", "sbin", "usr/bin", "usr/sbin", "etc"} {
		c.mkdirAll(d)
	}
	c.charDev("dev/console", 5, 1)
	c.file("init", 0o755, []byte(initScript))
	// The health and metrics endpoints listen on "localhost".
	c.file("etc/hosts", 0o644, []byte("127.0.0.1 localhost\n::1 localhost\n"))
	c.copyFile("bin/busybox", e.busybox)
	for _, b := range []string{"tortie", "tortie-node", "tortiectl", "vminit"} {
		c.copyFile("bin/"+b, filepath.Join(bin, b))
	}
	c.symlink("bin/tortie-ipam", "tortie")
	c.copyFile("usr/sbin/nft", e.nft)
	for dst, src := range libs {
		c.copyFile(dst, src)
	}
	for _, m := range mods {
		c.copyFile(filepath.Join("lib/modules", e.release, m), filepath.Join(e.modDir, m))
	}
	c.file(vmproto.ModulesPath, 0o644, []byte(strings.Join(mods, "\n")+"\n"))
	c.file(vmproto.PlanPath, 0o644, planJSON)
	if err := c.close(); err != nil {
		t.Fatalf("initramfs: %v", err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}

// initScript is the VM's /init: busybox's applets, the pseudo file
// systems, then vminit as PID 1.
const initScript = `#!/bin/busybox sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec /bin/vminit
`

// bootVM runs the VM to its end and returns the console output.
func bootVM(t *testing.T, e vmEnv, initrd, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// One vCPU: under TCG on two shared cores it ran the plan in about 25 s,
	// two vCPUs took 35-42 s. No NIC: the VM's network is its own.
	cmd := exec.CommandContext(ctx, e.qemu,
		"-nographic", "-no-reboot", "-nic", "none",
		"-m", "1024", "-smp", "1",
		"-kernel", e.kernel, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 quiet")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start).Round(time.Millisecond)
	console := out.String()
	_ = os.WriteFile(filepath.Join(dir, "console.log"), out.Bytes(), 0o644)
	if ctx.Err() != nil {
		t.Fatalf("the VM did not power off within %v; console:\n%s", 4*time.Minute, console)
	}
	if err != nil {
		t.Fatalf("qemu: %v; console:\n%s", err, console)
	}
	t.Logf("VM ran for %v", elapsed)
	for _, l := range strings.Split(console, "\n") {
		if strings.Contains(l, vmproto.LogPrefix) {
			t.Log(strings.TrimRight(l[strings.Index(l, vmproto.LogPrefix)+len(vmproto.LogPrefix):], "\r"))
		}
	}
	return console
}

// results are the records the VM printed.
type results struct {
	nodes map[string]vmproto.Node // by node name
	pods  map[string]vmproto.Pod
	pings []vmproto.Ping
}

func parseConsole(t *testing.T, console string) results {
	t.Helper()
	res := results{nodes: map[string]vmproto.Node{}, pods: map[string]vmproto.Pod{}}
	result := ""
	for _, l := range strings.Split(console, "\n") {
		if i := strings.Index(l, vmproto.ResultPrefix); i >= 0 {
			result = strings.TrimSpace(l[i+len(vmproto.ResultPrefix):])
			continue
		}
		kind, js, ok := vmproto.Parse(l)
		if !ok {
			continue
		}
		var err error
		switch kind {
		case "node":
			var n vmproto.Node
			err = json.Unmarshal(js, &n)
			res.nodes[n.Name] = n
		case "pod":
			var p vmproto.Pod
			err = json.Unmarshal(js, &p)
			res.pods[p.Node] = p
		case "ping":
			var p vmproto.Ping
			err = json.Unmarshal(js, &p)
			res.pings = append(res.pings, p)
		}
		if err != nil {
			t.Errorf("console record %q: %v", l, err)
		}
	}
	if result != "ok" {
		t.Fatalf("the VM run did not complete: %q; console:\n%s", result, console)
	}
	return res
}

func checkScenario(t *testing.T, sc vmproto.Scenario, res results) {
	var pool netip.Prefix
	mode := ""
	for _, kv := range sc.Env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "CALICO_IPV4POOL_CIDR":
			pool = netip.MustParsePrefix(v)
		case "CALICO_IPV4POOL_IPIP":
			mode = v
		}
	}
	spec := map[string]vmproto.NodeSpec{}
	for _, n := range sc.Nodes {
		spec[n.Name] = n
	}
	// encapsulated says whether traffic between two nodes goes through tunl0.
	encapsulated := func(a, b string) bool {
		return mode == "Always" || spec[a].Bridge != spec[b].Bridge
	}
	nodeIP := func(name string) string { return netip.MustParsePrefix(spec[name].Addr).Addr().String() }

	for _, ns := range sc.Nodes {
		n, ok := res.nodes[ns.Name]
		if !ok {
			t.Errorf("node %s: no record", ns.Name)
			continue
		}
		t.Logf("node %s: tunl0 %v mtu %d up=%v; routes:\n%s", n.Name, n.Tunl0.Addrs, n.Tunl0.MTU, n.Tunl0.Up, routeList(n.Routes))
		// tunl0: up, MTU 1480, holding the node's tunnel address from the pool.
		tun, err := netip.ParseAddr(n.TunnelAddr)
		if err != nil || !pool.Contains(tun) {
			t.Errorf("node %s: Node ipv4IPIPTunnelAddr = %q, want an address in %v", n.Name, n.TunnelAddr, pool)
		}
		if !n.Tunl0.Exists || n.Tunl0.Kind != "ipip" || !n.Tunl0.Up {
			t.Errorf("node %s: tunl0 = %+v, want an ipip device that is up", n.Name, n.Tunl0)
		}
		if want := []string{n.TunnelAddr + "/32"}; !slices.Equal(n.Tunl0.Addrs, want) {
			t.Errorf("node %s: tunl0 addresses %v, want %v", n.Name, n.Tunl0.Addrs, want)
		}
		if n.Tunl0.MTU != 1480 || n.MTUFile != "1480" {
			t.Errorf("node %s: tunl0 MTU %d, MTU file %q; want 1480 for IP-in-IP on a 1500 underlay", n.Name, n.Tunl0.MTU, n.MTUFile)
		}
		if pod := res.pods[n.Name]; pod.MTU != 1480 {
			t.Errorf("node %s: pod eth0 MTU %d, want 1480", n.Name, pod.MTU)
		}
		if !strings.Contains(n.NFT, "masquerade") || !strings.Contains(n.NFT, pool.String()) {
			t.Errorf("node %s: natOutgoing table:\n%s", n.Name, n.NFT)
		}
		// Routes: to each other node's pod through tunl0 onlink, or directly
		// over eth0 within a subnet under CrossSubnet.
		for _, other := range sc.Nodes {
			if other.Name == n.Name {
				continue
			}
			podIP := netip.MustParseAddr(res.pods[other.Name].IP)
			r := covering(n.Routes, podIP)
			if r == nil {
				t.Errorf("node %s: no route to %s's pod %v; routes:\n%s", n.Name, other.Name, podIP, routeList(n.Routes))
				continue
			}
			dst := netip.MustParsePrefix(r.Dst)
			ok := r.Type == "unicast" && r.Gw == nodeIP(other.Name) && pool.Contains(dst.Addr()) && dst.Bits() == 26
			if encapsulated(n.Name, other.Name) {
				ok = ok && r.Dev == "tunl0" && r.Onlink
			} else {
				ok = ok && r.Dev == "eth0"
			}
			if !ok {
				want := fmt.Sprintf("<%s's /26 block> via %s dev eth0", other.Name, nodeIP(other.Name))
				if encapsulated(n.Name, other.Name) {
					want = fmt.Sprintf("<%s's /26 block> via %s dev tunl0 onlink", other.Name, nodeIP(other.Name))
				}
				t.Errorf("node %s: route to %s's pod is %v, want %s", n.Name, other.Name, r, want)
			}
		}
	}

	for _, p := range res.pings {
		if p.Scenario != sc.Name {
			continue
		}
		name := fmt.Sprintf("ping %s -> %s", p.From, p.ToIP)
		for node, flows := range p.Captures {
			t.Logf("%s (ok=%v): %s's eth0 saw %v", name, p.OK, node, flows)
		}
		if !p.OK {
			t.Errorf("%s failed:\n%s", name, p.Output)
		}
		from := res.pods[p.From].IP
		if p.To == "" {
			// Outside all pools: masqueraded to the node's address.
			flows := p.Captures[p.From]
			if find(flows, func(f vmproto.Flow) bool { return f.Proto == 1 && f.Src == nodeIP(p.From) && f.Dst == p.ToIP }) == nil ||
				find(flows, func(f vmproto.Flow) bool { return f.Src == from || f.Dst == from }) != nil {
				t.Errorf("%s: want ICMP from the node's address %s and no pod address on the underlay; saw %v", name, nodeIP(p.From), flows)
			}
			continue
		}
		to := res.pods[p.To].IP
		for _, node := range []string{p.From, p.To} {
			flows := p.Captures[node]
			tunnelled := find(flows, func(f vmproto.Flow) bool {
				return f.Proto == 4 && f.Src == nodeIP(p.From) && f.Dst == nodeIP(p.To) &&
					f.InnerSrc == from && f.InnerDst == to && f.InnerProto == 1
			})
			replies := find(flows, func(f vmproto.Flow) bool {
				return f.Proto == 4 && f.Src == nodeIP(p.To) && f.Dst == nodeIP(p.From) &&
					f.InnerSrc == to && f.InnerDst == from && f.InnerProto == 1
			})
			direct := find(flows, func(f vmproto.Flow) bool { return f.Proto == 1 && f.Src == from && f.Dst == to })
			anyIPIP := find(flows, func(f vmproto.Flow) bool { return f.Proto == 4 })
			if encapsulated(p.From, p.To) {
				if tunnelled == nil || replies == nil || direct != nil {
					t.Errorf("%s: on %s's underlay want IP protocol 4 both ways (%s<->%s carrying %s<->%s ICMP) and no bare pod traffic; saw %v",
						name, node, nodeIP(p.From), nodeIP(p.To), from, to, flows)
				}
			} else if direct == nil || anyIPIP != nil {
				t.Errorf("%s: on %s's underlay want the pods' ICMP unencapsulated and no protocol 4; saw %v", name, node, flows)
			}
		}
	}
}

func covering(rs []vmproto.Route, ip netip.Addr) *vmproto.Route {
	var best *vmproto.Route
	for i, r := range rs {
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil || p.Bits() == 0 || !p.Contains(ip) {
			continue
		}
		if best == nil || p.Bits() > netip.MustParsePrefix(best.Dst).Bits() {
			best = &rs[i]
		}
	}
	return best
}

func find(fs []vmproto.Flow, match func(vmproto.Flow) bool) *vmproto.Flow {
	for i := range fs {
		if match(fs[i]) {
			return &fs[i]
		}
	}
	return nil
}

func routeList(rs []vmproto.Route) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("  " + r.String() + "\n")
	}
	return b.String()
}
