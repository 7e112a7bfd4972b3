package nft

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// Every host endpoint stage in a real table: a node with two outside
// networks (eth1 with its own host endpoint, eth2 covered by the
// all-interfaces one) and a workload, and the policies of hostFixture:
//
//	eth1: normal allows TCP 8080 to the host; applyOnForward allows TCP 80
//	      forwarded in (and no forwarded egress); preDNAT denies 10.9.0.66;
//	      untracked allows UDP 5353 both ways
//	*:    normal allows TCP 443 to the host; applyOnForward denies UDP in
//	      and allows the rest to 10.0.0.0/16
func TestHostStagesInTheKernel(t *testing.T) {
	node := nstest.New(t, "ths")
	ext1 := pod(t, node, "eth1", "10.9.0.2", "10.9.0.1")
	ext1.MustRun(t, "ip", "addr", "add", "10.9.0.66/24", "dev", "eth0")
	ext2 := pod(t, node, "eth2", "10.8.0.2", "10.8.0.1")
	wl := pod(t, node, "cali1", "10.0.1.1", "10.0.1.254")
	node.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for _, addr := range []string{"10.9.0.1:8080", "10.9.0.1:9090", "10.9.0.1:443", "10.8.0.1:443", "10.8.0.1:8080"} {
		listen(t, node, addr)
	}
	listen(t, wl, "10.0.1.1:80")
	listen(t, wl, "10.0.1.1:81")
	listen(t, ext1, "10.9.0.2:7000")
	listen(t, ext2, "10.8.0.2:7000")
	udpEcho(t, node, "10.9.0.1:5353")
	udpEcho(t, wl, "10.0.1.1:5353")
	// A counter of untracked packets, in a table of the test's own.
	node.MustRun(t, "nft", "add table ip probe; add chain ip probe c { type filter hook input priority 10 ; }; add rule ip probe c ct state untracked counter")

	in := hostFixtureInput(t) // and a workload on cali1 whose profile allows everything
	in.Profiles = append(in.Profiles, decode[v3.Profile](t, `{metadata: {name: open}, spec: {ingress: [{action: Allow}], egress: [{action: Allow}]}}`))
	in.WorkloadEndpoints = append(in.WorkloadEndpoints, decode[v3.WorkloadEndpoint](t,
		`{metadata: {name: pod1, namespace: ns}, spec: {node: n1, interfaceName: cali1, ipNetworks: [10.0.1.1/32], profiles: [open]}}`))
	m := policy.Build(in)
	p := policy.Compile(m, "n1")
	prog := &p
	applyOnce(t, node, prog)
	for _, c := range []struct {
		from      *nstest.NS
		in, out   string // the host interfaces crossed
		src, dst  string
		want      bool
		describes string
	}{
		{ext1, "eth1", "", "10.9.0.2", "10.9.0.1:8080", true, "eth1 → host 8080: normal policy allows"},
		{ext1, "eth1", "", "10.9.0.2", "10.9.0.1:9090", false, "eth1 → host 9090: nothing allows"},
		{ext1, "eth1", "", "10.9.0.66", "10.9.0.1:8080", false, "eth1 → host 8080 from 10.9.0.66: preDNAT denies"},
		{ext1, "eth1", "", "10.9.0.2", "10.0.1.1:80", true, "eth1 → workload 80: applyOnForward allows"},
		{ext1, "eth1", "", "10.9.0.2", "10.0.1.1:81", false, "eth1 → workload 81: applyOnForward tier ends in a deny"},
		{ext1, "eth1", "", "10.9.0.66", "10.0.1.1:80", false, "eth1 → workload from 10.9.0.66: preDNAT denies forwarded traffic too"},
		{ext2, "eth2", "", "10.8.0.2", "10.8.0.1:443", true, "eth2 → host 443: the all-interfaces endpoint allows"},
		{ext2, "eth2", "", "10.8.0.2", "10.8.0.1:8080", false, "eth2 → host 8080: the all-interfaces endpoint denies"},
		{ext2, "eth2", "", "10.8.0.2", "10.0.1.1:81", true, "eth2 → workload TCP: the all-interfaces applyOnForward policy allows all but UDP"},
		{wl, "", "eth1", "10.0.1.1", "10.9.0.2:7000", false, "workload → out of eth1: eth1's applyOnForward egress (no rules) denies"},
		{wl, "", "eth2", "10.0.1.1", "10.8.0.2:7000", true, "workload → out of eth2: no forwarded egress policy on *, allowed"},
	} {
		dst := netip.MustParseAddrPort(c.dst)
		pkt := policy.Packet{Src: netip.MustParseAddr(c.src), Dst: dst.Addr(), Protocol: policy.ProtoTCP, SrcPort: 40000, DstPort: dst.Port()}
		path := policy.Path{In: m.HostEndpointOn("n1", c.in), Out: m.HostEndpointOn("n1", c.out)}
		if model := m.EvaluatePath(pkt, path).Allowed; model != c.want {
			t.Errorf("%s: the model says allowed = %v", c.describes, model)
		}
		if got := connectsFrom(c.from, c.src, c.dst); got != c.want {
			t.Errorf("%s: connected = %v, want %v", c.describes, got, c.want)
		}
	}
	// Untracked: UDP 5353 to the host gets its answer (the reply passes
	// the untracked egress policy) and leaves no conntrack entry.
	if err := udpRoundTrip(ext1, "10.9.0.1:5353"); err != nil {
		t.Errorf("untracked UDP 5353 to the host: %v", err)
	}
	if out := node.MustRun(t, "nft", "list", "chain", "ip", "probe", "c"); strings.Contains(out, "packets 0 ") {
		t.Errorf("the untracked exchange was tracked:\n%s", out)
	}
	// The all-interfaces endpoint's applyOnForward policy denies UDP
	// forwarded in from eth2.
	if err := udpRoundTrip(ext2, "10.0.1.1:5353"); err == nil {
		t.Error("UDP forwarded from eth2 to the workload got through; host-fwd denies it")
	}
}

// connectsFrom dials dst from local address src inside p.
func connectsFrom(p *nstest.NS, src, dst string) bool {
	return p.Do(func() error {
		d := net.Dialer{Timeout: 700 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", dst)
		if err == nil {
			c.Close()
		}
		return err
	}) == nil
}

// udpEcho answers every datagram on addr inside p until the test ends.
func udpEcho(t *testing.T, p *nstest.NS, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := p.Do(func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
}

// udpRoundTrip sends a datagram to addr from inside p and waits for the
// echo.
func udpRoundTrip(p *nstest.NS, addr string) error {
	return p.Do(func() error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		_, err = c.Read(buf)
		return err
	})
}
