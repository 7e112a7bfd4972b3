package ctl

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/ipam"
)

func TestIPAMShow(t *testing.T) {
	s := newSession(t)
	var b strings.Builder
	pool := "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: ca-pool-1}\nspec: {cidr: 10.244.0.0/16, natOutgoing: true}\n"
	b.WriteString(s.run(pool, "apply", "-f", "-"))
	b.WriteString(s.run("", "ipam", "show"))
	b.WriteString(s.run("", "ipam", "show", "--show-blocks"))
	b.WriteString(s.run("", "ipam", "show", "--show-configuration"))

	ctx := context.Background()
	m := ipam.New(client.New(nopClose{s.store}), ipam.WithClock(func() time.Time { return time.Date(2026, 11, 22, 12, 4, 6, 124203708, time.UTC) }))
	for i := range 70 {
		host := "ca-node1"
		if i >= 66 {
			host = "ca-node2"
		}
		if _, _, err := m.AutoAssign(ctx, ipam.AutoAssignArgs{Num4: 1, HandleID: fmt.Sprintf("ca-net.c%d", i), Hostname: host, Attrs: map[string]string{ipam.AttrNode: host}}); err != nil {
			t.Fatal(err)
		}
	}
	b.WriteString(s.run("", "ipam", "show", "--show-blocks"))
	blocks, _ := m.ListBlocks(ctx)
	b.WriteString(s.run("", "ipam", "show", "--ip="+blocks[0].Addr(0).String()))
	b.WriteString(s.run("", "ipam", "show", "--ip=10.99.0.1"))
	b.WriteString(s.run("", "ipam", "show", "--show-borrowed"))
	b.WriteString(s.run("", "ipam", "configure", "--strictaffinity=true", "--maxblocksperhost=3"))
	b.WriteString(s.run("", "ipam", "configure", "--strictaffinity=maybe"))
	golden(t, "ipam-show", b.String())
}

func TestIPAMCheckAndRelease(t *testing.T) {
	s := newSession(t)
	s.run("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.250.0.0/24, blockSize: 29}\n---\n"+
		"apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n1}\n", "apply", "-f", "-")
	ctx := context.Background()
	m := ipam.New(client.New(nopClose{s.store}))
	var ips []string
	for i := range 3 {
		v4, _, err := m.AutoAssign(ctx, ipam.AutoAssignArgs{Num4: 1, HandleID: fmt.Sprintf("net.c%d", i), Hostname: "n1", Attrs: map[string]string{ipam.AttrNode: "n1"}})
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, v4[0].Addr().String())
	}
	// c0 has an endpoint; c1 and c2 leaked.
	s.run(fmt.Sprintf("apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata: {name: n1-cni-c0-eth0, namespace: default}\n"+
		"spec: {orchestrator: cni, node: n1, containerID: c0, endpoint: eth0, interfaceName: cali0, ipNetworks: [%s/32]}\n", ips[0]), "apply", "-f", "-")
	report := filepath.Join(t.TempDir(), "report.json")
	var b strings.Builder
	b.WriteString(s.run("", "ipam", "check", "-o", report))
	b.WriteString(s.run("", "ipam", "release", "--ip="+ips[2]))
	b.WriteString(s.run("", "ipam", "release", "--ip="+ips[2]))
	b.WriteString(s.run("", "ipam", "release", "--from-report="+report))
	b.WriteString(s.run("", "ipam", "check"))
	golden(t, "ipam-check", strings.ReplaceAll(b.String(), report, "REPORT"))
	if _, err := os.Stat(report); err != nil {
		t.Error(err)
	}
	if _, ok, _ := m.GetAllocation(ctx, netip.MustParseAddr(ips[0])); !ok {
		t.Error("the address of the live endpoint was released")
	}
}

// TestIPAMCheckTunnelsAndSafeRelease: a node's tunnel address without an
// allocation is reported; a release that would free addresses on a node
// without endpoints, or of containers the runtime still knows, is refused
// unless forced.
func TestIPAMCheckTunnelsAndSafeRelease(t *testing.T) {
	s := newSession(t)
	s.run("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.250.0.0/24, blockSize: 29}\n---\n"+
		"apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n1}\nspec: {bgp: {ipv4Address: 10.0.0.1/24, ipv4IPIPTunnelAddr: 10.250.0.100}}\n---\n"+
		"apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n2}\n", "apply", "-f", "-")
	ctx := context.Background()
	m := ipam.New(client.New(nopClose{s.store}))
	ips := map[string]string{}
	for _, c := range []struct{ id, node string }{{"c0", "n1"}, {"c1", "n1"}, {"c5", "n2"}, {"c6", "n2"}} {
		v4, _, err := m.AutoAssign(ctx, ipam.AutoAssignArgs{Num4: 1, HandleID: "net." + c.id, Hostname: c.node, Attrs: map[string]string{ipam.AttrNode: c.node}})
		if err != nil {
			t.Fatal(err)
		}
		ips[c.id] = v4[0].Addr().String()
	}
	wep := func(node, id string) string {
		return fmt.Sprintf("apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata: {name: %s-cni-%s-eth0, namespace: default}\n"+
			"spec: {orchestrator: cni, node: %s, containerID: %s, endpoint: eth0, interfaceName: cali%s, ipNetworks: [%s/32]}\n", node, id, node, id, id, ips[id])
	}
	s.run(wep("n1", "c0"), "apply", "-f", "-")
	dir := t.TempDir()
	report, cache := filepath.Join(dir, "r1.json"), filepath.Join(dir, "cni")
	if err := os.MkdirAll(filepath.Join(cache, "results"), 0o755); err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(cache, "results", "net-c1-eth0")
	if err := os.WriteFile(cached, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(s.run("", "ipam", "check", "-o", report))
	b.WriteString(s.run("", "ipam", "release", "--from-report="+report, "--cni-cache-dir="+cache))
	s.run(wep("n2", "c5"), "apply", "-f", "-")
	b.WriteString(s.run("", "ipam", "check", "-o", report))
	b.WriteString(s.run("", "ipam", "release", "--from-report="+report, "--cni-cache-dir="+cache))
	if err := os.Remove(cached); err != nil {
		t.Fatal(err)
	}
	b.WriteString(s.run("", "ipam", "release", "--from-report="+report, "--cni-cache-dir="+cache))
	golden(t, "ipam-check-safety", strings.NewReplacer(report, "REPORT", cache, "CNICACHE").Replace(b.String()))
	for _, id := range []string{"c0", "c5"} {
		if _, ok, _ := m.GetAllocation(ctx, netip.MustParseAddr(ips[id])); !ok {
			t.Errorf("the address of live endpoint %s was released", id)
		}
	}
}
