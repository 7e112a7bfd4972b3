package node

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/dataplane"
	"github.com/tortienet/tortie/internal/datastore/embedded/embeddedtest"
	"github.com/tortienet/tortie/internal/datastore/etcd"
)

var endpoints []string

func TestMain(m *testing.M) { os.Exit(embeddedtest.Main(m, &endpoints)) }

// fakeDataplane records what it was asked to apply.
type fakeDataplane struct {
	mu      sync.Mutex
	applied []calc.Desired
	notify  chan calc.Desired
}

func (f *fakeDataplane) Apply(_ context.Context, d calc.Desired) (dataplane.Stats, error) {
	f.mu.Lock()
	f.applied = append(f.applied, d)
	f.mu.Unlock()
	select {
	case f.notify <- d:
	default:
	}
	return dataplane.Stats{Routes: len(d.Routes)}, nil
}

func (f *fakeDataplane) Resync(ctx context.Context, d calc.Desired) (dataplane.Stats, error) {
	return f.Apply(ctx, d)
}

// waitFor waits until an applied state satisfies ok.
func (f *fakeDataplane) waitFor(t *testing.T, what string, ok func(calc.Desired) bool) calc.Desired {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		f.mu.Lock()
		for _, d := range f.applied {
			if ok(d) {
				f.mu.Unlock()
				return d
			}
		}
		f.mu.Unlock()
		select {
		case <-f.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for the dataplane to get %s", what)
		}
	}
}

type harness struct {
	t   *testing.T
	ctx context.Context
	c   *client.Client
	dp  *fakeDataplane
	cfg Config
	// addr6 is the IPv6 address startBGP's agent detects ("": none);
	// global the speaker's last bgp.Global.
	addr6  string
	global atomic.Value
}

func newHarness(t *testing.T, env map[string]string) *harness {
	t.Helper()
	ctx := t.Context()
	s, err := etcd.New(ctx, etcd.Config{Endpoints: endpoints})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().Delete(ctx, "/calico/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	state := t.TempDir()
	base := map[string]string{"NODENAME": "node-a", "ETCD_ENDPOINTS": strings.Join(endpoints, ","), "TORTIE_STATE_DIR": state,
		"FELIX_HEALTHPORT": "0", "FELIX_PROMETHEUSMETRICSPORT": "0", "CALICO_IPV4POOL_CIDR": "10.244.0.0/16"}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := ConfigFromEnv(func(k string) string { return base[k] })
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, ctx: ctx, c: client.New(s), dp: &fakeDataplane{notify: make(chan calc.Desired, 1)}, cfg: cfg}
}

func (h *harness) start(addr string) context.CancelFunc {
	ctx, cancel := context.WithCancel(h.ctx)
	k := Kernel{
		Detect: func(string, string) (Address, error) {
			return Address{Prefix: netip.MustParsePrefix(addr), Interface: "eth0", Reasoning: "test"}, nil
		},
		Dataplane:     h.dp,
		IPIPSupported: func() bool { return false },
		HostMTU:       func(string) int { return 1500 },
	}
	a := New(h.cfg, k, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-done })
	return cancel
}

