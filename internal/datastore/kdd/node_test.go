package kdd_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/dataplane"
	"github.com/tortienet/tortie/internal/datastore/storetest"
	"github.com/tortienet/tortie/internal/node"
)

// recordingDataplane keeps the last desired state the agent applied.
type recordingDataplane struct {
	mu   sync.Mutex
	last calc.Desired
	ch   chan struct{}
}

func (r *recordingDataplane) Apply(_ context.Context, d calc.Desired) (dataplane.Stats, error) {
	r.mu.Lock()
	r.last = d
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
	return dataplane.Stats{}, nil
}

func (r *recordingDataplane) Resync(ctx context.Context, d calc.Desired) (dataplane.Stats, error) {
	return r.Apply(ctx, d)
}

// TestNodeAgentKubernetesMode: tortie-node on the Kubernetes datastore
// with USE_POD_CIDR: it annotates its Kubernetes Node (address, IPIP
// tunnel address = podCIDR .1) and routes the other node's podCIDR as
// that node's block.
func TestNodeAgentKubernetesMode(t *testing.T) {
	open(t)
	testNodeAgent(t, cluster.Kubeconfig, "agent", 21)
}

// testNodeAgent runs an agent as the kubeconfig's user on node <prefix>-a
// (podCIDR 10.244.<n>.0/24) beside <prefix>-b (10.244.<n+1>.0/24).
func testNodeAgent(t *testing.T, kubeconfig, prefix string, n int) {
	self, other := prefix+"-a", prefix+"-b"
	// Other tests made pools, so the agent's default pool is not created:
	// make the pod CIDRs' pool here.
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "pod-cidrs"}}
	pool.Spec.CIDR, pool.Spec.IPIPMode = "10.244.0.0/16", v3.EncapAlways
	if _, err := client.New(open(t)).Apply(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	selfIP, otherIP := fmt.Sprintf("172.31.%d.10/24", n), fmt.Sprintf("172.31.%d.11/24", n)
	selfCIDR, otherCIDR := fmt.Sprintf("10.244.%d.0/24", n), fmt.Sprintf("10.244.%d.0/24", n+1)
	for name, cidr := range map[string]string{self: selfCIDR, other: otherCIDR} {
		ann := map[string]any{}
		if name == other {
			ann["projectcalico.org/IPv4Address"] = otherIP
		}
		admin(t, http.MethodPost, "/api/v1/nodes", map[string]any{"metadata": map[string]any{"name": name, "annotations": ann},
			"spec": map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}}}, nil)
	}
	env := map[string]string{"NODENAME": self, "DATASTORE_TYPE": "kubernetes", "KUBECONFIG": kubeconfig,
		"USE_POD_CIDR": "true", "CALICO_IPV4POOL_CIDR": "10.244.0.0/16", "CALICO_IPV4POOL_IPIP": "Always",
		"TORTIE_STATE_DIR": t.TempDir(), "FELIX_HEALTHPORT": "0", "FELIX_PROMETHEUSMETRICSPORT": "0"}
	cfg, err := node.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	dp := &recordingDataplane{ch: make(chan struct{}, 1)}
	k := node.Kernel{
		Detect: func(string, string) (node.Address, error) {
			return node.Address{Prefix: netip.MustParsePrefix(selfIP), Interface: "eth0", Reasoning: "test"}, nil
		},
		Dataplane: dp, IPIPSupported: func() bool { return true }, HostMTU: func(string) int { return 1500 },
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- node.New(cfg, k, slog.New(slog.DiscardHandler)).Run(ctx) }()
	defer func() { cancel(); <-done }()

	tunnel := netip.MustParsePrefix(selfCIDR).Addr().Next()
	deadline := time.After(storetest.Timeout)
	for {
		dp.mu.Lock()
		d := dp.last
		dp.mu.Unlock()
		if routed(d, otherCIDR) && d.IPIP != nil && d.IPIP.Addr == tunnel {
			break
		}
		select {
		case <-dp.ch:
		case err := <-done:
			done <- err // for the deferred wait
			t.Fatalf("agent stopped: %v", err)
		case <-deadline:
			t.Fatalf("no route to %s's podCIDR with IPIP %s within %v: %+v", other, tunnel, storetest.Timeout, d)
		}
	}
	var got struct {
		Metadata struct{ Annotations map[string]string }
	}
	admin(t, http.MethodGet, "/api/v1/nodes/"+self, nil, &got)
	if a := got.Metadata.Annotations; a["projectcalico.org/IPv4Address"] != selfIP || a["projectcalico.org/IPv4IPIPTunnelAddr"] != tunnel.String() {
		t.Fatalf("%s's annotations: %v", self, a)
	}
}

func routed(d calc.Desired, dst string) bool {
	for _, r := range d.Routes {
		if r.Dst.String() == dst {
			return true
		}
	}
	return false
}
