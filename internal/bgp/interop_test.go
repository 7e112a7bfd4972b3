package bgp

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/ns/nstest"
)

// Interop: the speaker against real bird2 and frr, each in a namespace of
// its own joined to the speaker's by a veth (router 10.99.0.1, node
// 10.99.0.2). Needs root and the Debian packages bird2 and frr.

var (
	routerIP = netip.MustParseAddr("10.99.0.1")
	nodeIP   = netip.MustParseAddr("10.99.0.2")
)

type pair struct {
	router, node *nstest.NS
	dir          string
	log          *bytes.Buffer
}

func newPair(t *testing.T, need string) *pair {
	t.Helper()
	nstest.RequireRoot(t)
	if _, err := os.Stat(need); err != nil {
		t.Skipf("skipped: %s is not installed (Debian packages bird2, frr; .ci/setup installs them)", need)
	}
	p := &pair{router: nstest.New(t, "tbgp"), node: nstest.New(t, "tbgp"), dir: t.TempDir(), log: &bytes.Buffer{}}
	p.router.MustRun(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", p.node.Name)
	for ns, a := range map[*nstest.NS]string{p.router: "10.99.0.1/24", p.node: "10.99.0.2/24"} {
		ns.MustRun(t, "ip", "addr", "add", a, "dev", "eth0")
		ns.MustRun(t, "ip", "link", "set", "eth0", "up")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("router log:\n%s", p.log)
		}
	})
	return p
}

