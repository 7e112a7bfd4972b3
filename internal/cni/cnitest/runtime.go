package cnitest

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Upstream CNI tools, installed by .ci/setup with go install.
var (
	GoBin   = goBin()
	Cnitool = filepath.Join(GoBin, "cnitool")
)

func goBin() string {
	if d := os.Getenv("GOBIN"); d != "" {
		return d
	}
	if d := os.Getenv("GOPATH"); d != "" {
		return filepath.Join(strings.Split(d, ":")[0], "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "bin")
}

// RequireTools skips tb unless the named upstream tools are installed.
func RequireTools(tb testing.TB, names ...string) {
	tb.Helper()
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(GoBin, n)); err != nil {
			tb.Skipf("needs %s in %s (installed by .ci/setup: go install github.com/containernetworking/...)", n, GoBin)
		}
	}
}

// PluginDir makes a CNI_PATH directory: tortie and tortie-ipam (links to
// the tortie binary, which picks its role by name) and the named upstream
// plugins from GoBin.
func PluginDir(tb testing.TB, tortieBin string, upstream ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	links := map[string]string{"tortie": tortieBin, "tortie-ipam": tortieBin}
	for _, u := range upstream {
		links[u] = filepath.Join(GoBin, u)
	}
	for name, target := range links {
		abs, err := filepath.Abs(target)
		if err == nil {
			err = os.Symlink(abs, filepath.Join(dir, name))
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// Runtime runs cnitool inside a node namespace, as a container runtime on
// that node would run the plugins.
type Runtime struct {
	Node *NetNS
	// ConfDir is NETCONFPATH; PluginDir is CNI_PATH.
	ConfDir, PluginDir string
	// Env is added to every call (CAP_ARGS, CNI_ARGS, ...).
	Env []string

	mu     sync.Mutex
	cached map[string]bool // cnitool's result cache files this runtime may have made
}

// cnitoolCache is where cnitool (libcni's default) caches ADD results.
const cnitoolCache = "/var/lib/cni/results"

// NewRuntime makes a runtime with an empty configuration directory. When
// tb ends it removes the result cache entries cnitool left for ADDs that
// were never deleted.
func NewRuntime(tb testing.TB, node *NetNS, pluginDir string) *Runtime {
	r := &Runtime{Node: node, ConfDir: tb.TempDir(), PluginDir: pluginDir, cached: map[string]bool{}}
	tb.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for f := range r.cached {
			_ = os.Remove(f)
		}
	})
	return r
}

// ContainerID is the container ID cnitool derives from a pod namespace's
// path.
func ContainerID(podNS string) string {
	abs, _ := filepath.Abs(podNS)
	s := sha512.Sum512([]byte(abs))
	return fmt.Sprintf("cnitool-%x", s[:10])
}

// WriteConflist stores a network configuration list under its name.
func (r *Runtime) WriteConflist(tb testing.TB, name string, conflist any) {
	tb.Helper()
	b, err := json.MarshalIndent(conflist, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.ConfDir, name+".conflist"), b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Call is one cnitool run.
type Call struct {
	Stdout, Stderr string
	Took           time.Duration
	Err            error
}

// Cnitool runs "cnitool <verb> <network> <pod netns path>" with extra
// environment, and reports its output, duration and error (the exit
// status; the plugin's error JSON is in Stderr, as cnitool prints it).
func (r *Runtime) Cnitool(verb, network, podNS string, env ...string) Call {
	if verb == "add" {
		r.mu.Lock()
		r.cached[filepath.Join(cnitoolCache, network+"-"+ContainerID(podNS)+"-eth0")] = true
		r.mu.Unlock()
	}
	cmd := exec.Command(Cnitool, verb, network, podNS)
	cmd.Env = append(os.Environ(), "NETCONFPATH="+r.ConfDir, "CNI_PATH="+r.PluginDir)
	cmd.Env = append(cmd.Env, r.Env...)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := r.Node.Run(cmd)
	c := Call{Stdout: out.String(), Stderr: errb.String(), Took: time.Since(start), Err: err}
	if err != nil {
		c.Err = fmt.Errorf("cnitool %s %s %s: %w: %s%s", verb, network, podNS, err, errb.String(), out.String())
	}
	return c
}
