package cnitest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/conventions"
)

// Agent is a tortie-node process running in a node's namespace.
type Agent struct {
	cmd    *exec.Cmd
	Socket string // where it serves the datastore to the plugin
	Log    *bytes.Buffer
	done   chan struct{}
}

// StartAgent runs the tortie-node binary in the node's namespace, on the
// node's state directory and datastore, with no default pool and no
// health or metrics ports, and waits until it serves its plugin socket.
// It is stopped when tb ends (or by Stop).
func (n *Node) StartAgent(tb testing.TB, agentBin string) *Agent {
	tb.Helper()
	a := &Agent{Socket: filepath.Join(n.StateDir, conventions.AgentSocket), Log: &bytes.Buffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(agentBin)
	a.cmd.Env = append(os.Environ(),
		"NODENAME="+n.Name, "TORTIE_STATE_DIR="+n.StateDir, "IP="+NodeIP,
		"DATASTORE_TYPE=etcdv3", "ETCD_ENDPOINTS=http://"+EtcdInNode,
		"NO_DEFAULT_POOLS=true", "CALICO_NETWORKING_BACKEND=none",
		"FELIX_HEALTHPORT=0", "FELIX_PROMETHEUSMETRICSPORT=0")
	a.cmd.Stdout, a.cmd.Stderr = a.Log, a.Log
	if err := n.NS.Start(a.cmd); err != nil {
		tb.Fatalf("start %s: %v", agentBin, err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	tb.Cleanup(a.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if fi, err := os.Stat(a.Socket); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return a
		}
		select {
		case <-a.done:
			tb.Fatalf("tortie-node exited before serving %s: %s", a.Socket, a.Log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			a.Stop()
			tb.Fatalf("tortie-node did not serve %s within 30s: %s", a.Socket, a.Log)
		}
	}
}

// Stop terminates the agent and waits for it to exit.
func (a *Agent) Stop() {
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// Kill ends the agent with SIGKILL, as a crash would: its socket file stays.
func (a *Agent) Kill() {
	_ = a.cmd.Process.Kill()
	<-a.done
}

// AgentBinary is $TORTIE_BIN/tortie-node when set, else a fresh build
// into dir.
func AgentBinary(tb testing.TB, dir string) string {
	tb.Helper()
	if d := os.Getenv("TORTIE_BIN"); d != "" {
		p := filepath.Join(d, "tortie-node")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(dir, "tortie-node")
	cmd := exec.Command("go", "build", "-o", p, "github.com/tortienet/tortie/cmd/tortie-node")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build tortie-node: %v: %s", err, out)
	}
	return p
}