func (p *pair) write(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// speaker starts tortie's speaker in the node namespace: AS 64512,
// originating 10.244.2.0/26, one peer, the router.
func (p *pair) speaker(t *testing.T, routerASN uint32, password string) *speakerProc {
	return startSpeakerIn(t, p.node.Name, helperConfig{
		Global: Global{ASN: 64512, RouterID: nodeIP},
		Peers: []Peer{{Name: "Global_10_99_0_1", Address: routerIP, ASN: routerASN,
			SourceAddress: nodeIP, RestartTime: 120 * time.Second}},
		Passwords: map[netip.Addr]string{routerIP: password},
		Routes:    []Route{{Prefix: netip.MustParsePrefix("10.244.2.0/26"), NextHop: nodeIP}},
	})
}

// routerRoute waits until the router's kernel has a route for dst via gw
// (present) or has none (absent).
func (p *pair) routerRoute(t *testing.T, dst, gw string, present bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := p.router.MustRun(t, "ip", "route", "show", dst)
		if strings.Contains(out, "via "+gw) == present {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("router's route to %s via %s: want present=%v, table says %q", dst, gw, present, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *pair) startBird(t *testing.T, password string) string {
	t.Helper()
	pw := ""
	if password != "" {
		pw = fmt.Sprintf("password %q;", password)
	}
	conf := p.write(t, "bird.conf", fmt.Sprintf(`router id 10.99.0.1;
protocol device { scan time 10; }
protocol kernel { ipv4 { import none; export filter { if source = RTS_BGP then accept; reject; }; }; }
protocol static { ipv4; route 10.244.1.0/26 blackhole; }
protocol bgp tortie {
  local 10.99.0.1 as 64512; neighbor 10.99.0.2 as 64512; direct;
  graceful restart on; %s
  ipv4 { import all; export all; next hop self; gateway direct; };
}
`, pw))
	sock := filepath.Join(p.dir, "bird.ctl")
	startDaemon(t, p.log, p.router.Name, "bird", "-f", "-c", conf, "-s", sock)
	return sock
}

func birdc(t *testing.T, sock string, args ...string) string {
	t.Helper()
	out, err := exec.Command("birdc", append([]string{"-s", sock}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("birdc %v: %v: %s", args, err, out)
	}
	return string(out)
}

func TestInteropBird(t *testing.T) {
	p := newPair(t, "/usr/sbin/bird")
	sock := p.startBird(t, "")
	sp := p.speaker(t, 64512, "")
	sp.waitState(t, "session Established", stateIs(StateEstablished, ""))
	sp.waitState(t, "bird's block learned", learnedVia("10.244.1.0/26", "10.99.0.1"))
	p.routerRoute(t, "10.244.2.0/26", "10.99.0.2", true)

	proto := birdc(t, sock, "show", "protocols", "all", "tortie")
	for _, want := range []string{"Established", "graceful restart", "Hold timer:", "/9", "Keepalive timer:"} {
		if !strings.Contains(proto, want) {
			t.Errorf("bird's view of the session lacks %q:\n%s", want, proto)
		}
	}

	// Graceful restart: the agent dies; bird keeps its block (stale) and
	// takes it fresh from the restarted speaker.
	sp.kill()
	deadline := time.Now().Add(60 * time.Second)
	for strings.Contains(birdc(t, sock, "show", "protocols", "tortie"), "Established") {
		if time.Now().After(deadline) {
			t.Fatal("bird never saw the session drop")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.routerRoute(t, "10.244.2.0/26", "10.99.0.2", true) // kept while the session is down
	sp = p.speaker(t, 64512, "")
	sp.waitState(t, "session Established again", stateIs(StateEstablished, ""))
	p.routerRoute(t, "10.244.2.0/26", "10.99.0.2", true)
}

func TestInteropBirdMD5(t *testing.T) {
	t.Run("match", func(t *testing.T) {
		p := newPair(t, "/usr/sbin/bird")
		p.startBird(t, "s3cret")
		sp := p.speaker(t, 64512, "s3cret")
		sp.waitState(t, "session Established", stateIs(StateEstablished, ""))
	})
	t.Run("mismatch", func(t *testing.T) {
		p := newPair(t, "/usr/sbin/bird")
		p.startBird(t, "s3cret")
		sp := p.speaker(t, 64512, "wrong")
		st := sp.waitState(t, "a connection failure", func(s helperState) bool {
			return len(s.Status) == 1 && s.Status[0].State == StateEstablished ||
				len(s.Status) == 1 && strings.HasPrefix(s.Status[0].Info, "Socket: ")
		})
		if st.Status[0].State == StateEstablished {
			t.Fatalf("session Established with a wrong password: %+v", st.Status[0])
		}
		t.Logf("status with a wrong password: %s %s", st.Status[0].State, st.Status[0].Info)
	})
}

func (p *pair) startFRR(t *testing.T, password string) string {
	t.Helper()
	pw := ""
	if password != "" {
		pw = " neighbor 10.99.0.2 password " + password + "\n"
	}
	conf := p.write(t, "bgpd.conf", `frr defaults datacenter
hostname tor
router bgp 65001
 bgp router-id 10.99.0.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp graceful-restart
 neighbor 10.99.0.2 remote-as 64512
`+pw+` address-family ipv4 unicast
  network 10.1.0.0/24
 exit-address-family
`)
	zconf := p.write(t, "zebra.conf", "hostname tor\n")
	zsock := filepath.Join(p.dir, "zserv.api")
	frrOwns(t, p.dir)
	common := []string{"-u", "frr", "-g", "frr", "--vty_socket", p.dir, "-P", "0", "-z", zsock}
	startDaemon(t, p.log, p.router.Name, append([]string{"/usr/lib/frr/zebra", "-f", zconf,
		"-i", filepath.Join(p.dir, "zebra.pid")}, common...)...)
	waitFile(t, zsock)
	startDaemon(t, p.log, p.router.Name, append([]string{"/usr/lib/frr/bgpd", "-f", conf,
		"-i", filepath.Join(p.dir, "bgpd.pid")}, common...)...)
	return p.dir
}

// frrOwns hands dir to the frr user the daemons drop to, and lets it
// reach dir.
func frrOwns(t *testing.T, dir string) {
	t.Helper()
	u, err := user.Lookup("frr")
	if err != nil {
		t.Skipf("skipped: no frr user (Debian package frr): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func vtysh(t *testing.T, p *pair, cmd string) string {
	t.Helper()
	out, err := p.router.Run("vtysh", "--vty_socket", p.dir, "-c", cmd)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInteropFRR(t *testing.T) {
	p := newPair(t, "/usr/lib/frr/bgpd")
	p.startFRR(t, "")
	sp := p.speaker(t, 65001, "")
	sp.waitState(t, "session Established", stateIs(StateEstablished, ""))
	st := sp.waitState(t, "frr's network learned", learnedVia("10.1.0.0/24", "10.99.0.1"))
	for _, l := range st.Learned {
		if !l.External {
			t.Errorf("route learned over eBGP not marked External: %+v", l)
		}
	}
	p.routerRoute(t, "10.244.2.0/26", "10.99.0.2", true)
	nb := vtysh(t, p, "show bgp neighbors 10.99.0.2 json")
	for _, want := range []string{`"bgpTimerHoldTimeMsecs":9000`, `"bgpTimerKeepAliveIntervalMsecs":3000`, `"gracefulRestart"`} {
		if !strings.Contains(strings.ReplaceAll(nb, " ", ""), want) {
			t.Errorf("frr's view of the session lacks %s:\n%s", want, nb)
		}
	}
	sp.kill() // graceful restart: frr keeps the block
	p.routerRoute(t, "10.244.2.0/26", "10.99.0.2", true)
}

func TestInteropFRRMD5(t *testing.T) {
	p := newPair(t, "/usr/lib/frr/bgpd")
	p.startFRR(t, "s3cret")
	sp := p.speaker(t, 65001, "s3cret")
	sp.waitState(t, "session Established", stateIs(StateEstablished, ""))
	p.routerRoute(t, "10.244.2.0/26", "10.99.0.2", true)
}

// IPv6 against bird2 (Calico's bird6): a session between the IPv6
// addresses, each side's IPv6 block learned with the other's IPv6 address
// as the next hop and installed in the router's kernel.
func TestInteropBirdIPv6(t *testing.T) {
	p := newPair(t, "/usr/sbin/bird")
	for ns, a := range map[*nstest.NS]string{p.router: "fd99::1/64", p.node: "fd99::2/64"} {
		ns.MustRun(t, "ip", "-6", "addr", "add", a, "dev", "eth0", "nodad")
	}
	conf := p.write(t, "bird6.conf", `router id 10.99.0.1;
protocol device { scan time 10; }
protocol kernel { ipv6 { import none; export filter { if source = RTS_BGP then accept; reject; }; }; }
protocol static { ipv6; route fd00:1::/122 blackhole; }
protocol bgp tortie6 {
  local fd99::1 as 64512; neighbor fd99::2 as 64512; direct;
  graceful restart on;
  ipv6 { import all; export all; next hop self; gateway direct; };
}
`)
	startDaemon(t, p.log, p.router.Name, "bird", "-f", "-c", conf, "-s", filepath.Join(p.dir, "bird6.ctl"))
	router6, node6 := netip.MustParseAddr("fd99::1"), netip.MustParseAddr("fd99::2")
	sp := startSpeakerIn(t, p.node.Name, helperConfig{
		Global: Global{ASN: 64512, RouterID: nodeIP, IPv6: true},
		Peers:  []Peer{{Name: "Global_fd99__1", Address: router6, ASN: 64512, SourceAddress: node6}},
		Routes: []Route{{Prefix: netip.MustParsePrefix("fd00:2::/122"), NextHop: node6}},
	})
	sp.waitState(t, "IPv6 session Established", stateIs(StateEstablished, ""))
	sp.waitState(t, "bird's IPv6 block learned", learnedVia("fd00:1::/122", "fd99::1"))
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := p.router.MustRun(t, "ip", "-6", "route", "show", "fd00:2::/122")
		if strings.Contains(out, "via fd99::2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("router's route to fd00:2::/122: %q, want via fd99::2", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
