package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/lab"
)

// Up then down leaves no namespace, mount, process, link or file behind.
func TestLabUpDownLeavesNothing(t *testing.T) {
	labNeeds(t)
	t.Parallel()
	l := newTestLab(t, "e2eud")
	out := l.mustRun("up", "--nodes", "2", "--pods-per-node", "1", "--underlay", "routed", "--cni", labCNI())
	t.Log(out)
	st := l.state()
	if st.Phase != lab.PhaseUp || len(st.Pods) != 2 {
		t.Fatalf("after up: phase %s, %d pods", st.Phase, len(st.Pods))
	}
	before := l.leftovers(linkNames(st))
	// underlay, outside, 2 nodes, 2 pods
	if len(before.namespaces) != 6 || len(before.processes) == 0 || len(before.files) != 1 {
		t.Fatalf("the lab is not all there: %v", before)
	}
	if len(before.links) != 0 {
		t.Fatalf("lab links in the host namespace: %v", before.links)
	}
	l.mustRun("down")
	if lo := l.leftovers(linkNames(st)); !lo.empty() {
		t.Fatalf("left behind after down: %v", lo)
	}
	l.mustRun("down") // idempotent
}

// SIGKILL of `lab up` half-way leaves namespaces and a datastore process;
// down removes all of them from the state file.
func TestLabDownAfterSIGKILL(t *testing.T) {
	labNeeds(t)
	t.Parallel()
	l := newTestLab(t, "e2ekill")
	up := exec.Command(bin("tortiectl"), "lab", "up", "--name", l.name, "--state-dir", l.stateDir,
		"--nodes", "2", "--pods-per-node", "10", "--cni", labCNI())
	up.Stderr = os.Stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once it has started the datastore and some pods.
	stateFile := filepath.Join(l.stateDir, l.name, "state.json")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, err := lab.LoadState(l.stateDir, l.name); err == nil && len(st.Pods) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			_ = up.Process.Kill()
			t.Fatalf("lab up did not get to its pods within a minute (%s)", stateFile)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := up.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = up.Wait()
	st := l.state()
	t.Logf("killed in phase %s with %d namespaces, %d pods recorded", st.Phase, len(st.Namespaces), len(st.Pods))
	lo := l.leftovers(linkNames(st))
	if len(lo.namespaces) == 0 {
		t.Fatal("nothing to clean up: the test did not kill lab up half-way")
	}
	ds := st.Processes[0]
	if _, err := os.Stat("/proc/" + strconv.Itoa(ds.Pid)); err != nil {
		t.Fatalf("the datastore (pid %d) died with lab up; it should outlive it", ds.Pid)
	}
	l.mustRun("down")
	if lo := l.leftovers(linkNames(st)); !lo.empty() {
		t.Fatalf("left behind after down: %v", lo)
	}
}
