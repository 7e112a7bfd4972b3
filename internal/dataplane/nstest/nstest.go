// Package nstest gives the dataplane's privileged tests a throwaway network
// namespace and one way to run code inside it.
//
// Every namespace is named "tdp-<test>-<random>", is created by the test and
// is removed when the test ends, whether it passed or not. Code runs inside
// it only through NS.Do, which uses a fresh goroutine locked to its OS thread
// and always switches back to the original namespace; if switching back
// fails, the goroutine ends still locked, so the runtime discards the thread
// rather than let anything else run in the wrong namespace. The host's own
// namespace is never changed.
package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// RequireRoot skips tb, saying why, unless the process runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("skipped: needs root to create network namespaces and program routes, devices and nftables (CI runs as root)")
	}
}

// NS is a named network namespace made for one test.
type NS struct {
	Name string
}

// New creates a namespace with loopback up, registered for removal when tb
// ends. It skips tb without root.
func New(tb testing.TB) *NS {
	tb.Helper()
	RequireRoot(tb)
	n := &NS{Name: name(tb.Name())}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		tb.Fatalf("ip netns add %s: %v: %s", n.Name, err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			tb.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
		}
	})
	n.MustRun(tb, "ip", "link", "set", "lo", "up")
	return n
}

// name is "tdp-" plus a short, safe form of the test name and a random part.
func name(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	s := strings.TrimPrefix(b.String(), "test")
	if len(s) > 16 {
		s = s[:16]
	}
	rnd := make([]byte, 3)
	_, _ = rand.Read(rnd)
	return "tdp-" + s + "-" + hex.EncodeToString(rnd)
}

// Do runs fn on an OS thread inside the namespace and returns its error.
// fn runs on another goroutine, so it must not call t.Fatal; it returns
// errors instead. Sockets and child processes made inside fn belong to the
// namespace.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(n.Name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open namespace %s: %w", n.Name, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", n.Name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- fmt.Errorf("return from namespace %s: %w", n.Name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Run runs a command inside the namespace and returns its combined output.
func (n *NS) Run(name string, args ...string) (string, error) {
	var out []byte
	err := n.Do(func() error {
		var err error
		out, err = exec.Command(name, args...).CombinedOutput()
		return err
	})
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// MustRun is Run that fails tb on error.
func (n *NS) MustRun(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := n.Run(name, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
