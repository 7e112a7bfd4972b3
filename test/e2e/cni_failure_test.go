package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/tortienet/tortie/internal/cni/cnitest"
)

// nothingLeft checks that a failed ADD for pod left no trace: no veth in
// the pod, no cali interface on the node besides keepLinks, no address
// held, plugin route or endpoint beyond wantAllocs and wantWEPs.
func (e *cniEnv) nothingLeft(net string, pod *cnitest.NetNS, keepLinks []string, wantAllocs, wantWEPs int) {
	e.t.Helper()
	if l := link(e.t, pod, "eth0"); l != nil && l.LinkInfo.Kind == "veth" {
		e.t.Errorf("the pod has a veth eth0 after the failed ADD")
	}
	if got := e.caliLinks(); !equalSorted(got, keepLinks) {
		e.t.Errorf("node cali interfaces %v, want %v", got, keepLinks)
	}
	if got := e.allocations(net); len(got) != wantAllocs {
		e.t.Errorf("addresses held %v, want %d", got, wantAllocs)
	}
	if got := e.weps(); len(got) != wantWEPs {
		e.t.Errorf("endpoints %v, want %d", got, wantWEPs)
	}
	var plugin []string
	for _, r := range routes(e.t, e.node, "-4") {
		if strings.Contains(r, " proto 81") {
			plugin = append(plugin, r)
		}
	}
	if len(plugin) != wantAllocs {
		e.t.Errorf("node routes of the plugin %v, want %d", plugin, wantAllocs)
	}
}

// TestCniDatastoreStopped: ADD with the datastore down fails with a
// message naming the endpoints, and releases the address it got.
func TestCniDatastoreStopped(t *testing.T) {
	e := newCNIEnv(t)
	net := e.network("tcni-net", "1.1.0", e.tortieConf())
	pod := e.pod("a")
	e.Etcd.Close()
	c := e.rt.Cnitool("add", net, pod.Path())
	if c.Err == nil || !strings.Contains(c.Err.Error(), "datastore unreachable: cannot reach etcd at [http://"+cniEtcdInNode+"]") {
		t.Fatalf("ADD with the datastore stopped: %v", c.Err)
	}
	_, te := e.plugin("ADD", e.tortieConf(), "1.1.0", net, pod)
	if te == nil || te.Code != types.ErrTryAgainLater {
		t.Errorf("error JSON %+v, want code %d", te, types.ErrTryAgainLater)
	}
	_, te = e.plugin("STATUS", e.tortieConf(), "1.1.0", net, nil)
	if te == nil || te.Code != types.ErrPluginNotAvailable || !strings.Contains(te.Msg, cniEtcdInNode) {
		t.Errorf("STATUS error %+v, want code %d naming the endpoint", te, types.ErrPluginNotAvailable)
	}
	e.startEtcd()
	e.nothingLeft(net, pod, nil, 0, 0)
	e.add(net, pod) // and it works once the datastore is back
	e.del(net, pod)
}

// TestCniPoolExhausted: the IPAM plugin's error reaches the user; the
// pod that did not get an address leaves nothing behind, the other is
// untouched.
func TestCniPoolExhausted(t *testing.T) {
	e := newCNIEnv(t)
	net := e.network("tcni-net", "1.1.0", e.tortieConf(map[string]any{"subnet": "10.244.9.0/24", "rangeStart": "10.244.9.5", "rangeEnd": "10.244.9.5"}))
	a, b := e.pod("a"), e.pod("b")
	e.add(net, a)
	c := e.rt.Cnitool("add", net, b.Path())
	if c.Err == nil || !strings.Contains(c.Err.Error(), "IPAM plugin host-local failed to assign an address") || !strings.Contains(c.Err.Error(), "no IP addresses available") {
		t.Fatalf("ADD with the pool exhausted: %v", c.Err)
	}
	e.nothingLeft(net, b, []string{workload(net, a).HostIfName()}, 1, 1)
	e.del(net, a)
}

