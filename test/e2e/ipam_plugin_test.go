package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/etcd"
)

// ipamPlugin runs bin/tortie-ipam as a runtime would (CNI_* environment,
// the network configuration on stdin) and returns stdout and the exit code.
func ipamPlugin(t *testing.T, command, containerID, conf string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin("tortie-ipam"))
	cmd.Env = append(os.Environ(), "CNI_COMMAND="+command, "CNI_CONTAINERID="+containerID,
		"CNI_NETNS=/var/run/netns/tipam-unused", "CNI_IFNAME=eth0", "CNI_PATH="+binDir)
	cmd.Stdin = strings.NewReader(conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

func ipamConf(version, endpoint, extra string) string {
	return fmt.Sprintf(`{"cniVersion":%q,"name":"net1","type":"tortie","etcd_endpoints":%q,"nodename":"n1",
"nodename_file_optional":true,"datastore_timeout_seconds":2%s,"ipam":{"type":"tortie-ipam"}}`, version, endpoint, extra)
}

// startDatastore serves an embedded etcd for one test and returns its
// endpoint and a client.
func startDatastore(t *testing.T) (string, *client.Client) {
	t.Helper()
	ca, _ := embedded.FreeAddr()
	pa, _ := embedded.FreeAddr()
	srv, err := embedded.Start(t.Context(), embedded.Config{DataDir: t.TempDir(), ClientAddr: ca, PeerAddr: pa})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s, err := etcd.New(t.Context(), etcd.Config{Endpoints: srv.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(s)
	t.Cleanup(func() { c.Close() })
	return srv.Endpoints()[0], c
}

func TestIPAMPlugin(t *testing.T) {
	ep, c := startDatastore(t)
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "tiny"}}
	pool.Spec.CIDR, pool.Spec.BlockSize = "10.99.0.0/30", 30
	if _, err := c.Create(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	type result struct {
		CNIVersion string `json:"cniVersion"`
		IPs        []struct {
			Address string `json:"address"`
			Version string `json:"version"`
		} `json:"ips"`
		Code uint   `json:"code"`
		Msg  string `json:"msg"`
	}
	parse := func(out string) result {
		var r result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("plugin output %q: %v", out, err)
		}
		return r
	}

	// Every CNI version the runtime asks for gets a result of that version.
	var first string
	for i, v := range []string{"0.4.0", "1.0.0", "1.1.0"} {
		out, code := ipamPlugin(t, "ADD", fmt.Sprintf("c%d", i), ipamConf(v, ep, ""))
		r := parse(out)
		if code != 0 || r.CNIVersion != v || len(r.IPs) != 1 || !strings.HasPrefix(r.IPs[0].Address, "10.99.0.") || !strings.HasSuffix(r.IPs[0].Address, "/32") {
			t.Fatalf("ADD with cniVersion %s: exit %d, %s", v, code, out)
		}
		if v == "0.4.0" && r.IPs[0].Version != "4" {
			t.Errorf("a 0.4.0 result lacks version 4: %s", out)
		}
		if i == 0 {
			first = r.IPs[0].Address
		}
	}
	// A repeated ADD returns what the container already has.
	out, code := ipamPlugin(t, "ADD", "c0", ipamConf("1.0.0", ep, ""))
	if r := parse(out); code != 0 || len(r.IPs) != 1 || r.IPs[0].Address != first {
		t.Errorf("repeated ADD: exit %d, %s; want %s again", code, out, first)
	}
	// The pool's fourth address, then exhaustion with a CNI error.
	if _, code := ipamPlugin(t, "ADD", "c3", ipamConf("1.0.0", ep, "")); code != 0 {
		t.Fatal("the last free address was refused")
	}
	out, code = ipamPlugin(t, "ADD", "c4", ipamConf("1.0.0", ep, ""))
	if r := parse(out); code == 0 || r.Code == 0 || !strings.Contains(r.Msg, "exhausted") {
		t.Errorf("ADD on a full pool: exit %d, %s; want a CNI error saying the pools are exhausted", code, out)
	}
	// DEL frees, and is idempotent.
	for range 2 {
		if out, code := ipamPlugin(t, "DEL", "c0", ipamConf("1.0.0", ep, "")); code != 0 {
			t.Fatalf("DEL: exit %d, %s", code, out)
		}
	}
	if out, code := ipamPlugin(t, "ADD", "c5", ipamConf("1.0.0", ep, "")); code != 0 {
		t.Errorf("ADD after DEL freed an address: exit %d, %s", code, out)
	}
	// GC keeps the valid attachments and releases the rest.
	gc := strings.Replace(ipamConf("1.1.0", ep, ""), `"ipam"`, `"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}],"ipam"`, 1)
	if out, code := ipamPlugin(t, "GC", "", gc); code != 0 {
		t.Fatalf("GC: exit %d, %s", code, out)
	}
	handles, _, err := c.Store().ListKeys(context.Background(), "/calico/ipam/v2/handle/")
	if err != nil || len(handles) != 1 || !strings.HasSuffix(handles[0].Key, "/net1.c1") {
		t.Errorf("after GC the handles are %v (%v), want only net1.c1", handles, err)
	}
	// An unreachable datastore is a CNI error that says so.
	out, code = ipamPlugin(t, "ADD", "c9", ipamConf("1.0.0", "http://127.0.0.1:1", ""))
	if r := parse(out); code == 0 || r.Code != 11 || !strings.Contains(r.Msg, "datastore unreachable") {
		t.Errorf("unreachable datastore: exit %d, %s", code, out)
	}
}
