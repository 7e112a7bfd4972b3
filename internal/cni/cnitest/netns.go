// Package cnitest drives the tortie CNI plugin as a container runtime does,
// for the end-to-end tests and the benchmarks: named network namespaces
// made for the run and removed after it, the plugin binaries in a CNI_PATH
// directory, cnitool run inside a "node" namespace (so that nothing touches
// the host's namespace), and a TCP forwarder that lets processes in that
// namespace reach a datastore listening on the host's loopback.
//
// Everything here needs root; RequireRoot skips a test or benchmark
// without it.
package cnitest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
)

// RequireRoot skips tb, saying why, unless the process runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: creates network namespaces, veths and routes (run as root, e.g. in CI)")
	}
}

// RunID is a short random string to make names unique to one run.
func RunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NetNS is a named network namespace (/var/run/netns/<name>) made for a
// test.
type NetNS struct {
	Name string
}

// Path is the namespace's file, as CNI_NETNS wants it.
func (n *NetNS) Path() string { return filepath.Join("/var/run/netns", n.Name) }

// NewNetNS creates a namespace with loopback up and removes it (and so
// everything in it) when tb ends, whether it passed or not.
func NewNetNS(tb testing.TB, name string) *NetNS {
	tb.Helper()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		tb.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	n := &NetNS{Name: name}
	tb.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			tb.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	n.MustIP(tb, "link", "set", "lo", "up")
	return n
}

// Do runs fn with the calling goroutine's thread inside the namespace.
// Sockets created in fn stay in the namespace after fn returns.
func (n *NetNS) Do(fn func() error) error {
	return ns.WithNetNSPath(n.Path(), func(ns.NetNS) error { return fn() })
}

// Run runs cmd inside the namespace: it is started from a thread inside
// the namespace, which the child inherits (cheaper than "ip netns exec",
// which also sets up a mount namespace).
func (n *NetNS) Run(cmd *exec.Cmd) error {
	return n.Do(cmd.Run)
}

// Start starts cmd inside the namespace.
func (n *NetNS) Start(cmd *exec.Cmd) error {
	return n.Do(cmd.Start)
}

// IP runs "ip -n <ns> args..." and returns its combined output.
func (n *NetNS) IP(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip -n %s %s: %w: %s", n.Name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// MustIP is IP failing tb on error.
func (n *NetNS) MustIP(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := n.IP(args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Exec runs a program inside the namespace and returns its combined
// output.
func (n *NetNS) Exec(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	out, err := n.combined(cmd)
	if err != nil {
		return out, fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), n.Name, err, out)
	}
	return out, nil
}

func (n *NetNS) combined(cmd *exec.Cmd) (string, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := n.Run(cmd)
	return out.String(), err
}

// Sysctl reads /proc/sys/<name> inside the namespace.
func (n *NetNS) Sysctl(name string) (string, error) {
	var v string
	err := n.Do(func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys", name))
		v = strings.TrimSpace(string(b))
		return err
	})
	return v, err
}

// SetSysctl writes /proc/sys/<name> inside the namespace.
func (n *NetNS) SetSysctl(name, value string) error {
	return n.Do(func() error {
		return os.WriteFile(filepath.Join("/proc/sys", name), []byte(value), 0o644)
	})
}
