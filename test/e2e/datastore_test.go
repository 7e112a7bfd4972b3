package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/etcd"
)

const seedYAML = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: seed-pool
spec:
  cidr: 10.244.0.0/16
  blockSize: 24
  ipipMode: Always
  natOutgoing: true
---
apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: rr-1
  labels:
    route-reflector: "true"
spec:
  bgp:
    ipv4Address: 10.99.0.1/24
    routeReflectorClusterID: 224.0.0.1
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: peer-with-rr
spec:
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  nodeToNodeMeshEnabled: false
  asNumber: 63400
`

// server is a `tortiectl datastore serve` process.
type server struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func serve(t *testing.T, dataDir, clientAddr, peerAddr string) *server {
	t.Helper()
	cmd := exec.Command(bin("tortiectl"), "datastore", "serve", "--data-dir", dataDir, "--listen", clientAddr, "--peer-listen", peerAddr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case ready <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	select {
	case line := <-ready:
		if !strings.Contains(line, "Serving the embedded datastore") {
			t.Fatalf("unexpected first line from datastore serve: %q", line)
		}
	case <-s.done:
		t.Fatal("datastore serve exited before it was ready")
	case <-time.After(60 * time.Second):
		t.Fatal("datastore serve did not become ready")
	}
	return s
}

func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// TestSeedSurvivesRestart applies seed-style YAML to a served embedded
// datastore, reads every resource back in every output format, restarts
// the datastore and reads them again.
func TestSeedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "etcd")
	clientAddr, err := embedded.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	peerAddr, err := embedded.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"DATASTORE_TYPE=etcdv3", "ETCD_ENDPOINTS=http://" + clientAddr}
	seedFile := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seedFile, []byte(seedYAML), 0o644); err != nil {
		t.Fatal(err)
	}

	srv := serve(t, dataDir, clientAddr, peerAddr)
	out, errOut, code := tortiectl(t, env, "", "apply", "-f", seedFile)
	if code != 0 || out != "Successfully applied 4 resource(s)\n" {
		t.Fatalf("apply: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	kinds := []string{"ippools", "nodes", "bgppeers", "bgpconfigurations"}
	before := readAll(t, env, kinds)
	checkSeed(t, before)
	checkStoredKeys(t, clientAddr)

	srv.stop()
	if _, _, code := tortiectl(t, append(env, "ETCD_ENDPOINTS=http://"+clientAddr), "", "get", "ippools", "--timeout", "2s"); code == 0 {
		t.Fatal("get succeeded with the datastore stopped")
	}
	serve(t, dataDir, clientAddr, peerAddr)
	after := readAll(t, env, kinds)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed across the restart:\n--- before\n%s\n--- after\n%s", k, v, after[k])
		}
	}
}

// readAll reads every kind in every output format.
func readAll(t *testing.T, env, kinds []string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, kind := range kinds {
		for _, o := range []string{"ps", "wide", "yaml", "json"} {
			out, errOut, code := tortiectl(t, env, "", "get", kind, "-o", o)
			if code != 0 {
				t.Fatalf("get %s -o %s: exit %d: %s", kind, o, code, errOut)
			}
			got[kind+" -o "+o] = out
		}
	}
	return got
}

func checkSeed(t *testing.T, got map[string]string) {
	t.Helper()
	want := map[string][]string{
		"ippools -o wide":           {"seed-pool   10.244.0.0/16   true   Always", "all()", "Automatic"},
		"ippools -o yaml":           {"blockSize: 24", "ipipMode: Always", "natOutgoing: true", "vxlanMode: Never", "nodeSelector: all()"},
		"nodes -o wide":             {"rr-1   (63400)   10.99.0.1/24"},
		"nodes -o json":             {`"routeReflectorClusterID": "224.0.0.1"`, `"route-reflector": "true"`},
		"bgppeers -o ps":            {"peer-with-rr            all()   0"}, // calicoctl: PEERIP is spec.peerIP, ASN 0
		"bgppeers -o yaml":          {"peerSelector: route-reflector == 'true'", "nodeSelector: all()"},
		"bgpconfigurations -o ps":   {"default", "false", "63400"},
		"bgpconfigurations -o json": {`"nodeToNodeMeshEnabled": false`, `"asNumber": 63400`},
	}
	for k, subs := range want {
		for _, s := range subs {
			if !strings.Contains(got[k], s) {
				t.Errorf("get %s: missing %q in:\n%s", k, s, got[k])
			}
		}
	}
	for k, v := range got {
		if strings.HasSuffix(k, "-o yaml") && !strings.Contains(v, "resourceVersion:") {
			t.Errorf("get %s: no resourceVersion reported:\n%s", k, v)
		}
	}
}

// checkStoredKeys reads etcd directly: Calico's keys, Calico's JSON, no
// resourceVersion stored, uid and creationTimestamp set, and the
// bootstrap objects created by the first write.
func checkStoredKeys(t *testing.T, clientAddr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := etcd.New(ctx, etcd.Config{Endpoints: []string{"http://" + clientAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, key := range []string{
		"/calico/resources/v3/projectcalico.org/ippools/seed-pool",
		"/calico/resources/v3/projectcalico.org/nodes/rr-1",
		"/calico/resources/v3/projectcalico.org/bgppeers/peer-with-rr",
		"/calico/resources/v3/projectcalico.org/bgpconfigurations/default",
		"/calico/resources/v3/projectcalico.org/clusterinformations/default",
		"/calico/resources/v3/projectcalico.org/tiers/default",
		"/calico/resources/v3/projectcalico.org/tiers/kube-admin",
		"/calico/resources/v3/projectcalico.org/tiers/kube-baseline",
	} {
		kv, err := s.Get(ctx, key)
		if err != nil {
			t.Errorf("stored key: %v", err)
			continue
		}
		var obj struct {
			Kind       string         `json:"kind"`
			APIVersion string         `json:"apiVersion"`
			Metadata   map[string]any `json:"metadata"`
		}
		if err := json.Unmarshal(kv.Value, &obj); err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		if obj.APIVersion != "projectcalico.org/v3" || obj.Kind == "" {
			t.Errorf("%s: kind %q apiVersion %q", key, obj.Kind, obj.APIVersion)
		}
		if _, ok := obj.Metadata["resourceVersion"]; ok {
			t.Errorf("%s: resourceVersion is stored: %s", key, kv.Value)
		}
		if obj.Metadata["uid"] == nil || obj.Metadata["creationTimestamp"] == nil {
			t.Errorf("%s: uid or creationTimestamp missing: %s", key, kv.Value)
		}
	}
	kv, err := s.Get(ctx, "/calico/resources/v3/projectcalico.org/ippools/seed-pool")
	if err == nil {
		var pool struct {
			Spec json.RawMessage `json:"spec"`
		}
		json.Unmarshal(kv.Value, &pool)
		want := `{"cidr":"10.244.0.0/16","vxlanMode":"Never","ipipMode":"Always","natOutgoing":true,"blockSize":24,"nodeSelector":"all()","allowedUses":["Workload","Tunnel"],"assignmentMode":"Automatic"}`
		if string(pool.Spec) != want {
			t.Errorf("stored pool spec:\n got %s\nwant %s", pool.Spec, want)
		}
	}
}