func (h *harness) get(k, name string) v3.Resource {
	h.t.Helper()
	r, err := h.c.Get(h.ctx, kind(k), "", name)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func TestStartupAndWorkloadRoutes(t *testing.T) {
	h := newHarness(t, map[string]string{"CALICO_IPV4POOL_VXLAN": "Always", "AS": "64600"})
	h.start("172.31.1.10/24")
	h.dp.waitFor(t, "a first sync", func(calc.Desired) bool { return true })

	n := h.get("Node", "node-a").(*v3.Node)
	if n.Spec.BGP == nil || n.Spec.BGP.IPv4Address != "172.31.1.10/24" || n.Spec.BGP.ASNumber == nil || *n.Spec.BGP.ASNumber != 64600 {
		t.Errorf("node spec = %+v", n.Spec.BGP)
	}
	p := h.get("IPPool", "default-ipv4-ippool").(*v3.IPPool)
	if p.Spec.CIDR != "10.244.0.0/16" || p.Spec.VXLANMode != v3.EncapAlways || !p.Spec.NATOutgoing {
		t.Errorf("default pool = %+v", p.Spec)
	}
	for _, name := range []string{"default", "node.node-a"} {
		h.get("FelixConfiguration", name)
	}
	h.get("BGPConfiguration", "default")
	if ci := h.get("ClusterInformation", "default").(*v3.ClusterInformation); ci.Spec.CalicoVersion == "" || ci.Spec.DatastoreReady == nil || !*ci.Spec.DatastoreReady {
		t.Errorf("cluster information = %+v", ci.Spec)
	}
	if b, err := os.ReadFile(filepath.Join(h.cfg.StateDir, "nodename")); err != nil || strings.TrimSpace(string(b)) != "node-a" {
		t.Errorf("nodename file = %q (%v)", b, err)
	}

	// The VXLAN pool selects the node: it gets a tunnel address, and the
	// device is wanted with it.
	d := h.dp.waitFor(t, "the VXLAN device with its address", func(d calc.Desired) bool { return d.VXLAN != nil && d.VXLAN.Addr.IsValid() })
	if d.PodMTU != 1450 {
		t.Errorf("pod MTU = %d, want 1450", d.PodMTU)
	}
	if b, _ := os.ReadFile(filepath.Join(h.cfg.StateDir, "mtu")); strings.TrimSpace(string(b)) != "1450" {
		t.Errorf("mtu file = %q", b)
	}
	n = h.get("Node", "node-a").(*v3.Node)
	if n.Spec.IPv4VXLANTunnelAddr != d.VXLAN.Addr.String() {
		t.Errorf("node's VXLAN address %q, device wants %s", n.Spec.IPv4VXLANTunnelAddr, d.VXLAN.Addr)
	}

	// A workload endpoint appears: its /32 route follows.
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: "node--a-cni-c1-eth0", Namespace: "default"}}
	w.Spec = v3.WorkloadEndpointSpec{Orchestrator: "cni", Node: "node-a", ContainerID: "c1", Endpoint: "eth0",
		IPNetworks: []string{"10.244.7.7/32"}, InterfaceName: "cali0123456789a"}
	if _, err := h.c.Create(h.ctx, w); err != nil {
		t.Fatal(err)
	}
	h.dp.waitFor(t, "the workload's route", func(d calc.Desired) bool {
		for _, r := range d.Routes {
			if r.Dst.String() == "10.244.7.7/32" && r.Dev == "cali0123456789a" {
				return true
			}
		}
		return false
	})
}

func TestDuplicateAddressRefused(t *testing.T) {
	h := newHarness(t, nil)
	other := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: "node-b"}}
	other.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: "172.31.1.10/24"}
	if _, err := h.c.Create(h.ctx, other); err != nil {
		t.Fatal(err)
	}
	k := Kernel{Detect: func(string, string) (Address, error) {
		return Address{Prefix: netip.MustParsePrefix("172.31.1.10/24"), Interface: "eth0"}, nil
	}, Dataplane: h.dp}
	err := New(h.cfg, k, slog.New(slog.DiscardHandler)).Run(h.ctx)
	if err == nil || !strings.Contains(err.Error(), `already used by node "node-b"`) {
		t.Fatalf("err = %v, want the duplicate address refused", err)
	}
	if len(h.dp.applied) != 0 {
		t.Error("the dataplane was touched by an agent that refused to start")
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	cases := map[string]map[string]string{
		"CALICO_NETWORKING_BACKEND": {"CALICO_NETWORKING_BACKEND": "calico"},
		"CALICO_IPV4POOL_IPIP":      {"CALICO_IPV4POOL_IPIP": "sometimes"},
		"CALICO_IPV4POOL_CIDR":      {"CALICO_IPV4POOL_CIDR": "10.0.0.0/33"},
		"AS":                        {"AS": "big"},
		"NO_DEFAULT_POOLS":          {"NO_DEFAULT_POOLS": "true", "CALICO_IPV4POOL_CIDR": "10.0.0.0/16"},
		"DISABLE_NODE_IP_CHECK":     {"DISABLE_NODE_IP_CHECK": "perhaps"},
	}
	for want, env := range cases {
		env["NODENAME"] = "n"
		_, err := ConfigFromEnv(func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: err = %v, want it to name %s", env, err, want)
		}
	}
}
