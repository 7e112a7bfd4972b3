package e2e

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// tortieIPAMConf is the tortie plugin with tortie-ipam, restricted to the
// named pools.
func (e *cniEnv) tortieIPAMConf(pools ...string) map[string]any {
	conf := e.tortieConf()
	conf["ipam"] = map[string]any{"type": "tortie-ipam", "ipv4_pools": pools}
	return conf
}

func (e *cniEnv) pool(name, cidr string, blockSize int) {
	e.t.Helper()
	p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: name}}
	p.Spec.CIDR, p.Spec.BlockSize = cidr, blockSize
	if _, err := e.cl.Create(context.Background(), p); err != nil {
		e.t.Fatal(err)
	}
}

// handleExists reports whether tortie-ipam holds addresses under the
// handle of a cnitool pod ("<network>.<container ID>", as Calico's).
func (e *cniEnv) handleExists(network, cid string) bool {
	e.t.Helper()
	_, err := e.cl.Store().Get(context.Background(), "/calico/ipam/v2/handle/"+network+"."+cid)
	if errors.Is(err, datastore.ErrNotFound) {
		return false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return true
}

// TestCniWithTortieIPAM: the plugin with its own IPAM plugin (delegated
// through CNI exec like host-local) gives pods pool addresses, the pods
// reach each other, DEL releases by handle, and an exhausted pool leaves
// nothing behind.
func TestCniWithTortieIPAM(t *testing.T) {
	e := newCNIEnv(t)
	e.pool("tcni-pool", "10.245.0.0/16", 28)
	e.pool("tcni-tiny", "10.246.9.0/31", 31)
	net := e.network("tcni-net", "1.1.0", e.tortieIPAMConf("tcni-pool"))
	pool := netip.MustParsePrefix("10.245.0.0/16")

	a, b := e.pod("a"), e.pod("b")
	resA, resB := e.add(net, a), e.add(net, b)
	ipA, ipB := strings.Split(resA.IPs[0].Address, "/")[0], strings.Split(resB.IPs[0].Address, "/")[0]
	for _, ip := range []string{ipA, ipB} {
		if !pool.Contains(netip.MustParseAddr(ip)) {
			t.Errorf("address %s is not from the pool %s", ip, pool)
		}
	}
	if !strings.HasSuffix(resA.IPs[0].Address, "/32") {
		t.Errorf("address %s: want a /32 (tortie-ipam returns the block's prefix)", resA.IPs[0].Address)
	}
	if w := e.wep(net, a); w == nil || w.Spec.IPNetworks[0] != ipA+"/32" {
		t.Errorf("endpoint %+v", w)
	}
	if out, err := a.Exec("ping", "-c", "1", "-W", "2", ipB); err != nil {
		t.Errorf("ping: %v\n%s", err, out)
	}
	if c := e.rt.Cnitool("check", net, a.Path()); c.Err != nil {
		t.Errorf("CHECK: %v", c.Err)
	}
	again := e.add(net, a)
	if again.IPs[0].Address != resA.IPs[0].Address {
		t.Errorf("repeated ADD gave %s, first %s", again.IPs[0].Address, resA.IPs[0].Address)
	}
	e.del(net, a)
	if e.handleExists(net, containerID(a)) || !e.handleExists(net, containerID(b)) {
		t.Errorf("after DEL of a: handle of a exists %v, of b %v", e.handleExists(net, containerID(a)), e.handleExists(net, containerID(b)))
	}
	e.del(net, b)

	tiny := e.network("tcni-tiny", "1.1.0", e.tortieIPAMConf("tcni-tiny"))
	p1, p2, p3 := e.pod("t1"), e.pod("t2"), e.pod("t3")
	e.add(tiny, p1)
	e.add(tiny, p2)
	c := e.rt.Cnitool("add", tiny, p3.Path())
	if c.Err == nil || !strings.Contains(c.Err.Error(), "IPAM plugin tortie-ipam failed to assign an address") {
		t.Fatalf("ADD with the pool exhausted: %v", c.Err)
	}
	if e.handleExists(tiny, containerID(p3)) || link(t, p3, "eth0") != nil || e.wep(tiny, p3) != nil {
		t.Error("the failed ADD left something behind")
	}
	if got := e.caliLinks(); len(got) != 2 {
		t.Errorf("cali links %v, want the two pods'", got)
	}
	e.del(tiny, p1)
	e.del(tiny, p2)
}
