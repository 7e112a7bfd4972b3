package lab

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tortienet/tortie/internal/lab/topo"
)

// birdConfig is a ToR's bird.conf: a session per neighbour (a route
// reflector for neighbours in its own AS), routes learned over BGP into
// the kernel so that it forwards between racks.
func (l *Lab) birdConfig(r topo.Router) string {
	as := routerAS(r)
	var b strings.Builder
	fmt.Fprintf(&b, `router id %s;
protocol device { scan time 10; }
protocol direct { ipv4; }
protocol kernel { ipv4 { import none; export filter { if source = RTS_BGP then accept; reject; }; }; merge paths on; }
`, r.Interfaces[0].Addr)
	for _, nb := range l.neighbors(r) {
		ibgp := ""
		if nb.AS == as {
			// Its rack's route reflector; what it learned over eBGP goes
			// to the rack with itself as the next hop.
			ibgp = "direct; rr client; rr cluster id " + r.Interfaces[0].Addr.String() + ";"
		}
		fmt.Fprintf(&b, `protocol bgp %s {
  local %s as %d; neighbor %s as %d; %s
  graceful restart on;
  ipv4 { import all; export where source = RTS_BGP; gateway direct; next hop self ebgp; };
}
`, birdName(nb.Name), nb.Local, as, nb.Addr, nb.AS, ibgp)
		if nb.Local6.IsValid() {
			fmt.Fprintf(&b, `protocol bgp %s_v6 {
  local %s as %d; neighbor %s as %d; %s
  graceful restart on;
  ipv6 { import all; export where source = RTS_BGP; gateway direct; next hop self ebgp; };
}
`, birdName(nb.Name), nb.Local6, as, nb.Addr6, nb.AS, ibgp)
		}
	}
	if l.routesIPv6(r) {
		b.WriteString("protocol direct { ipv6; }\n" +
			"protocol kernel { ipv6 { import none; export filter { if source = RTS_BGP then accept; reject; }; }; merge paths on; }\n")
	}
	return b.String()
}

func birdName(s string) string {
	return "n_" + strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

func (l *Lab) startBird(r topo.Router, dir string) error {
	conf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(l.birdConfig(r)), 0o644); err != nil {
		return err
	}
	return l.startProcess(ProcessRecord{
		Role: "bird/" + r.Name, Netns: l.routerNS(r.Name),
		Argv: []string{"bird", "-f", "-c", conf, "-s", filepath.Join(dir, "bird.ctl")},
		Log:  filepath.Join(dir, "bird.log"),
	}, baseEnv())
}

// frrConfig is the same ToR as FRR's bgpd sees it.
func (l *Lab) frrConfig(r topo.Router) string {
	as := routerAS(r)
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults datacenter\nhostname %s\nrouter bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n bgp graceful-restart\n",
		r.Name, as, r.Interfaces[0].Addr)
	nbs := l.neighbors(r)
	for _, nb := range nbs {
		fmt.Fprintf(&b, " neighbor %s remote-as %d\n", nb.Addr, nb.AS)
	}
	b.WriteString(" address-family ipv4 unicast\n")
	for _, nb := range nbs {
		if nb.AS == as {
			fmt.Fprintf(&b, "  neighbor %s route-reflector-client\n  neighbor %s next-hop-self\n", nb.Addr, nb.Addr)
		}
	}
	b.WriteString(" exit-address-family\n")
	return b.String()
}

// frrRoot holds the FRR routers' configuration and sockets: the daemons
// drop to the frr user, which may not pass the directories above the lab's
// (a test's private temporary directory, say).
const frrRoot = "/run/tortie-frr"

// frrDir is a router's FRR directory, recorded for Down.
func (l *Lab) frrDir(r topo.Router) (string, error) {
	labDir := filepath.Join(frrRoot, l.top.Name)
	if err := l.rec.update(func(st *State) {
		if !slices.Contains(st.Files, labDir) {
			st.Files = append(st.Files, labDir)
		}
	}); err != nil {
		return "", err
	}
	dir := filepath.Join(labDir, r.Name)
	for _, d := range []string{frrRoot, labDir, dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// startFRR runs zebra (which programs the kernel) and bgpd, as the frr
// user; their logs go to logDir.
func (l *Lab) startFRR(ctx context.Context, r topo.Router, logDir string) error {
	dir, err := l.frrDir(r)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bgpd.conf"), []byte(l.frrConfig(r)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "zebra.conf"), []byte("hostname "+r.Name+"\n"), 0o644); err != nil {
		return err
	}
	if err := frrOwns(dir); err != nil {
		return err
	}
	zsock := filepath.Join(dir, "zserv.api")
	common := []string{"-u", "frr", "-g", "frr", "--vty_socket", dir, "-P", "0", "-z", zsock}
	for _, d := range []string{"zebra", "bgpd"} {
		argv := append([]string{"/usr/lib/frr/" + d, "-f", filepath.Join(dir, d+".conf"),
			"-i", filepath.Join(dir, d+".pid")}, common...)
		err := l.startProcess(ProcessRecord{Role: d + "/" + r.Name, Netns: l.routerNS(r.Name),
			Argv: argv, Log: filepath.Join(logDir, d+".log")}, baseEnv())
		if err != nil {
			return err
		}
		if d == "zebra" {
			if err := waitForFile(zsock, 10*time.Second); err != nil {
				return fmt.Errorf("zebra: %w; its log ends: %s", err, tail(filepath.Join(logDir, "zebra.log"), 1000))
			}
		}
	}
	return ctx.Err()
}

// frrOwns gives dir to the frr user the daemons drop to.
func frrOwns(dir string) error {
	u, err := user.Lookup("frr")
	if err != nil {
		return fmt.Errorf("frr routers need the frr user (Debian package frr): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, uid, gid)
	})
}