// TestCniInterfaceNameTaken: an interface of someone else's under the
// pod's interface name, or under the host name the plugin would use, is
// an error and is left alone.
func TestCniInterfaceNameTaken(t *testing.T) {
	e := newCNIEnv(t)
	net := e.network("tcni-net", "1.1.0", e.tortieConf())

	pod := e.pod("a")
	pod.MustIP(t, "link", "add", "eth0", "type", "bridge")
	c := e.rt.Cnitool("add", net, pod.Path())
	if c.Err == nil || !strings.Contains(c.Err.Error(), "interface name eth0 is already taken in the container's network namespace") {
		t.Fatalf("ADD into a pod with an eth0: %v", c.Err)
	}
	if l := link(t, pod, "eth0"); l == nil || l.LinkInfo.Kind != "bridge" {
		t.Errorf("the pod's own eth0 was changed: %+v", l)
	}
	e.nothingLeft(net, pod, nil, 0, 0)

	other := e.pod("b")
	host := workload(net, other).HostIfName()
	e.node.MustIP(t, "link", "add", host, "type", "bridge")
	c = e.rt.Cnitool("add", net, other.Path())
	if c.Err == nil || !strings.Contains(c.Err.Error(), "host interface name "+host+" is already taken by a bridge") {
		t.Fatalf("ADD with the host name taken: %v", c.Err)
	}
	e.nothingLeft(net, other, []string{host}, 0, 0)
	if l := link(t, e.node, host); l == nil || l.LinkInfo.Kind != "bridge" {
		t.Errorf("the node's %s was changed: %+v", host, l)
	}
}

// TestCniNodeAgentNotStarted: without the nodename file ADD and STATUS
// say that the node agent has not started, naming the file; nothing is
// allocated.
func TestCniNodeAgentNotStarted(t *testing.T) {
	e := newCNIEnv(t)
	conf := e.tortieConf()
	conf["state_dir"] = t.TempDir()
	net := e.network("tcni-net", "1.1.0", conf)
	pod := e.pod("a")
	c := e.rt.Cnitool("add", net, pod.Path())
	want := conf["state_dir"].(string) + "/nodename"
	if c.Err == nil || !strings.Contains(c.Err.Error(), "node agent not ready") || !strings.Contains(c.Err.Error(), want) {
		t.Fatalf("ADD without a node agent: %v", c.Err)
	}
	_, te := e.plugin("STATUS", conf, "1.1.0", net, nil)
	if te == nil || te.Code != types.ErrPluginNotAvailable || !strings.Contains(te.Msg, want) {
		t.Errorf("STATUS error %+v", te)
	}
	e.nothingLeft(net, pod, nil, 0, 0)
}

// TestCniStatusAndGC: STATUS through cnitool; GC with the runtime's list
// of valid attachments removes the endpoint and veth of the others.
func TestCniStatusAndGC(t *testing.T) {
	e := newCNIEnv(t)
	net := e.network("tcni-net", "1.1.0", e.tortieConf())
	if c := e.rt.Cnitool("status", net, "/dev/null"); c.Err != nil {
		t.Fatalf("STATUS: %v", c.Err)
	}
	keep, stale := e.pod("keep"), e.pod("stale")
	e.add(net, keep)
	e.add(net, stale)
	conf := e.tortieConf()
	conf["cni.dev/valid-attachments"] = []map[string]string{{"containerID": containerID(keep), "ifname": "eth0"}}
	if _, te := e.plugin("GC", conf, "1.1.0", net, nil); te != nil {
		t.Fatalf("GC: %+v", te)
	}
	if got, want := e.caliLinks(), []string{workload(net, keep).HostIfName()}; !slices.Equal(got, want) {
		t.Errorf("after GC: cali links %v, want %v", got, want)
	}
	if e.wep(net, stale) != nil || e.wep(net, keep) == nil {
		t.Errorf("after GC: endpoints %v", e.weps())
	}
	e.del(net, keep)
	e.del(net, stale)
}
