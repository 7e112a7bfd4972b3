package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/bgp/bgpstatus"
	"github.com/tortienet/tortie/internal/conventions"
)

func runStatus(env map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	a := &App{Out: &out, Err: &errb, In: strings.NewReader(""), Getenv: func(k string) string { return env[k] }}
	code := a.Run(context.Background(), append([]string{"node", "status"}, args...))
	return code, out.String(), errb.String()
}

func TestNodeStatus(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := runStatus(map[string]string{"TORTIE_STATE_DIR": dir})
	if code != 1 || !strings.Contains(errs, "Calico process is not running") {
		t.Errorf("no agent: code %d, stderr %q", code, errs)
	}

	ln, err := net.Listen("unix", filepath.Join(dir, conventions.StatusSocket))
	if err != nil {
		t.Fatal(err)
	}
	st := bgpstatus.Status{Running: true, Peers: []bgpstatus.Peer{{Name: "Mesh_10_0_0_2",
		Address: netip.MustParseAddr("10.0.0.2"), State: "Established", Since: time.Now()}}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(st)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	code, out, errs := runStatus(nil, "--state-dir", dir)
	for _, want := range []string{"Calico process is running.\n\nIPv4 BGP status\n",
		"| 10.0.0.2     | node-to-node mesh | up    |", "| Established |", "No IPv6 peers found."} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("node status = %d, stdout:\n%s\nstderr %q; want it to contain %q", code, out, errs, want)
		}
	}
	code, out, _ = runStatus(map[string]string{"TORTIE_STATE_DIR": dir}, "-o", "json")
	var back bgpstatus.Status
	if err := json.Unmarshal([]byte(out), &back); code != 0 || err != nil || len(back.Peers) != 1 || back.Peers[0].Name != "Mesh_10_0_0_2" {
		t.Errorf("node status -o json = %d %q (%v)", code, out, err)
	}
}
