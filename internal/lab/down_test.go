package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the lab needs root (network namespaces); run the tests as root")
	}
}

// Down without a state file still removes the lab's namespaces and the
// processes inside them, and leaves other labs alone.
func TestDownSweepsWithoutState(t *testing.T) {
	needRoot(t)
	name := fmt.Sprintf("sweep%d", os.Getpid())
	other := name + "x" // a lab whose name starts with ours
	netnses := []string{topo.NamespaceName(name, topo.KindUnderlay, ""), topo.NamespaceName(name, topo.KindNode, "n1")}
	keep := topo.NamespaceName(other, topo.KindUnderlay, "")
	t.Cleanup(func() {
		for _, n := range append(netnses, keep) {
			_ = ns.Delete(n)
		}
	})
	for _, n := range append(netnses, keep) {
		if err := ns.Create(n); err != nil {
			t.Fatal(err)
		}
	}
	sleeper := nsCommand(netnses[1], "sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sleeper.Wait() }()
	t.Cleanup(func() { _ = sleeper.Process.Kill() })
	// `ip netns exec` enters the namespace and then execs sleep: wait for
	// that, or Down may look before the process is in the namespace.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", sleeper.Process.Pid)); strings.HasSuffix(exe, "/sleep") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the test process did not enter the lab's namespace")
		}
	}

	if err := Down(context.Background(), Config{Root: t.TempDir()}, name); err != nil {
		t.Fatal(err)
	}
	for _, n := range netnses {
		if ns.Exists(n) {
			t.Errorf("namespace %s survived Down", n)
		}
	}
	if !ns.Exists(keep) {
		t.Errorf("Down of lab %s removed %s of lab %s", name, keep, other)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the process inside the lab's namespace survived Down")
	}
	// Down is idempotent.
	if err := Down(context.Background(), Config{Root: t.TempDir()}, name); err != nil {
		t.Fatalf("second Down: %v", err)
	}
}
