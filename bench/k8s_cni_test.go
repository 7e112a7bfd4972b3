package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/cni/cnitest"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/datastore/kdd/kastest"
)

// BenchmarkCNIKubernetes: "cnitool add" then "del" of pods, one after the
// other, with the plugin on etcd and on the Kubernetes datastore in the
// same run, interleaved (pod i is added in one mode then the other, the
// order alternating), so that a load change on the shared machine hits
// both modes alike. Host-local addresses both times, so the modes differ
// by the datastore: the endpoint written to etcd, or the Pod read and its
// annotations patched through the apiserver, plus for Kubernetes the
// Node's podCIDR read for usePodCidr. The test acts as the kubelet: the
// Pods exist before their ADD. TORTIE_BENCH_PODS sets the pods per mode
// (default 60).
//
// It prints, per mode, the quartiles and p95 of ADD and DEL, the median
// of the paired differences (pod i's kubernetes ADD less its etcd ADD),
// the plugin's own phase timings (its debug log) and the apiserver
// requests per ADD+DEL; then what each request costs, timed from this
// process with the plugin's client.
func BenchmarkCNIKubernetes(b *testing.B) {
	cnitest.RequireRoot(b)
	cnitest.RequireTools(b, "cnitool", "host-local")
	kas := kasCluster(b)
	tortie := cnitest.TortieBinary(b, b.TempDir())
	pods := 60
	if v, err := strconv.Atoi(os.Getenv("TORTIE_BENCH_PODS")); err == nil && v > 0 {
		pods = v
	}
	n := cnitest.NewNode(b, "tcnik-"+cnitest.RunID()+"-", "bench-node", tortie, "host-local")
	cnitest.Forward(b, n.NS, "127.0.0.1:6443", strings.TrimPrefix(kas.Server, "https://"))
	kc := filepath.Join(b.TempDir(), "kubeconfig")
	raw, err := os.ReadFile(kas.Kubeconfig)
	if err == nil {
		err = os.WriteFile(kc, []byte(strings.Replace(string(raw), kas.Server, "https://127.0.0.1:6443", 1)), 0o600)
	}
	if err != nil {
		b.Fatal(err)
	}
	cniKubelet(b, kas, pods)
	modes := []string{"etcdv3", "kubernetes"}
	logs := map[string]string{}
	nets := map[string]string{}
	for _, mode := range modes {
		conf := n.TortieConf(map[string]any{"subnet": "10.244.42.0/24"})
		logs[mode] = filepath.Join(b.TempDir(), mode+".log")
		conf["log_level"], conf["log_file_path"], conf["policy"] = "debug", logs[mode], map[string]any{"type": "k8s"}
		if mode == "kubernetes" {
			conf["datastore_type"], conf["kubernetes"] = "kubernetes", map[string]any{"kubeconfig": kc}
			conf["ipam"] = map[string]any{"type": "host-local", "dataDir": n.IPAMDir, "subnet": "usePodCidr"}
			delete(conf, "etcd_endpoints")
		}
		nets[mode] = n.Network(b, "bench-"+mode, "1.1.0", conf)
	}
	netns := map[string][]*cnitest.NetNS{}
	for _, mode := range modes {
		for i := range pods {
			netns[mode] = append(netns[mode], n.Pod(b, fmt.Sprintf("%s%d", mode[:4], i)))
		}
	}
	before := kasMetrics(b, kas)
	times := map[string]map[string][]time.Duration{"add": {}, "del": {}}
	for _, verb := range []string{"add", "del"} {
		for i := range pods {
			order := slices.Clone(modes)
			if i%2 == 1 {
				slices.Reverse(order)
			}
			for _, mode := range order {
				c := n.Runtime.Cnitool(verb, nets[mode], netns[mode][i].Path(), fmt.Sprintf("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=p%d", i))
				if c.Err != nil {
					b.Fatalf("%s %s: %v", mode, verb, c.Err)
				}
				times[verb][mode] = append(times[verb][mode], c.Took)
			}
		}
	}
	reqs := (kasMetrics(b, kas).requests - before.requests) / float64(pods)
	printCNIFigures(b, pods, modes, times, logs, reqs)
	cniRequestCosts(b, kas.Kubeconfig)
}

