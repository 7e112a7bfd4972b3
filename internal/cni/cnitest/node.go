package cnitest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/datastore/embedded"
	"github.com/tortienet/tortie/internal/datastore/etcd"
)

// Addresses as a node sees them.
const (
	// NodeIP is the node's own address, on its loopback.
	NodeIP = "10.99.0.1"
	// EtcdInNode is where the datastore is reachable inside the node
	// namespace (a forwarder to the embedded etcd on the host's loopback).
	EtcdInNode = "127.0.0.1:2379"
	// DefaultRange is the host-local range of TortieConf.
	DefaultRange = "10.244.7.0/24"
)

// Node is one node for driving the plugin: a namespace with no default
// route, an embedded etcd reachable from inside it, the node agent's state
// files (nodename), and cnitool with the tortie and upstream plugins.
type Node struct {
	Name string // the node name in the nodename file
	// Prefix starts the names of every namespace of this node.
	Prefix  string
	NS      *NetNS
	Runtime *Runtime
	Etcd    *embedded.Server
	EtcdCfg embedded.Config
	// Client reads and writes the datastore from the test process.
	Client                     *client.Client
	StateDir, IPAMDir, LogFile string
}

// NewNode sets a node up; everything is removed when tb ends. prefix
// starts the namespace names ("tcni-<id>-"); upstream names the plugins
// from GoBin to put in CNI_PATH.
func NewNode(tb testing.TB, prefix, name, tortieBin string, upstream ...string) *Node {
	tb.Helper()
	n := &Node{Name: name, Prefix: prefix}
	n.NS = NewNetNS(tb, prefix+"node")
	n.NS.MustIP(tb, "addr", "add", NodeIP+"/32", "dev", "lo")

	dir := tb.TempDir()
	n.EtcdCfg = embedded.Config{DataDir: filepath.Join(dir, "etcd"), ClientAddr: freeAddr(tb), PeerAddr: freeAddr(tb)}
	n.StartEtcd(tb)
	tb.Cleanup(func() { n.Etcd.Close() })
	Forward(tb, n.NS, EtcdInNode, n.EtcdCfg.ClientAddr)
	s, err := etcd.New(context.Background(), etcd.Config{Endpoints: []string{"http://" + n.EtcdCfg.ClientAddr}})
	if err != nil {
		tb.Fatal(err)
	}
	cl := client.New(s)
	tb.Cleanup(func() { cl.Close() })
	n.Client = cl

	n.StateDir, n.IPAMDir, n.LogFile = filepath.Join(dir, "state"), filepath.Join(dir, "ipam"), filepath.Join(dir, "cni.log")
	if err := os.MkdirAll(n.StateDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	n.WriteState(tb, conventions.NodenameFile, name)
	n.Runtime = NewRuntime(tb, n.NS, PluginDir(tb, tortieBin, upstream...))
	return n
}

func freeAddr(tb testing.TB) string {
	a, err := embedded.FreeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// StartEtcd (re)starts the embedded etcd on its data directory.
func (n *Node) StartEtcd(tb testing.TB) {
	tb.Helper()
	s, err := embedded.Start(context.Background(), n.EtcdCfg)
	if err != nil {
		tb.Fatal(err)
	}
	n.Etcd = s
}

// WriteState writes one of the node agent's state files.
func (n *Node) WriteState(tb testing.TB, name, content string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(n.StateDir, name), []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Pod makes a pod namespace.
func (n *Node) Pod(tb testing.TB, name string) *NetNS {
	return NewNetNS(tb, n.Prefix+name)
}

// TortieConf is the tortie plugin's entry of a conflist for this node,
// with host-local IPAM over the given ranges (DefaultRange when none).
func (n *Node) TortieConf(ranges ...map[string]any) map[string]any {
	if len(ranges) == 0 {
		ranges = []map[string]any{{"subnet": DefaultRange}}
	}
	var rs [][]map[string]any
	for _, r := range ranges {
		rs = append(rs, []map[string]any{r})
	}
	return map[string]any{
		"type": "tortie", "datastore_type": "etcdv3", "etcd_endpoints": "http://" + EtcdInNode,
		"datastore_timeout_seconds": 2, "state_dir": n.StateDir, "mtu": 0,
		"log_level": "debug", "log_file_path": n.LogFile,
		"ipam":   map[string]any{"type": "host-local", "dataDir": n.IPAMDir, "ranges": rs},
		"policy": map[string]any{"type": "none"}, "kubernetes": map[string]any{"kubeconfig": "/nonexistent"},
		"an_unknown_field": []int{1, 2},
	}
}

// Network writes a conflist and returns its name.
func (n *Node) Network(tb testing.TB, name, version string, plugins ...map[string]any) string {
	n.Runtime.WriteConflist(tb, name, map[string]any{"cniVersion": version, "name": name, "plugins": plugins})
	return name
}

// TortieBinary is $TORTIE_BIN/tortie when set (make test, make bench),
// else a fresh build into dir, static as make builds it.
func TortieBinary(tb testing.TB, dir string) string {
	tb.Helper()
	if d := os.Getenv("TORTIE_BIN"); d != "" {
		p := filepath.Join(d, "tortie")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(dir, "tortie")
	cmd := exec.Command("go", "build", "-o", p, "github.com/tortienet/tortie/cmd/tortie")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build tortie: %v: %s", err, out)
	}
	return p
}
