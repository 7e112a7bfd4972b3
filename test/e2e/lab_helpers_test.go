package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/lab"
	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// labNeeds skips unless the lab can run here: root, iproute2, ping, and
// the CNI plugins: tortie's own in the bin dir (the lab's auto choice), or
// else the upstream ptp and host-local. TORTIE_LAB_CNI=ptp|tortie|bridge
// forces a flavor.
func labNeeds(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the namespace lab needs root")
	}
	for _, tool := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed (bash .ci/setup installs it)", tool)
		}
	}
	_, err := os.Stat(bin("tortie"))
	if cni := labCNI(); cni == topo.CNIPtp || (cni == topo.CNIAuto && err != nil) {
		for _, p := range []string{"ptp", "host-local"} {
			if _, err := os.Stat(filepath.Join(labGoBin(), p)); err != nil {
				t.Skipf("skipping: the %s CNI plugin is not in %s (go install github.com/containernetworking/plugins/plugins/main/ptp@v1.9.1 and .../ipam/host-local@v1.9.1)", p, labGoBin())
			}
		}
	}
}

func labCNI() string {
	if c := os.Getenv("TORTIE_LAB_CNI"); c != "" {
		return c
	}
	return topo.CNIAuto
}

func labGoBin() string {
	if p := os.Getenv("GOPATH"); p != "" {
		return filepath.Join(p, "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "bin")
}

// testLab is one lab a test brings up, in a state directory of its own.
type testLab struct {
	t        *testing.T
	name     string
	stateDir string
}

// newTestLab names a lab after the test and this process, and takes it
// down when the test ends, whatever happened.
func newTestLab(t *testing.T, prefix string) *testLab {
	l := &testLab{t: t, name: fmt.Sprintf("%s%d", prefix, os.Getpid()), stateDir: t.TempDir()}
	t.Cleanup(func() {
		if _, errOut, code := l.run("down"); code != 0 {
			t.Errorf("cleanup: lab down: %s", errOut)
		}
	})
	return l
}

// run runs `tortiectl lab SUB --name N --state-dir D ARGS...`.
func (l *testLab) run(sub string, args ...string) (string, string, int) {
	l.t.Helper()
	full := append([]string{"lab", sub, "--name", l.name, "--state-dir", l.stateDir}, args...)
	return tortiectl(l.t, nil, "", full...)
}

// mustRun is run that fails the test on a non-zero exit.
func (l *testLab) mustRun(sub string, args ...string) string {
	l.t.Helper()
	out, errOut, code := l.run(sub, args...)
	if code != 0 {
		l.t.Fatalf("lab %s %v: exit %d\nstdout:\n%s\nstderr:\n%s", sub, args, code, out, errOut)
	}
	return out
}

func (l *testLab) state() *lab.State {
	l.t.Helper()
	st, err := lab.LoadState(l.stateDir, l.name)
	if err != nil {
		l.t.Fatal(err)
	}
	return st
}

// leftovers is what a lab could leave on the machine.
type leftovers struct {
	namespaces, mounts, processes, links, files []string
}

func (lo leftovers) String() string {
	return fmt.Sprintf("namespaces %v, mounts %v, processes %v, host links %v, files %v",
		lo.namespaces, lo.mounts, lo.processes, lo.links, lo.files)
}

func (lo leftovers) empty() bool {
	return len(lo.namespaces)+len(lo.mounts)+len(lo.processes)+len(lo.links)+len(lo.files) == 0
}

// leftovers lists what of the lab exists: its namespaces, their mounts,
// processes inside them or started from its directory, host links named
// like the lab's links (which must never be in the host), and its files.
func (l *testLab) leftovers(linkNames []string) leftovers {
	l.t.Helper()
	var lo leftovers
	prefix := topo.NamespacePrefixOf(l.name)
	lo.namespaces, _ = ns.List(prefix)
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, prefix) {
				lo.mounts = append(lo.mounts, line)
			}
		}
	}
	dir := filepath.Join(l.stateDir, l.name)
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		cmd := strings.ReplaceAll(string(data), "\x00", " ")
		if err == nil && (strings.Contains(cmd, dir) || strings.Contains(cmd, prefix)) {
			lo.processes = append(lo.processes, filepath.Base(filepath.Dir(p))+": "+cmd)
		}
	}
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		l.t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if slices.Contains(linkNames, name) {
			lo.links = append(lo.links, name)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		lo.files = append(lo.files, dir)
	}
	return lo
}

// linkNames are the names of the links a lab made, from its state.
func linkNames(st *lab.State) []string {
	var names []string
	for _, r := range st.Links {
		if r.Name != "eth0" && r.Name != "lo" { // the host has an eth0 of its own
			names = append(names, r.Name)
		}
	}
	for _, p := range st.Pods {
		if p.HostIf != "" {
			names = append(names, p.HostIf)
		}
	}
	return names
}
