package nft

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// policyFixture: two workloads on this node, each with a profile that
// allows everything, and a policy on pod2 that lets pod1 reach TCP 8080
// only.
func policyFixture(t *testing.T) *policy.Program {
	t.Helper()
	var in policy.Input
	docs := []struct {
		into any
		doc  string
	}{
		{new(v3.Profile), `{metadata: {name: open}, spec: {ingress: [{action: Allow}], egress: [{action: Allow}]}}`},
		{new(v3.WorkloadEndpoint), `{metadata: {name: pod1, namespace: ns, labels: {app: one}}, spec: {node: n1, interfaceName: cali1, ipNetworks: [10.0.1.1/32], profiles: [open]}}`},
		{new(v3.WorkloadEndpoint), `{metadata: {name: pod2, namespace: ns, labels: {app: two}}, spec: {node: n1, interfaceName: cali2, ipNetworks: [10.0.2.1/32], profiles: [open], ports: [{name: web, protocol: TCP, port: 8080}]}}`},
		{new(v3.NetworkPolicy), `{metadata: {name: two-in, namespace: ns}, spec: {selector: app == 'two', ingress: [{action: Allow, protocol: TCP, source: {selector: app == 'one'}, destination: {ports: [web]}}]}}`},
	}
	for _, d := range docs {
		if err := yaml.UnmarshalStrict([]byte(d.doc), d.into); err != nil {
			t.Fatal(err)
		}
		v3.Default(d.into.(v3.Resource))
		switch o := d.into.(type) {
		case *v3.Profile:
			in.Profiles = append(in.Profiles, o)
		case *v3.WorkloadEndpoint:
			in.WorkloadEndpoints = append(in.WorkloadEndpoints, o)
		case *v3.NetworkPolicy:
			in.NetworkPolicies = append(in.NetworkPolicies, o)
		}
	}
	m := policy.Build(in)
	if len(m.Problems) > 0 {
		t.Fatal(m.Problems)
	}
	p := policy.Compile(m, "n1")
	return &p
}

// pod makes a pod namespace behind interface iface of node, with address
// addr/24 and the node's side at gw.
func pod(t *testing.T, node *nstest.NS, iface, addr, gw string) *nstest.NS {
	t.Helper()
	p := nstest.New(t, "tpp")
	if err := node.AddVeth(iface, "eth0-"+iface, gw+"/24"); err != nil {
		t.Fatal(err)
	}
	node.MustRun(t, "ip", "link", "set", "eth0-"+iface, "netns", p.Name)
	p.MustRun(t, "ip", "link", "set", "eth0-"+iface, "name", "eth0")
	p.MustRun(t, "ip", "addr", "add", addr+"/24", "dev", "eth0")
	p.MustRun(t, "ip", "link", "set", "eth0", "up")
	p.MustRun(t, "ip", "route", "add", "default", "via", gw)
	return p
}

func listen(t *testing.T, p *nstest.NS, addr string) {
	t.Helper()
	var ln net.Listener
	if err := p.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func connects(p *nstest.NS, addr string) bool {
	return p.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, 700*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	}) == nil
}

