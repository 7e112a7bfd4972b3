package e2e

import (
	"strconv"
	"strings"
	"syscall"

	"github.com/tortienet/tortie/internal/lab"
)

// Stopping and starting a process of the lab goes through `tortiectl lab
// stop` and `lab start`, which run it again as the lab first ran it and
// record its new pid in the state file, so that `lab status` and `lab
// down` know the process.

// process returns the recorded process with the given role (e.g.
// "datastore", "tortie-node/node1"), which must be running.
func (l *nodeLab) process(role string) lab.ProcessRecord {
	l.t.Helper()
	for _, p := range l.state().Processes {
		if p.Role != role {
			continue
		}
		if !p.Running() {
			l.t.Fatalf("process %s (pid %d) is not running", role, p.Pid)
		}
		return p
	}
	l.t.Fatalf("the lab has no process %s", role)
	return lab.ProcessRecord{}
}

// stop ends the process with sig (`lab stop --signal`) and fails unless it
// ended by itself within the settle time (lab stop would then SIGKILL it).
func (l *nodeLab) stop(p lab.ProcessRecord, sig syscall.Signal) {
	l.t.Helper()
	out := l.mustRun("stop", p.Role, "--signal", strconv.Itoa(int(sig)), "--grace", settle.String())
	l.t.Logf("lab stop %s (signal %d): %s", p.Role, sig, out)
	if p.Running() {
		l.t.Fatalf("%s (pid %d) still runs after lab stop", p.Role, p.Pid)
	}
	if sig != syscall.SIGKILL && strings.Contains(out, "was killed") {
		l.t.Fatalf("%s (pid %d) did not end within %v of signal %d", p.Role, p.Pid, settle, sig)
	}
}

// start runs the process again as the lab ran it (`lab start`) and returns
// its new record.
func (l *nodeLab) start(p lab.ProcessRecord) lab.ProcessRecord {
	l.t.Helper()
	l.t.Logf("lab start %s: %s", p.Role, l.mustRun("start", p.Role))
	np := l.process(p.Role)
	if np.Pid == p.Pid && np.StartTime == p.StartTime {
		l.t.Fatalf("lab start %s recorded the old pid %d", p.Role, p.Pid)
	}
	return np
}
