package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/tortienet/tortie/internal/cni/veth"
)

const (
	wepPrefix     = "/calico/resources/v3/projectcalico.org/workloadendpoints/"
	profilePrefix = "/calico/resources/v3/projectcalico.org/profiles/"
)

// The endpoint and the profile are stored exactly as Calico stores them
// (calico-anchor.md §3.2), apart from the values that differ per run.
func TestAddWritesEndpointAndProfileAsCalico(t *testing.T) {
	e := newEnv(t)
	p := e.plugin("")
	res, err := p.Add(context.Background(), e.args("cnitool-3dac2234a9cb9032b2c9", "/run/netns/pod1"))
	if err != nil {
		t.Fatal(err)
	}
	mac := res.Interfaces[1].Mac
	wantWEP := `{"kind":"WorkloadEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"node--1-cni-cnitool--3dac2234a9cb9032b2c9-eth0",` +
		`"namespace":"default","uid":"uid-1","creationTimestamp":"2026-11-22T12:04:06Z",` +
		`"labels":{"projectcalico.org/namespace":"default","projectcalico.org/orchestrator":"cni"}},` +
		`"spec":{"orchestrator":"cni","node":"node-1","containerID":"cnitool-3dac2234a9cb9032b2c9","endpoint":"eth0",` +
		`"ipNetworks":["10.244.0.1/32"],"profiles":["ca-net"],"interfaceName":"calic437d2ca0be","mac":"` + mac + `"}}`
	kv, err := e.store.Get(context.Background(), wepPrefix+"default/node--1-cni-cnitool--3dac2234a9cb9032b2c9-eth0")
	if err != nil {
		t.Fatal(err)
	}
	if string(kv.Value) != wantWEP {
		t.Errorf("stored endpoint:\n got %s\nwant %s", kv.Value, wantWEP)
	}
	wantProfile := `{"kind":"Profile","apiVersion":"projectcalico.org/v3","metadata":{"name":"ca-net","uid":"uid-1","creationTimestamp":"2026-11-22T12:04:06Z"},` +
		`"spec":{"ingress":[{"action":"Allow","source":{"selector":"has(ca-net)"},"destination":{}}],` +
		`"egress":[{"action":"Allow","source":{},"destination":{}}],"labelsToApply":{"ca-net":""}}}`
	kv, err = e.store.Get(context.Background(), profilePrefix+"ca-net")
	if err != nil {
		t.Fatal(err)
	}
	if string(kv.Value) != wantProfile {
		t.Errorf("stored profile:\n got %s\nwant %s", kv.Value, wantProfile)
	}

	b, _ := json.Marshal(res)
	want := fmt.Sprintf(`{"cniVersion":"1.1.0","interfaces":[{"mac":"ee:ee:ee:ee:ee:ee","name":"calic437d2ca0be"},`+
		`{"mac":"%s","mtu":1450,"name":"eth0","sandbox":"/run/netns/pod1"}],`+
		`"ips":[{"address":"10.244.0.1/32","gateway":"169.254.1.1","interface":1}],`+
		`"routes":[{"dst":"0.0.0.0/0","gw":"169.254.1.1"}]}`, mac)
	if string(b) != want {
		t.Errorf("result:\n got %s\nwant %s", b, want)
	}
}

