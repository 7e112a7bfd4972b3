package cni

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A conflist written for Calico's plugin parses with only the type
// changed, unknown and not-yet-used fields included.
func TestParseConfCalicoFields(t *testing.T) {
	conf, err := ParseConf([]byte(`{
	  "cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "tortie",
	  "log_level": "info", "log_file_path": "/var/log/calico/cni/cni.log",
	  "datastore_type": "etcdv3", "etcd_endpoints": "https://10.0.0.1:2379, https://10.0.0.2:2379",
	  "etcd_ca_cert_file": "/ca.pem", "etcd_cert_file": "/c.pem", "etcd_key_file": "/k.pem",
	  "nodename": "node-a", "nodename_file": "/x/nodename", "nodename_file_optional": true,
	  "mtu": 0, "num_queues": 2, "ipam": {"type": "tortie-ipam", "assign_ipv6": "true", "ipv4_pools": ["p1"]},
	  "policy": {"type": "k8s"}, "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"},
	  "feature_control": {"floating_ips": true}, "container_settings": {"allow_ip_forwarding": true},
	  "ipam_lock_file": "/var/run/calico/ipam.lock", "readiness_gates": [], "endpoint_status_dir": "/x",
	  "capabilities": {"portMappings": true}, "dataplane_options": {"a": "b"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	cc := conf.clientConfig()
	if len(cc.Etcd.Endpoints) != 2 || cc.Etcd.Endpoints[1] != "https://10.0.0.2:2379" || cc.Etcd.KeyFile != "/k.pem" {
		t.Errorf("client config = %+v", cc)
	}
	if conf.IPAM.Type != "tortie-ipam" || conf.Policy.Type != "k8s" || !conf.ContainerSettings.AllowIPForwarding || conf.NumQueues != 2 {
		t.Errorf("conf = %+v", conf)
	}
}

// The Kubernetes datastore: kubernetes.kubeconfig, or in-cluster without it.
func TestParseConfKubernetes(t *testing.T) {
	conf, err := ParseConf([]byte(`{"name":"k8s-pod-network","datastore_type":"kubernetes",
	  "kubernetes":{"kubeconfig":"/etc/cni/net.d/tortie-kubeconfig"},"policy":{"type":"k8s"}}`))
	if err != nil {
		t.Fatal(err)
	}
	cc := conf.clientConfig()
	if cc.DatastoreType != "kubernetes" || cc.Kubeconfig != "/etc/cni/net.d/tortie-kubeconfig" || !conf.kdd() {
		t.Errorf("client config = %+v", cc)
	}
	if got := conf.profiles(Workload{Orchestrator: OrchestratorK8s, Namespace: "ns1"}); len(got) != 1 || got[0] != "kns.ns1" {
		t.Errorf("profiles = %v, want [kns.ns1]", got)
	}
}

func TestParseConfErrors(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{`{"name":"n","datastore_type":"kubernetes","kubernetes":[1]}`, `kubernetes: `},
		{`{"name":"n","datastore_type":"consul"}`, `datastore_type = "consul"`},
		{`{"name":"n","mtu":40}`, "mtu = 40"},
		{`{"name":"n","log_level":"loud"}`, `log_level = "loud"`},
		{`{"name":"n","etcd_cert_file":"/c"}`, "etcd_key_file"},
		{`{"name":"n","mtu":"1500"}`, "parse network configuration"},
	} {
		_, err := ParseConf([]byte(tc.conf))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.conf, err, tc.want)
		}
	}
}

func TestLogLevels(t *testing.T) {
	for _, l := range []string{"debug", "info", "warning", "WARN", "error", "Error", ""} {
		if _, err := parseLevel(l); err != nil {
			t.Errorf("%q: %v", l, err)
		}
	}
}

func TestNodeName(t *testing.T) {
	dir := t.TempDir()
	c := &NetConf{StateDir: dir}
	_, err := c.NodeName()
	if !errors.Is(err, errNodeAgent) || !strings.Contains(err.Error(), dir+"/nodename") {
		t.Fatalf("missing file: err = %v, want errNodeAgent naming the file", err)
	}
	c.NodenameFileOptional, c.Nodename = true, "explicit"
	if n, err := c.NodeName(); err != nil || n != "explicit" {
		t.Errorf("optional + nodename = %q, %v", n, err)
	}
	writeFile(t, dir+"/nodename", "from-file\n")
	c.Nodename, c.NodenameFileOptional = "", false
	if n, err := c.NodeName(); err != nil || n != "from-file" {
		t.Errorf("file = %q, %v", n, err)
	}
	c.Nodename = "explicit"
	if n, _ := c.NodeName(); n != "explicit" {
		t.Errorf("nodename must win over the file, got %q", n)
	}
	writeFile(t, dir+"/other", "other-file")
	c2 := &NetConf{NodenameFile: dir + "/other", StateDir: "/nonexistent"}
	if n, err := c2.NodeName(); err != nil || n != "other-file" {
		t.Errorf("nodename_file = %q, %v", n, err)
	}
}

func TestLinkMTU(t *testing.T) {
	dir := t.TempDir()
	c := &NetConf{StateDir: dir}
	if m, err := c.LinkMTU(); err != nil || m != DefaultMTU {
		t.Errorf("no file: %d, %v", m, err)
	}
	c.RequireMTUFile = true
	if _, err := c.LinkMTU(); err == nil {
		t.Error("require_mtu_file without a file: no error")
	}
	writeFile(t, dir+"/mtu", "1440\n")
	if m, err := c.LinkMTU(); err != nil || m != 1440 {
		t.Errorf("file: %d, %v", m, err)
	}
	c.MTU = 9000
	if m, _ := c.LinkMTU(); m != 9000 {
		t.Errorf("mtu field must win, got %d", m)
	}
	writeFile(t, dir+"/mtu2", "jumbo")
	c = &NetConf{MTUFile: dir + "/mtu2"}
	if _, err := c.LinkMTU(); err == nil || !strings.Contains(err.Error(), "jumbo") {
		t.Errorf("bad file: %v", err)
	}
}
