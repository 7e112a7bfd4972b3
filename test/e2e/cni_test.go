package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/cni"
	"github.com/tortienet/tortie/internal/cni/cnitest"
)

// TestCniAddCheckDel drives ADD, CHECK and DEL through cnitool and checks
// every interface, address, route, neighbour entry and sysctl on both
// sides, and the WorkloadEndpoint and Profile in the datastore.
func TestCniAddCheckDel(t *testing.T) {
	e := newCNIEnv(t)
	e.writeState("mtu", "1420\n") // mtu 0 in the conflist: the node agent's MTU file
	net := e.network("tcni-net", "1.1.0", e.tortieConf())
	pod := e.pod("a")
	w := workload(net, pod)
	host := w.HostIfName()

	res := e.add(net, pod)
	if res.CNIVersion != "1.1.0" || len(res.Interfaces) != 2 || len(res.IPs) != 1 || *res.IPs[0].Interface != 1 {
		t.Fatalf("result %+v", res)
	}
	podIP, _, _ := strings.Cut(res.IPs[0].Address, "/")
	if res.IPs[0].Address != podIP+"/32" || !strings.HasPrefix(podIP, "10.244.7.") {
		t.Fatalf("pod address %s, want a /32 from %s", res.IPs[0].Address, cniDefaultRange)
	}
	if res.Interfaces[0].Name != host || res.Interfaces[0].Mac != "ee:ee:ee:ee:ee:ee" ||
		res.Interfaces[1].Name != "eth0" || res.Interfaces[1].Sandbox != pod.Path() || res.Interfaces[1].Mtu != 1420 {
		t.Errorf("result interfaces %+v", res.Interfaces)
	}
	podMAC := res.Interfaces[1].Mac

	// Host side.
	hl := link(t, e.node, host)
	if hl == nil {
		t.Fatalf("no %s in the node namespace", host)
	}
	if hl.LinkInfo.Kind != "veth" || hl.Address != "ee:ee:ee:ee:ee:ee" || hl.MTU != 1420 || !hl.up() || len(hl.globalAddrs()) != 0 {
		t.Errorf("host link %+v", hl)
	}
	if got, want := routes(t, e.node, "-4"), []string{podIP + " dev " + host + " proto 81 scope link"}; !slices.Equal(got, want) {
		t.Errorf("node routes %q, want %q", got, want)
	}
	if got, want := neighbours(t, e.node, "-4"), []string{podIP + " lladdr " + podMAC + " dev " + host + " PERMANENT"}; !slices.Equal(got, want) {
		t.Errorf("node neighbours %q, want %q", got, want)
	}
	checkSysctls(t, e.node, map[string]string{
		"net/ipv4/conf/" + host + "/proxy_arp":      "1",
		"net/ipv4/conf/" + host + "/forwarding":     "1",
		"net/ipv4/conf/" + host + "/route_localnet": "1",
		"net/ipv4/neigh/" + host + "/proxy_delay":   "0",
		"net/ipv6/conf/" + host + "/accept_ra":      "0",
		"net/ipv4/ip_forward":                       "0", // the plugin leaves the global switch alone
	})

	// Pod side.
	pl := link(t, pod, "eth0")
	if pl == nil {
		t.Fatal("no eth0 in the pod")
	}
	if pl.LinkInfo.Kind != "veth" || pl.Address != podMAC || pl.MTU != 1420 || !pl.up() || pl.LinkIndex != hl.Index {
		t.Errorf("pod link %+v (host index %d)", pl, hl.Index)
	}
	if got := pl.globalAddrs(); !slices.Equal(got, []string{podIP + "/32"}) {
		t.Errorf("pod addresses %v", got)
	}
	if got, want := routes(t, pod, "-4"), []string{"169.254.1.1 dev eth0 scope link", "default via 169.254.1.1 dev eth0"}; !slices.Equal(got, want) {
		t.Errorf("pod routes %q, want %q", got, want)
	}
	if got, want := neighbours(t, pod, "-4"), []string{"169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 PERMANENT"}; !slices.Equal(got, want) {
		t.Errorf("pod neighbours %q, want %q", got, want)
	}
	checkSysctls(t, pod, map[string]string{"net/ipv4/ip_forward": "0"})

	// Datastore.
	wep := e.wep(net, pod)
	if wep == nil {
		t.Fatal("no WorkloadEndpoint")
	}
	wantName := "tcni--node-cni-" + strings.ReplaceAll(containerID(pod), "-", "--") + "-eth0"
	s := wep.Spec
	if wep.Name != wantName || wep.Namespace != "default" ||
		wep.Labels["projectcalico.org/namespace"] != "default" || wep.Labels["projectcalico.org/orchestrator"] != "cni" ||
		s.Orchestrator != "cni" || s.Node != cniNodeName || s.ContainerID != containerID(pod) || s.Endpoint != "eth0" ||
		!slices.Equal(s.IPNetworks, []string{podIP + "/32"}) || !slices.Equal(s.Profiles, []string{net}) ||
		s.InterfaceName != host || s.MAC != podMAC {
		t.Errorf("WorkloadEndpoint %s/%s %+v labels %v", wep.Namespace, wep.Name, s, wep.Labels)
	}
	kind, _ := v3.LookupKind("Profile")
	if r, err := e.cl.Get(context.Background(), kind, "", net); err != nil {
		t.Errorf("profile: %v", err)
	} else if p := r.(*v3.Profile); p.Spec.LabelsToApply[net] != "" || len(p.Spec.Ingress) != 1 || p.Spec.Ingress[0].Source.Selector != "has("+net+")" {
		t.Errorf("profile %+v", p.Spec)
	}

	// CHECK passes, and notices damage.
	if c := e.rt.Cnitool("check", net, pod.Path()); c.Err != nil {
		t.Fatalf("CHECK: %v", c.Err)
	}
	pod.MustIP(t, "route", "del", "default")
	if c := e.rt.Cnitool("check", net, pod.Path()); c.Err == nil || !strings.Contains(c.Err.Error(), "pod has no route default via 169.254.1.1") {
		t.Errorf("CHECK of a pod without its default route: %v", c.Err)
	}
	pod.MustIP(t, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0")

	// A repeated ADD changes nothing.
	again := e.add(net, pod)
	if again.IPs[0].Address != res.IPs[0].Address || again.Interfaces[1].Mac != podMAC || len(e.allocations(net)) != 1 {
		t.Errorf("repeated ADD: %+v, allocations %v", again, e.allocations(net))
	}

	// DEL removes everything but the profile; repeating it, or deleting
	// something unknown, succeeds.
	e.del(net, pod)
	if l := link(t, pod, "eth0"); l != nil || len(e.caliLinks()) != 0 {
		t.Errorf("after DEL: pod eth0 %v, node cali links %v", l, e.caliLinks())
	}
	if r := routes(t, e.node, "-4"); len(r) != 0 {
		t.Errorf("after DEL: node routes %v", r)
	}
	if w := e.wep(net, pod); w != nil || len(e.allocations(net)) != 0 {
		t.Errorf("after DEL: endpoint %v, allocations %v", w, e.allocations(net))
	}
	e.del(net, pod)
	if c := e.rt.Cnitool("del", net, "/var/run/netns/tcni-"+e.id+"-never-made"); c.Err != nil {
		t.Errorf("DEL of an unknown pod: %v", c.Err)
	}
}

// TestCniPodsPingWithoutDefaultRoute: on a node with no default route
// (where Calico's pods cannot resolve 169.254.1.1 by proxy ARP) two pods
// reach each other and the node.
func TestCniPodsPingWithoutDefaultRoute(t *testing.T) {
	e := newCNIEnv(t)
	net := e.network("tcni-net", "1.0.0", e.tortieConf())
	if r := routes(t, e.node, "-4"); len(r) != 0 {
		t.Fatalf("the node namespace has routes: %v", r)
	}
	a, b := e.pod("a"), e.pod("b")
	ipA := strings.Split(e.add(net, a).IPs[0].Address, "/")[0]
	ipB := strings.Split(e.add(net, b).IPs[0].Address, "/")[0]
	for _, p := range []struct {
		from *cnitest.NetNS
		to   string
	}{{a, ipB}, {b, ipA}, {a, cniNodeIP}, {b, cniNodeIP}} {
		if out, err := p.from.Exec("ping", "-c", "2", "-i", "0.2", "-W", "2", p.to); err != nil {
			t.Errorf("ping %s from %s: %v\n%s", p.to, p.from.Name, err, out)
		}
	}
	if out, err := e.node.Exec("ping", "-c", "1", "-W", "2", ipA); err != nil {
		t.Errorf("ping the pod from the node: %v\n%s", err, out)
	}
	// No ARP was needed: the gateway entry is still the permanent one.
	if got := neighbours(t, a, "-4"); !slices.Contains(got, "169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 PERMANENT") {
		t.Errorf("pod a neighbours %v", got)
	}
	e.del(net, a)
	e.del(net, b)
}

// TestCniDualStack gives a pod an IPv4 and an IPv6 address.
func TestCniDualStack(t *testing.T) {
	e := newCNIEnv(t)
	if err := e.node.SetSysctl("net/ipv6/conf/all/forwarding", "1"); err != nil {
		t.Fatal(err)
	}
	net := e.network("tcni-net6", "1.1.0", e.tortieConf(map[string]any{"subnet": cniDefaultRange}, map[string]any{"subnet": "fd00:7::/120"}))
	a, b := e.pod("a"), e.pod("b")
	resA, resB := e.add(net, a), e.add(net, b)
	if len(resA.IPs) != 2 || !strings.HasSuffix(resA.IPs[1].Address, "/128") || resA.IPs[1].Gateway != "fe80::ecee:eeff:feee:eeee" {
		t.Fatalf("result %+v", resA.IPs)
	}
	v6A := strings.Split(resA.IPs[1].Address, "/")[0]
	v6B := strings.Split(resB.IPs[1].Address, "/")[0]
	host := workload(net, a).HostIfName()

	pl := link(t, a, "eth0")
	if got := pl.globalAddrs(); len(got) != 2 || got[1] != v6A+"/128" {
		t.Errorf("pod addresses %v", got)
	}
	if got := routes(t, a, "-6"); !slices.Contains(got, "default via fe80::ecee:eeff:feee:eeee dev eth0") {
		t.Errorf("pod IPv6 routes %v", got)
	}
	if got := neighbours(t, a, "-6"); !slices.Contains(got, "fe80::ecee:eeff:feee:eeee lladdr ee:ee:ee:ee:ee:ee dev eth0 PERMANENT") {
		t.Errorf("pod IPv6 neighbours %v", got)
	}
	if got := routes(t, e.node, "-6"); !slices.Contains(got, v6A+" dev "+host+" proto 81") {
		t.Errorf("node IPv6 routes %v", got)
	}
	checkSysctls(t, e.node, map[string]string{
		"net/ipv6/conf/" + host + "/proxy_ndp":    "1",
		"net/ipv6/conf/" + host + "/forwarding":   "1",
		"net/ipv6/conf/" + host + "/accept_dad":   "0",
		"net/ipv6/conf/" + host + "/disable_ipv6": "0",
	})
	checkSysctls(t, a, map[string]string{"net/ipv6/conf/eth0/accept_dad": "0", "net/ipv6/conf/all/forwarding": "0"})
	if w := e.wep(net, a); w == nil || !equalSorted(w.Spec.IPNetworks, []string{strings.Split(resA.IPs[0].Address, "/")[0] + "/32", v6A + "/128"}) {
		t.Errorf("endpoint %+v", w)
	}
	eventually(t, "ping6 between the pods", func() error {
		out, err := a.Exec("ping", "-6", "-c", "1", "-W", "1", v6B)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if c := e.rt.Cnitool("check", net, a.Path()); c.Err != nil {
		t.Errorf("CHECK: %v", c.Err)
	}
	e.del(net, a)
	e.del(net, b)
	if len(e.allocations(net)) != 0 || len(e.caliLinks()) != 0 {
		t.Errorf("left behind: %v %v", e.allocations(net), e.caliLinks())
	}
}

// TestCniVersions: each CNI version a config asks for gets a valid result
// of that version, and CHECK and DEL work with it.
func TestCniVersions(t *testing.T) {
	e := newCNIEnv(t)
	for i, v := range []string{"0.4.0", "1.0.0", "1.1.0"} {
		conf := e.tortieConf()
		forward := i == 1 // and container_settings.allow_ip_forwarding on one of them
		conf["container_settings"] = map[string]bool{"allow_ip_forwarding": forward}
		net := e.network(fmt.Sprintf("tcni-v%d", i), v, conf)
		pod := e.pod(fmt.Sprintf("v%d", i))
		res := e.add(net, pod)
		checkSysctls(t, pod, map[string]string{"net/ipv4/ip_forward": map[bool]string{true: "1", false: "0"}[forward]})
		if res.CNIVersion != v || len(res.IPs) != 1 || !strings.HasSuffix(res.IPs[0].Address, "/32") || res.IPs[0].Interface == nil || *res.IPs[0].Interface != 1 {
			t.Errorf("%s: result %+v", v, res)
		}
		if (v == "0.4.0") != (res.IPs[0].Version == "4") {
			t.Errorf("%s: ips[0].version = %q (only 0.x results carry it)", v, res.IPs[0].Version)
		}
		if c := e.rt.Cnitool("check", net, pod.Path()); c.Err != nil {
			t.Errorf("%s: CHECK: %v", v, c.Err)
		}
		e.del(net, pod)
	}
}

// TestCniKubernetesPodArgs: with K8S_POD_NAMESPACE and K8S_POD_NAME in
// CNI_ARGS the endpoint is a k8s one, named and labelled as Calico's, and
// the host interface is named after the pod (Calico's and Felix's name).
func TestCniKubernetesPodArgs(t *testing.T) {
	e := newCNIEnv(t)
	net := e.network("tcni-k8s", "1.0.0", e.tortieConf())
	pod := e.pod("web")
	args := "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=" + containerID(pod)
	res := e.add(net, pod, args)
	host := cni.NewWorkload(net, containerID(pod), "eth0", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1").HostIfName()
	if res.Interfaces[0].Name != host || link(t, e.node, host) == nil {
		t.Errorf("host interface %s, want %s", res.Interfaces[0].Name, host)
	}
	kind, _ := v3.LookupKind("WorkloadEndpoint")
	r, err := e.cl.Get(context.Background(), kind, "shop", "tcni--node-k8s-web--1-eth0")
	if err != nil {
		t.Fatalf("endpoint: %v (have %v)", err, e.weps())
	}
	w := r.(*v3.WorkloadEndpoint)
	if w.Spec.Orchestrator != "k8s" || w.Spec.Pod != "web-1" || w.Spec.ContainerID != containerID(pod) ||
		w.Labels["projectcalico.org/namespace"] != "shop" || w.Labels["projectcalico.org/orchestrator"] != "k8s" {
		t.Errorf("endpoint %+v labels %v", w.Spec, w.Labels)
	}
	if c := e.rt.Cnitool("del", net, pod.Path(), args); c.Err != nil {
		t.Fatal(c.Err)
	}
	if len(e.weps()) != 0 || len(e.caliLinks()) != 0 {
		t.Errorf("after DEL: %v %v", e.weps(), e.caliLinks())
	}
}
