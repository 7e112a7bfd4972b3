//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/ns"
	"github.com/tortienet/tortie/test/vm/vmproto"
)

// cluster is one running scenario.
type cluster struct {
	sc    vmproto.Scenario
	dir   string
	procs []*proc
	pods  map[string]netip.Addr // node -> its pod's address
	nss   []string
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func runScenario(sc vmproto.Scenario) (err error) {
	c := &cluster{sc: sc, dir: "/tmp/" + sc.Name, pods: map[string]netip.Addr{}}
	defer func() {
		if err != nil {
			c.dumpLogs()
		}
		c.teardown()
	}()
	logf("scenario %s: start", sc.Name)
	if err := c.startDatastore(); err != nil {
		return err
	}
	logf("scenario %s: datastore up", sc.Name)
	for _, n := range sc.Nodes {
		if err := c.addNode(n); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	for _, n := range sc.Nodes {
		if err := c.waitAgent(n); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	logf("scenario %s: agents ready", sc.Name)
	for _, n := range sc.Nodes {
		if err := c.addPod(n); err != nil {
			return fmt.Errorf("pod on %s: %w", n.Name, err)
		}
	}
	logf("scenario %s: pods made", sc.Name)
	for _, n := range sc.Nodes {
		if err := c.waitRoutes(n); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	logf("scenario %s: routes programmed", sc.Name)
	for _, n := range sc.Nodes {
		rec, err := c.describe(n)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		emit("node", rec)
	}
	for _, p := range sc.Pings {
		rec, err := c.ping(p)
		if err != nil {
			return fmt.Errorf("ping from %s: %w", p.From, err)
		}
		emit("ping", rec)
	}
	logf("scenario %s: done", sc.Name)
	return nil
}

func (c *cluster) endpoint() string { return "http://" + c.sc.Datastore }

// start runs argv in the named namespace ("" = the root one), its output
// in a log file.
func (c *cluster) start(name, netns string, env []string, argv ...string) (*proc, error) {
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if netns == "" {
		err = cmd.Start()
	} else {
		// The child is forked by this locked thread, in its namespace.
		err = ns.Do(netns, cmd.Start)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	c.procs = append(c.procs, p)
	return p, nil
}

func (c *cluster) startDatastore() error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(c.sc.Datastore)
	if err != nil {
		return err
	}
	pn, _ := strconv.Atoi(port)
	p, err := c.start("datastore", "", nil, "/bin/tortiectl", "datastore", "serve",
		"--data-dir", filepath.Join(c.dir, "etcd"), "--listen", c.sc.Datastore,
		"--peer-listen", net.JoinHostPort(host, strconv.Itoa(pn+1)))
	if err != nil {
		return err
	}
	return poll(60*time.Second, "the datastore to listen", func() (bool, error) {
		select {
		case <-p.done:
			return false, errors.New("the datastore exited")
		default:
		}
		conn, err := net.DialTimeout("tcp", c.sc.Datastore, time.Second)
		if err != nil {
			return false, nil
		}
		conn.Close()
		return true, nil
	})
}

func (c *cluster) stateDir(node string) string { return "/var/lib/tortie/" + node }

func (c *cluster) addNode(n vmproto.NodeSpec) error {
	if err := plumbNode(n); err != nil {
		return err
	}
	c.nss = append(c.nss, n.Name)
	env := append([]string{
		"NODENAME=" + n.Name,
		"IP=" + n.Addr,
		"ETCD_ENDPOINTS=" + c.endpoint(),
		"TORTIE_STATE_DIR=" + c.stateDir(n.Name),
	}, c.sc.Env...)
	_, err := c.start("tortie-node-"+n.Name, n.Name, env, "/bin/tortie-node")
	return err
}

// waitAgent waits for the agent to have started (nodename file), applied
// its first dataplane (MTU file) and given tunl0 its address.
func (c *cluster) waitAgent(n vmproto.NodeSpec) error {
	var agent *proc
	for _, p := range c.procs {
		if p.name == "tortie-node-"+n.Name {
			agent = p
		}
	}
	return poll(90*time.Second, "tortie-node to start, write its MTU file and address tunl0", func() (bool, error) {
		select {
		case <-agent.done:
			return false, errors.New("tortie-node exited")
		default:
		}
		for _, f := range []string{conventions.NodenameFile, conventions.MTUFile} {
			if _, err := os.Stat(filepath.Join(c.stateDir(n.Name), f)); err != nil {
				return false, nil
			}
		}
		l, err := linkInfo(n.Name, conventions.IPIPDevice)
		return err == nil && len(l.Addrs) > 0, nil
	})
}

// cniResult is the part of a CNI result the test needs.
type cniResult struct {
	IPs []struct {
		Address string `json:"address"`
	} `json:"ips"`
}

func (c *cluster) addPod(n vmproto.NodeSpec) error {
	pod := "pod-" + n.Name
	if err := ns.Create(pod); err != nil {
		return err
	}
	c.nss = append(c.nss, pod)
	conf, _ := json.Marshal(map[string]any{
		"cniVersion":     "1.0.0",
		"name":           "k8s-pod-network",
		"type":           "tortie",
		"log_level":      "info",
		"log_file_path":  filepath.Join(c.dir, "cni-"+n.Name+".log"),
		"datastore_type": "etcdv3",
		"etcd_endpoints": c.endpoint(),
		"nodename":       n.Name,
		"state_dir":      c.stateDir(n.Name),
		"mtu":            0,
		"ipam":           map[string]any{"type": "tortie-ipam"},
	})
	cmd := exec.Command("/bin/tortie")
	cmd.Env = append(os.Environ(),
		"CNI_COMMAND=ADD", "CNI_CONTAINERID="+pod, "CNI_NETNS="+ns.Path(pod),
		"CNI_IFNAME=eth0", "CNI_PATH=/bin")
	cmd.Stdin = bytes.NewReader(conf)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := ns.Do(n.Name, cmd.Run); err != nil {
		return fmt.Errorf("CNI ADD: %w: %s %s", err, strings.TrimSpace(out.String()), strings.TrimSpace(stderr.String()))
	}
	var res cniResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.IPs) == 0 {
		return fmt.Errorf("CNI ADD result %q: no address (%v)", out.String(), err)
	}
	p, err := netip.ParsePrefix(res.IPs[0].Address)
	if err != nil {
		return fmt.Errorf("CNI ADD result address %q: %w", res.IPs[0].Address, err)
	}
	c.pods[n.Name] = p.Addr()
	l, err := linkInfo(pod, "eth0")
	if err != nil {
		return err
	}
	emit("pod", vmproto.Pod{Scenario: c.sc.Name, Node: n.Name, IP: p.Addr().String(), MTU: l.MTU})
	return nil
}

// waitRoutes waits until the node has a route for every other node's pod.
func (c *cluster) waitRoutes(n vmproto.NodeSpec) error {
	return poll(60*time.Second, "routes to the other nodes' pods", func() (bool, error) {
		rs, err := routes(n.Name)
		if err != nil {
			return false, err
		}
		for other, ip := range c.pods {
			if other != n.Name && coveringRoute(rs, ip) == nil {
				return false, nil
			}
		}
		return true, nil
	})
}

// coveringRoute is the most specific non-default route holding ip.
func coveringRoute(rs []vmproto.Route, ip netip.Addr) *vmproto.Route {
	var best *vmproto.Route
	bits := 0
	for i, r := range rs {
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil || p.Bits() == 0 || !p.Contains(ip) {
			continue
		}
		if best == nil || p.Bits() > bits {
			best, bits = &rs[i], p.Bits()
		}
	}
	return best
}

func (c *cluster) describe(n vmproto.NodeSpec) (vmproto.Node, error) {
	rec := vmproto.Node{Scenario: c.sc.Name, Name: n.Name, Addr: n.Addr}
	var err error
	if rec.Tunl0, err = linkInfo(n.Name, conventions.IPIPDevice); err != nil {
		return rec, err
	}
	if rec.Routes, err = routes(n.Name); err != nil {
		return rec, err
	}
	if b, err := os.ReadFile(filepath.Join(c.stateDir(n.Name), conventions.MTUFile)); err == nil {
		rec.MTUFile = strings.TrimSpace(string(b))
	}
	get := exec.Command("/bin/tortiectl", "get", "node", n.Name, "-o", "json")
	get.Env = append(os.Environ(), "ETCD_ENDPOINTS="+c.endpoint())
	out, err := get.Output()
	if err != nil {
		return rec, fmt.Errorf("tortiectl get node: %w", err)
	}
	var node struct {
		Spec struct {
			BGP struct {
				Tunnel string `json:"ipv4IPIPTunnelAddr"`
			} `json:"bgp"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(out, &node); err != nil {
		return rec, fmt.Errorf("tortiectl get node: %w", err)
	}
	rec.TunnelAddr = node.Spec.BGP.Tunnel
	nft := exec.Command("nft", "list", "table", "ip", "tortie")
	_ = ns.Do(n.Name, func() error {
		b, err := nft.CombinedOutput()
		rec.NFT = string(b)
		if err != nil {
			rec.NFT += err.Error()
		}
		return nil
	})
	return rec, nil
}

// ping pings from the pod on p.From while capturing on the underlay of
// the nodes involved.
func (c *cluster) ping(p vmproto.PingSpec) (vmproto.Ping, error) {
	rec := vmproto.Ping{Scenario: c.sc.Name, From: p.From, To: p.To, FromIP: c.pods[p.From].String(), ToIP: p.ToIP,
		Captures: map[string][]vmproto.Flow{}}
	watch := []string{p.From}
	if p.ToIP == "" {
		rec.ToIP = c.pods[p.To].String()
		watch = append(watch, p.To)
	}
	var caps []*capture
	for _, node := range watch {
		cp, err := startCapture(node, "eth0")
		if err != nil {
			return rec, err
		}
		caps = append(caps, cp)
	}
	cmd := exec.Command("ping", "-c", "3", "-i", "0.2", "-w", "10", rec.ToIP)
	_ = ns.Do("pod-"+p.From, func() error {
		b, err := cmd.CombinedOutput()
		rec.OK = err == nil
		rec.Output = strings.TrimSpace(string(b))
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	for i, cp := range caps {
		rec.Captures[watch[i]] = cp.stop()
	}
	return rec, nil
}

// teardown stops the processes and removes the namespaces.
func (c *cluster) teardown() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	for _, n := range c.nss {
		_ = ns.Delete(n)
	}
}

// dumpLogs prints the tail of every log of the scenario.
func (c *cluster) dumpLogs() {
	files, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		for _, l := range lines {
			fmt.Printf("%s%s: %s\n", vmproto.LogPrefix, filepath.Base(f), l)
		}
	}
}

// poll calls f every 100 ms until it is done, fails or time runs out.
func poll(limit time.Duration, what string, f func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := f()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: not after %v", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
