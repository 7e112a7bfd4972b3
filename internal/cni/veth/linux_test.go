package veth_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/cni/cnitest"
	"github.com/tortienet/tortie/internal/cni/veth"
)

// Kernel tests: each runs in namespaces it makes (tcniv-*), never in the
// host's.

func newSpec(pod *cnitest.NetNS, host, addr string) *veth.Spec {
	return &veth.Spec{NetNS: pod.Path(), IfName: "eth0", HostIfName: host, MTU: 1400, Addrs: []netip.Prefix{netip.MustParsePrefix(addr)}}
}

func TestSetupVerifyRemove(t *testing.T) {
	cnitest.RequireRoot(t)
	id := cnitest.RunID()
	node, pod := cnitest.NewNetNS(t, "tcniv-"+id+"-node"), cnitest.NewNetNS(t, "tcniv-"+id+"-pod")
	s := newSpec(pod, "calitest0000001", "10.1.0.5/32")
	var l veth.Linux
	err := node.Do(func() error {
		if err := l.Setup(s); err != nil {
			return err
		}
		if s.ContainerMAC == nil {
			t.Error("Setup did not report the pod MAC the kernel chose")
		}
		if err := l.Verify(s); err != nil {
			t.Errorf("Verify after Setup: %v", err)
		}
		st, err := l.Probe(s)
		if err != nil || !st.Paired() || st.Container.Addrs[0] != s.Addrs[0] {
			t.Errorf("Probe = %+v, %v", st, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Damage is reported, each problem by name.
	pod.MustIP(t, "neigh", "del", "169.254.1.1", "dev", "eth0")
	node.MustIP(t, "link", "set", s.HostIfName, "mtu", "1300")
	err = node.Do(func() error { return l.Verify(s) })
	for _, want := range []string{"no neighbour entry 169.254.1.1 on eth0", "calitest0000001 MTU: want 1400, have 1300"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Verify of a damaged attachment: %v, want %q", err, want)
		}
	}
	err = node.Do(func() error {
		removed, err := l.RemoveContainer(s.NetNS, s.IfName)
		if err != nil || !removed {
			t.Errorf("RemoveContainer = %v, %v", removed, err)
		}
		removed, err = l.RemoveContainer(s.NetNS, s.IfName)
		if err != nil || removed {
			t.Errorf("second RemoveContainer = %v, %v", removed, err)
		}
		_, err = l.RemoveContainer("/var/run/netns/tcniv-"+id+"-gone", "eth0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := node.MustIP(t, "link", "show"); strings.Contains(out, s.HostIfName) {
		t.Errorf("host side left:\n%s", out)
	}
}

// A pod address the node already routes to another interface is an
// error, and the failed Setup removes its own veth.
func TestSetupAddressInUse(t *testing.T) {
	cnitest.RequireRoot(t)
	id := cnitest.RunID()
	node := cnitest.NewNetNS(t, "tcniv-"+id+"-node")
	a, b := cnitest.NewNetNS(t, "tcniv-"+id+"-a"), cnitest.NewNetNS(t, "tcniv-"+id+"-b")
	var l veth.Linux
	err := node.Do(func() error {
		if err := l.Setup(newSpec(a, "calitesta", "10.1.0.5/32")); err != nil {
			return err
		}
		err := l.Setup(newSpec(b, "calitestb", "10.1.0.5/32"))
		if err == nil || !strings.Contains(err.Error(), "already routes this address to calitesta") {
			t.Errorf("second Setup with the same address: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := node.MustIP(t, "link", "show"); strings.Contains(out, "calitestb") {
		t.Errorf("the failed Setup left its veth:\n%s", out)
	}
	if out := b.MustIP(t, "link", "show"); strings.Contains(out, "eth0") {
		t.Errorf("the failed Setup left the pod side:\n%s", out)
	}
}

func TestRemoveHostRefusesForeignInterfaces(t *testing.T) {
	cnitest.RequireRoot(t)
	node := cnitest.NewNetNS(t, "tcniv-"+cnitest.RunID()+"-node")
	node.MustIP(t, "link", "add", "calibridge", "type", "bridge")
	err := node.Do(func() error { return veth.Linux{}.RemoveHost("calibridge") })
	if err == nil || !strings.Contains(err.Error(), "not removing calibridge: it is a bridge") {
		t.Errorf("RemoveHost of a bridge: %v", err)
	}
	if err := node.Do(func() error { return veth.Linux{}.RemoveHost("calinothere") }); err != nil {
		t.Errorf("RemoveHost of nothing: %v", err)
	}
}