// cniKubelet registers the node (with its podCIDR) and creates the pods
// p0..p<pods-1> in namespace bench.
func cniKubelet(b *testing.B, kas *kastest.Cluster, pods int) {
	ctx := context.Background()
	admin := func(path string, body any) {
		if err := kas.Admin(ctx, http.MethodPost, path, body, nil); err != nil {
			b.Fatal(err)
		}
	}
	admin("/api/v1/nodes", map[string]any{"metadata": map[string]any{"name": "bench-node"},
		"spec": map[string]any{"podCIDR": "10.244.41.0/24", "podCIDRs": []string{"10.244.41.0/24"}}})
	admin("/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "bench"}})
	admin("/api/v1/namespaces/bench/serviceaccounts", map[string]any{"metadata": map[string]any{"name": "default"}})
	for i := range pods {
		admin("/api/v1/namespaces/bench/pods", map[string]any{"metadata": map[string]any{"name": fmt.Sprintf("p%d", i), "labels": map[string]any{"app": "bench"}},
			"spec": map[string]any{"nodeName": "bench-node", "automountServiceAccountToken": false,
				"containers": []any{map[string]any{"name": "c", "image": "busybox", "ports": []any{map[string]any{"name": "http", "containerPort": 80}}}}}})
	}
}

func printCNIFigures(b *testing.B, pods int, modes []string, times map[string]map[string][]time.Duration, logs map[string]string, reqs float64) {
	fmt.Printf("\nCNI ADD/DEL through cnitool, %d pods per mode, interleaved (host-local IPAM)\n", pods)
	fmt.Printf("%-11s %-4s %9s %9s %9s %9s\n", "mode", "verb", "p25", "p50", "p75", "p95")
	for _, verb := range []string{"add", "del"} {
		for _, mode := range modes {
			ds := times[verb][mode]
			fmt.Printf("%-11s %-4s %9v %9v %9v %9v\n", mode, verb, pct(ds, 25), pct(ds, 50), pct(ds, 75), pct(ds, 95))
		}
	}
	for _, verb := range []string{"add", "del"} {
		var diff []time.Duration
		for i := range times[verb][modes[0]] {
			diff = append(diff, times[verb][modes[1]][i]-times[verb][modes[0]][i])
		}
		fmt.Printf("paired difference kubernetes - etcd, %s: p25 %v, median %v, p75 %v\n", verb, pct(diff, 25), pct(diff, 50), pct(diff, 75))
	}
	fmt.Printf("apiserver requests per ADD+DEL (kubernetes): %.1f\n", reqs)
	fmt.Println("the plugin's ADD phases (median, from its debug log):")
	for _, mode := range modes {
		fmt.Printf("  %-11s %s\n", mode, phaseMedians(b, logs[mode]))
	}
	b.ReportMetric(float64(pct(times["add"]["etcdv3"], 50).Microseconds())/1000, "ms-add-p50-etcd")
	b.ReportMetric(float64(pct(times["add"]["kubernetes"], 50).Microseconds())/1000, "ms-add-p50-k8s")
}

// addPhases are the timing attributes of the plugin's ADD debug line.
var addPhases = []string{"probe", "ipam_and_create", "datastore_wait", "configure_and_record", "endpoint_write", "datastore_connect", "warmup"}

// phaseMedians reads the plugin's "timing" debug lines and returns the
// median of each ADD phase.
func phaseMedians(b *testing.B, log string) string {
	f, err := os.Open(log)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	got := map[string][]time.Duration{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), "msg=timing") {
			continue
		}
		for _, field := range strings.Fields(sc.Text()) {
			k, v, _ := strings.Cut(field, "=")
			if d, err := time.ParseDuration(v); err == nil && slices.Contains(addPhases, k) {
				got[k] = append(got[k], d)
			}
		}
	}
	var out []string
	for _, k := range addPhases {
		if len(got[k]) > 0 {
			out = append(out, fmt.Sprintf("%s %v", k, pct(got[k], 50)))
		}
	}
	return strings.Join(out, ", ")
}

// cniRequestCosts times, from this process (straight to the apiserver,
// not through the node namespace's forwarder), what a plugin process on
// the Kubernetes datastore does: load the kubeconfig, then a request on a
// fresh connection (the first pays the TCP and TLS handshake) and one on
// the warm connection.
func cniRequestCosts(b *testing.B, kubeconfig string) {
	const rounds = 30
	var load, first, warm []time.Duration
	ctx := context.Background()
	podKey := datastore.ResourceKey("workloadendpoints", "bench", kdd.WEPName("bench-node", "p0", "eth0"))
	err := func() error {
		for range rounds {
			start := time.Now()
			s, err := kdd.Open(kdd.Config{Kubeconfig: kubeconfig})
			if err != nil {
				return err
			}
			load = append(load, time.Since(start))
			start = time.Now()
			if _, err := s.Get(ctx, podKey); err != nil && !errors.Is(err, datastore.ErrNotFound) {
				return err
			}
			first = append(first, time.Since(start))
			start = time.Now()
			if _, err := s.Get(ctx, podKey); err != nil && !errors.Is(err, datastore.ErrNotFound) {
				return err
			}
			warm = append(warm, time.Since(start))
			s.Close()
		}
		return nil
	}()
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("one plugin's client, median of %d: kubeconfig load %v, first request (TCP+TLS+GET) %v, a warm GET %v\n",
		rounds, pct(load, 50), pct(first, 50), pct(warm, 50))
}