func TestPolicyInTheKernel(t *testing.T) {
	node := nstest.New(t, "tpn")
	pod1 := pod(t, node, "cali1", "10.0.1.1", "10.0.1.254")
	pod2 := pod(t, node, "cali2", "10.0.2.1", "10.0.2.254")
	node.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	listen(t, pod2, "10.0.2.1:8080")
	listen(t, pod2, "10.0.2.1:9090")
	listen(t, pod1, "10.0.1.1:8080")
	listen(t, node, "10.0.1.254:7171")

	prog := policyFixture(t)
	var nft *counting
	apply := func(fresh bool) (Result, error) {
		var res Result
		err := node.Do(func() error {
			real, err := NewNFTables()
			if err != nil {
				return err
			}
			if fresh || nft == nil {
				nft = &counting{Interface: real}
			}
			res, err = New(Config{NFT: nft}).Apply(context.Background(), Wanted{NAT: natWant(), Policy: prog})
			return err
		})
		return res, err
	}
	if res, err := apply(true); err != nil || !res.Rebuilt {
		t.Fatalf("first apply: %+v %v", res, err)
	}
	if !connects(pod1, "10.0.2.1:8080") {
		t.Error("pod1 → pod2:8080 (allowed by the named port) did not connect")
	}
	if connects(pod1, "10.0.2.1:9090") {
		t.Error("pod1 → pod2:9090 connected: pod2's policy allows only its port named web")
	}
	if !connects(pod2, "10.0.1.1:8080") {
		t.Error("pod2 → pod1:8080 (pod1 has no policy: its profile allows) did not connect")
	}
	if _, err := pod1.Run("ping", "-c1", "-W1", "10.0.2.1"); err == nil {
		t.Error("ping pod1 → pod2 got through: ICMP is not allowed")
	}
	// A workload reaches its own host only if defaultEndpointToHostAction
	// says so: Drop by default.
	if connects(pod1, "10.0.1.254:7171") {
		t.Error("pod1 reached its host: defaultEndpointToHostAction is Drop")
	}

	// A restart reads the table back and writes nothing.
	if res, err := apply(true); err != nil || res.Rebuilt || nft.runs != 0 {
		t.Errorf("restart: %+v %v, %d runs:\n%s", res, err, nft.runs, node.MustRun(t, "nft", "list", "table", "ip", "tortie"))
	}

	// An established connection (pod2 → pod1, which pod1's profile allows)
	// lives through the change below, which does not concern it.
	echo(t, pod1, "10.0.1.1:7070")
	var held net.Conn
	if err := pod2.Do(func() (err error) { held, err = net.DialTimeout("tcp", "10.0.1.1:7070", time.Second); return err }); err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	// A policy change through the same Owner writes the difference only;
	// the table it leaves is the one a rebuild makes (a restart then
	// writes nothing).
	owner := New(Config{NFT: nft})
	if err := node.Do(func() error {
		_, err := owner.Apply(context.Background(), Wanted{NAT: natWant(), Policy: prog})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for id, rl := range prog.Rules {
		if len(rl.Rules) == 1 && rl.Rules[0].Dst.Ports != nil {
			rl.Rules[0].Dst.Ports = []policy.PortMatch{{Min: 9090, Max: 9090}}
			rl.Digest += "-9090" // new content, new digest, as Compile gives it
			prog.Rules[id] = rl
		}
	}
	var upd Result
	if err := node.Do(func() (err error) {
		upd, err = owner.Apply(context.Background(), Wanted{NAT: natWant(), Policy: prog})
		return err
	}); err != nil || !upd.Rebuilt || upd.ElementsOnly {
		t.Fatalf("policy change: %+v %v", upd, err)
	}
	if connects(pod1, "10.0.2.1:8080") || !connects(pod1, "10.0.2.1:9090") {
		t.Error("after the change pod2 should take 9090 and refuse 8080")
	}
	if res, err := apply(true); err != nil || res.Rebuilt || nft.runs != 0 {
		t.Errorf("restart after an update: %+v %v, %d runs", res, err, nft.runs)
	}
	if err := roundTrip(held); err != nil {
		t.Errorf("the established connection did not survive an unrelated policy change: %v", err)
	}

	// A workload interface the policy does not know yet drops everything.
	prog.Endpoints = prog.Endpoints[:1] // forget cali2
	if _, err := apply(true); err != nil {
		t.Fatal(err)
	}
	if connects(pod1, "10.0.2.1:8080") {
		t.Error("traffic to an interface without programmed policy got through")
	}
	if out := node.MustRun(t, "nft", "list", "chain", "ip", "tortie", PolicyChain); !strings.Contains(out, "ct state established,related accept") {
		t.Errorf("forward chain:\n%s", out)
	}
}

// A host endpoint on the node's interface: traffic to the host through it
// passes the endpoint's policy and is dropped when nothing allows it, but
// the failsafe ports (SSH here) always get through.
func TestHostEndpointInTheKernel(t *testing.T) {
	node := nstest.New(t, "tph")
	ext := pod(t, node, "eth1", "10.9.0.2", "10.9.0.1")
	for _, port := range []string{"8080", "9090", "22"} {
		listen(t, node, "10.9.0.1:"+port)
	}
	var in policy.Input
	hep := &v3.HostEndpoint{}
	gnp := &v3.GlobalNetworkPolicy{}
	for _, d := range []struct {
		into any
		doc  string
	}{
		{hep, `{metadata: {name: n1-eth1, labels: {role: gw}}, spec: {node: n1, interfaceName: eth1, expectedIPs: [10.9.0.1]}}`},
		{gnp, `{metadata: {name: gw-in}, spec: {selector: role == 'gw', ingress: [{action: Allow, protocol: TCP, destination: {ports: [8080]}}]}}`},
	} {
		if err := yaml.UnmarshalStrict([]byte(d.doc), d.into); err != nil {
			t.Fatal(err)
		}
		v3.Default(d.into.(v3.Resource))
	}
	in.HostEndpoints, in.GlobalNetworkPolicies = []*v3.HostEndpoint{hep}, []*v3.GlobalNetworkPolicy{gnp}
	prog := policy.Compile(policy.Build(in), "n1")
	applyOnce(t, node, &prog)
	if !connects(ext, "10.9.0.1:8080") {
		t.Error("8080 is allowed by the host endpoint's policy but did not connect")
	}
	if connects(ext, "10.9.0.1:9090") {
		t.Error("9090 connected: nothing allows it")
	}
	if !connects(ext, "10.9.0.1:22") {
		t.Error("SSH (a failsafe port) did not connect")
	}
}

// echo serves an echo on addr inside p until the test ends.
func echo(t *testing.T, p *nstest.NS, addr string) {
	t.Helper()
	var ln net.Listener
	if err := p.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
}

// roundTrip sends a line on c and reads it back.
func roundTrip(c net.Conn) error {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	_, err := io.ReadFull(c, buf)
	return err
}

// applyOnce writes prog's table, with the NAT of natWant, into node's
// kernel through a fresh Owner.
func applyOnce(t *testing.T, node *nstest.NS, prog *policy.Program) {
	t.Helper()
	if err := node.Do(func() error {
		real, err := NewNFTables()
		if err != nil {
			return err
		}
		_, err = New(Config{NFT: real}).Apply(context.Background(), Wanted{NAT: natWant(), Policy: prog})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
