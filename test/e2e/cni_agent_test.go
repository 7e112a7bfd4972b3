package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/cni/cnitest"
)

// TestCniThroughNodeAgent: with tortie-node running on the node, the
// plugin reaches the datastore through the agent's socket (no connection
// of its own); when the agent has died and left its socket behind, the
// plugin connects to etcd itself; either way pods are wired and recorded
// the same, and DEL takes everything back.
func TestCniThroughNodeAgent(t *testing.T) {
	agentBin := bin("tortie-node")
	if _, err := os.Stat(agentBin); err != nil {
		t.Skipf("skipping: %s is missing: make build, then TORTIE_BIN=$PWD/bin go test ./test/e2e", agentBin)
	}
	e := newCNIEnv(t)
	e.pool("tcni-pool", "10.245.0.0/16", 26)
	conf := e.tortieIPAMConf("tcni-pool")
	conf["log_level"], conf["log_file_path"] = "debug", e.LogFile
	net := e.network("tcni-net", "1.1.0", conf)
	agent := e.StartAgent(t, agentBin)

	a, b := e.pod("a"), e.pod("b")
	resA := e.add(net, a)
	logged := readLog(t, e.LogFile)
	if !strings.Contains(logged, "datastore through the node agent") {
		t.Errorf("the plugin did not use the agent's socket; its log:\n%s", logged)
	}
	if w := e.wep(net, a); w == nil || w.Spec.IPNetworks[0] != resA.IPs[0].Address {
		t.Errorf("endpoint of pod a through the agent: %+v, want address %s", w, resA.IPs[0].Address)
	}

	agent.Kill()
	if _, err := os.Stat(agent.Socket); err != nil {
		t.Fatalf("the killed agent's socket should stay behind: %v", err)
	}
	resB := e.add(net, b)
	if logged := readLog(t, e.LogFile); !strings.Contains(logged, "does not answer; connecting to etcd directly") {
		t.Errorf("no fallback warning in the plugin's log:\n%s", logged)
	}
	if w := e.wep(net, b); w == nil || w.Spec.IPNetworks[0] != resB.IPs[0].Address {
		t.Errorf("endpoint of pod b with the agent dead: %+v, want address %s", w, resB.IPs[0].Address)
	}
	// Pod b's interface has no policy while no agent runs (fail-closed):
	// a cannot reach it; the restarted agent programs it, and a reaches b.
	ipB := strings.Split(resB.IPs[0].Address, "/")[0]
	if out, err := a.Exec("ping", "-c", "1", "-W", "1", ipB); err == nil {
		t.Errorf("ping a -> b got through before any agent programmed b's interface:\n%s", out)
	}
	e.StartAgent(t, agentBin)
	if out, err := a.Exec("ping", "-c", "1", "-w", "10", ipB); err != nil {
		t.Errorf("ping a -> b: %v\n%s", err, out)
	}
	e.del(net, a)
	e.del(net, b)
	for name, pod := range map[string]*cnitest.NetNS{"a": a, "b": b} {
		if w := e.wep(net, pod); w != nil {
			t.Errorf("endpoint of pod %s left after DEL: %+v", name, w)
		}
		if e.handleExists(net, containerID(pod)) {
			t.Errorf("addresses of pod %s still held after DEL", name)
		}
	}
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