func TestAddK8sEndpoint(t *testing.T) {
	e := newEnv(t)
	p := e.plugin("")
	args := e.args("abc", "/run/netns/pod1")
	args.Args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1"
	if _, err := p.Add(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	kv, err := e.store.Get(context.Background(), wepPrefix+"shop/node--1-k8s-web--1-eth0")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"orchestrator":"k8s"`, `"pod":"web-1"`, `"projectcalico.org/namespace":"shop"`, `"projectcalico.org/orchestrator":"k8s"`, `"containerID":"abc"`} {
		if !strings.Contains(string(kv.Value), want) {
			t.Errorf("endpoint %s lacks %s", kv.Value, want)
		}
	}
}

// Every failure after IPAM leaves nothing behind.
func TestAddRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		breakf func(e *env)
		code   uint
		msg    string
	}{
		{"veth configuration fails", func(e *env) { e.net.setupErr = errors.New("boom") }, types.ErrInternal, "boom"},
		{"veth creation fails", func(e *env) { e.net.createErr = errors.New("bang") }, types.ErrInternal, "bang"},
		{"datastore unreachable", func(e *env) { e.storeErr = errors.New("cannot reach etcd at [http://127.0.0.1:1]") }, types.ErrTryAgainLater, "datastore unreachable: cannot reach etcd at [http://127.0.0.1:1]"},
		{"endpoint rejected", func(e *env) { e.store.Close() }, types.ErrInternal, "datastore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.breakf(e)
			_, err := e.plugin("").Add(context.Background(), e.args("c1", "/run/netns/pod1"))
			var te *types.Error
			if !errors.As(err, &te) || te.Code != tc.code || !strings.Contains(te.Msg, tc.msg) {
				t.Fatalf("err = %#v, want code %d mentioning %q", err, tc.code, tc.msg)
			}
			if n := e.ipam.holding(); n != 0 {
				t.Errorf("%d allocations held after rollback", n)
			}
			if len(e.net.host) != 0 || len(e.net.pod) != 0 {
				t.Errorf("interfaces left: %v %v", e.net.host, e.net.pod)
			}
			if tc.name != "endpoint rejected" {
				if k := e.keys(wepPrefix); len(k) != 0 {
					t.Errorf("endpoints left: %v", k)
				}
			}
		})
	}
}

func TestAddPassesIPAMError(t *testing.T) {
	e := newEnv(t)
	e.ipam.addErr = ipamError("host-local", "failed to assign an address", types.NewError(types.ErrInternal, "failed to allocate for range 0: no IP addresses available in range set: 10.9.0.1-10.9.0.1", ""))
	_, err := e.plugin("").Add(context.Background(), e.args("c1", "/run/netns/pod1"))
	if err == nil || !strings.Contains(err.Error(), "IPAM plugin host-local failed to assign an address: failed to allocate for range 0: no IP addresses available") {
		t.Fatalf("err = %v", err)
	}
	if len(e.net.host) != 0 || len(e.keys(wepPrefix)) != 0 {
		t.Error("something was created")
	}
}

func TestAddWithoutNodeAgent(t *testing.T) {
	e := newEnv(t)
	p := e.plugin(fmt.Sprintf(testConf, e.state+"/missing"))
	_, err := p.Add(context.Background(), e.args("c1", "/run/netns/pod1"))
	var te *types.Error
	if !errors.As(err, &te) || te.Code != types.ErrTryAgainLater || !strings.Contains(te.Msg, e.state+"/missing/nodename") || !strings.Contains(te.Msg, "tortie-node") {
		t.Fatalf("err = %v", err)
	}
	if e.ipam.adds != 0 {
		t.Error("IPAM was called")
	}
}

func TestRepeatedAddIsIdempotent(t *testing.T) {
	e := newEnv(t)
	p := e.plugin("")
	r1, err := p.Add(context.Background(), e.args("c1", "/run/netns/pod1"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := p.Add(context.Background(), e.args("c1", "/run/netns/pod1"))
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := json.Marshal(r1)
	b2, _ := json.Marshal(r2)
	if string(b1) != string(b2) || e.ipam.adds != 1 {
		t.Errorf("second ADD: %s (IPAM calls %d), first %s", b2, e.ipam.adds, b1)
	}
}

// An ADD that was interrupted after the veth was made (no endpoint) is
// started again from nothing on the next ADD.
func TestRepeatedAddAfterInterruptedAdd(t *testing.T) {
	e := newEnv(t)
	p := e.plugin("")
	if _, err := p.Add(context.Background(), e.args("c1", "/run/netns/pod1")); err != nil {
		t.Fatal(err)
	}
	for _, k := range e.keys(wepPrefix) {
		if _, err := e.store.Delete(context.Background(), k, 0); err != nil {
			t.Fatal(err)
		}
	}
	res, err := p.Add(context.Background(), e.args("c1", "/run/netns/pod1"))
	if err != nil {
		t.Fatal(err)
	}
	if e.ipam.holding() != 1 || len(e.keys(wepPrefix)) != 1 || res.IPs[0].Address.IP.String() != "10.244.0.2" {
		t.Errorf("held %d, endpoints %v, address %v", e.ipam.holding(), e.keys(wepPrefix), res.IPs[0].Address)
	}
}

func TestAddInterfaceNameTaken(t *testing.T) {
	e := newEnv(t)
	e.net.pod["/run/netns/pod1/eth0"] = &veth.Link{Name: "eth0", Kind: "dummy", Index: 3}
	_, err := e.plugin("").Add(context.Background(), e.args("c1", "/run/netns/pod1"))
	if err == nil || !strings.Contains(err.Error(), "interface name eth0 is already taken") {
		t.Fatalf("err = %v", err)
	}
	if e.net.pod["/run/netns/pod1/eth0"] == nil || e.ipam.adds != 0 {
		t.Error("the foreign interface was touched or IPAM called")
	}

	e = newEnv(t)
	host := NewWorkload("ca-net", "c1", "eth0", "").HostIfName()
	e.net.host[host] = &veth.Link{Name: host, Kind: "bridge", Index: 3}
	_, err = e.plugin("").Add(context.Background(), e.args("c1", "/run/netns/pod1"))
	if err == nil || !strings.Contains(err.Error(), "host interface name "+host+" is already taken by a bridge") {
		t.Fatalf("err = %v", err)
	}
}

// A stale host veth of the same workload (a pod's earlier sandbox) is
// replaced.
func TestAddReplacesStaleHostVeth(t *testing.T) {
	e := newEnv(t)
	host := NewWorkload("ca-net", "c1", "eth0", "").HostIfName()
	e.net.host[host] = &veth.Link{Name: host, Kind: "veth", Index: 3, PeerIndex: 7}
	if _, err := e.plugin("").Add(context.Background(), e.args("c1", "/run/netns/pod1")); err != nil {
		t.Fatal(err)
	}
	if e.net.host[host].Index == 3 {
		t.Error("stale veth kept")
	}
}

func TestDel(t *testing.T) {
	e := newEnv(t)
	p := e.plugin("")
	ctx := context.Background()
	if _, err := p.Add(ctx, e.args("c1", "/run/netns/pod1")); err != nil {
		t.Fatal(err)
	}
	if err := p.Del(ctx, e.args("c1", "/run/netns/pod1")); err != nil {
		t.Fatal(err)
	}
	if e.ipam.holding() != 0 || len(e.net.host) != 0 || len(e.keys(wepPrefix)) != 0 {
		t.Errorf("left: %d addrs, %v, %v", e.ipam.holding(), e.net.host, e.keys(wepPrefix))
	}
	if len(e.keys(profilePrefix)) != 1 {
		t.Error("the network's profile must stay")
	}
	// Unknown container, missing netns, repeated DEL.
	for _, a := range []struct{ c, ns string }{{"c1", "/run/netns/pod1"}, {"nope", "/run/netns/gone"}, {"nope", ""}} {
		if err := p.Del(ctx, e.args(a.c, a.ns)); err != nil {
			t.Errorf("DEL %v: %v", a, err)
		}
	}
}

// A DEL for a pod's old sandbox keeps the endpoint the new sandbox wrote.
func TestDelOldSandboxKeepsEndpoint(t *testing.T) {
	e := newEnv(t)
	p := e.plugin("")
	ctx := context.Background()
	newArgs := e.args("new", "/run/netns/new")
	newArgs.Args = "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web"
	if _, err := p.Add(ctx, newArgs); err != nil {
		t.Fatal(err)
	}
	oldArgs := e.args("old", "/run/netns/old")
	oldArgs.Args = newArgs.Args
	if err := p.Del(ctx, oldArgs); err != nil {
		t.Fatal(err)
	}
	if len(e.keys(wepPrefix)) != 1 || len(e.net.host) != 1 {
		t.Errorf("the new sandbox lost its endpoint or veth: %v %v", e.keys(wepPrefix), e.net.host)
	}
}

func TestDelDatastoreUnreachable(t *testing.T) {
	e := newEnv(t)
	e.storeErr = errors.New("cannot reach etcd at [x]")
	err := e.plugin("").Del(context.Background(), e.args("c1", "/run/netns/pod1"))
	var te *types.Error
	if !errors.As(err, &te) || te.Code != types.ErrTryAgainLater || !strings.Contains(te.Msg, "cannot reach etcd at [x]") {
		t.Fatalf("err = %v", err)
	}
}

// A datastore that fails in the middle of ADD or DEL (after the
// connection was made) is "try again later", in one line, like one that
// is down at the start.
func TestDatastoreFailsMidCommand(t *testing.T) {
	gone := errors.New("rpc error: code = Unavailable desc = error reading from server: EOF")
	e := newEnv(t)
	e.writeErr = gone
	_, err := e.plugin("").Add(context.Background(), e.args("c1", "/run/netns/pod1"))
	var te *types.Error
	if !errors.As(err, &te) || te.Code != types.ErrTryAgainLater || !strings.Contains(te.Msg, "try again later") || strings.Contains(te.Msg, "; ") {
		t.Fatalf("ADD: err = %#v, want code 11 in one line", err)
	}
	if n := e.ipam.holding(); n != 0 {
		t.Errorf("%d allocations held after the failed ADD", n)
	}
	e.net.removeErr = errors.New("veth busy")
	err = e.plugin("").Del(context.Background(), e.args("c1", "/run/netns/pod1"))
	if !errors.As(err, &te) || te.Code != types.ErrTryAgainLater || strings.Contains(te.Msg, "veth busy") {
		t.Fatalf("DEL: err = %#v, want code 11 alone", err)
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.plugin("").Add(ctx, e.args("c1", "/run/netns/pod1"))
	if err != nil {
		t.Fatal(err)
	}
	prev, _ := json.Marshal(res)
	conf := strings.TrimSuffix(fmt.Sprintf(testConf, e.state), "}") + `,"prevResult":` + string(prev) + `}`
	if err := e.plugin(conf).Check(ctx, e.args("c1", "/run/netns/pod1")); err != nil {
		t.Fatalf("CHECK of a good attachment: %v", err)
	}
	for _, k := range e.keys(wepPrefix) {
		e.store.Delete(ctx, k, 0)
	}
	if err := e.plugin(conf).Check(ctx, e.args("c1", "/run/netns/pod1")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("CHECK without endpoint: %v", err)
	}
	if err := e.plugin("").Check(ctx, e.args("c1", "/run/netns/pod1")); err == nil || !strings.Contains(err.Error(), "prevResult") {
		t.Fatalf("CHECK without prevResult: %v", err)
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	if err := e.plugin("").Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := e.plugin(fmt.Sprintf(testConf, e.state+"/x")).Status(context.Background())
	var te *types.Error
	if !errors.As(err, &te) || te.Code != types.ErrPluginNotAvailable || !strings.Contains(te.Msg, "nodename") {
		t.Errorf("no node agent: %v", err)
	}
	e.storeErr = errors.New("cannot reach etcd at [y]")
	err = e.plugin("").Status(context.Background())
	if !errors.As(err, &te) || te.Code != types.ErrPluginNotAvailable || !strings.Contains(te.Msg, "cannot reach etcd at [y]") {
		t.Errorf("no datastore: %v", err)
	}
}

func TestGC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.plugin("")
	for _, c := range []string{"keep", "stale"} {
		if _, err := p.Add(ctx, e.args(c, "/run/netns/"+c)); err != nil {
			t.Fatal(err)
		}
	}
	conf := strings.TrimSuffix(fmt.Sprintf(testConf, e.state), "}") + `,"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"}]}`
	if err := e.plugin(conf).GC(ctx); err != nil {
		t.Fatal(err)
	}
	keys := e.keys(wepPrefix)
	if len(keys) != 1 || !strings.Contains(keys[0], "keep") || len(e.net.host) != 1 || e.ipam.gcs != 1 {
		t.Errorf("after GC: endpoints %v, host links %v, IPAM GCs %d", keys, e.net.host, e.ipam.gcs)
	}
}
