package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tortienet/tortie/internal/lab"
)

// The lab has no verb to stop or restart one of its processes, so these
// helpers do it the way the lab itself starts them (internal/lab/proc.go):
// `ip netns exec <netns> <argv>` in a session of its own, output appended
// to the recorded log, with the environment the lab gave the process (read
// back from /proc/<pid>/environ before it is stopped). The new pid is
// written to the lab's state file so that `lab status` and `lab down`
// know the process.

// labProcess is a process of the lab with the environment it runs with.
type labProcess struct {
	rec lab.ProcessRecord
	env []string
}

// process returns the recorded process with the given role (e.g.
// "datastore", "tortie-node/node1"), which must be running.
func (l *nodeLab) process(role string) labProcess {
	l.t.Helper()
	for _, p := range l.state().Processes {
		if p.Role != role {
			continue
		}
		if !procAlive(p.Pid, p.StartTime) {
			l.t.Fatalf("process %s (pid %d) is not running", role, p.Pid)
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Pid))
		if err != nil {
			l.t.Fatalf("environment of %s: %v", role, err)
		}
		env := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		return labProcess{rec: p, env: env}
	}
	l.t.Fatalf("the lab has no process %s", role)
	return labProcess{}
}

// stop signals the process and waits until it is gone.
func (l *nodeLab) stop(p labProcess, sig syscall.Signal) {
	l.t.Helper()
	if err := syscall.Kill(p.rec.Pid, sig); err != nil {
		l.t.Fatalf("kill -%d %d (%s): %v", sig, p.rec.Pid, p.rec.Role, err)
	}
	start := time.Now()
	for procAlive(p.rec.Pid, p.rec.StartTime) {
		if time.Since(start) > settle {
			l.t.Fatalf("%s (pid %d) still runs after signal %d", p.rec.Role, p.rec.Pid, sig)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.t.Logf("%s (pid %d) ended %v after signal %d", p.rec.Role, p.rec.Pid, time.Since(start).Round(time.Millisecond), sig)
}

// start runs the process again as the lab ran it and records the new pid.
func (l *nodeLab) start(p labProcess) labProcess {
	l.t.Helper()
	logf, err := os.OpenFile(p.rec.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		l.t.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "--- e2e test %s: restarting %s\n", l.t.Name(), p.rec.Role)
	cmd := exec.Command("ip", append([]string{"netns", "exec", p.rec.Netns}, p.rec.Argv...)...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", p.rec.Role, err)
	}
	go func() { _ = cmd.Wait() }()
	start, err := procStart(cmd.Process.Pid)
	if err != nil {
		l.t.Fatalf("start %s: %v", p.rec.Role, err)
	}
	p.rec.Pid, p.rec.StartTime = cmd.Process.Pid, start
	l.recordProcess(p.rec)
	return p
}

// recordProcess replaces the pid and start time of the process with the
// same role in the lab's state file (written as the lab writes it: to a
// temporary file, then renamed).
func (l *nodeLab) recordProcess(rec lab.ProcessRecord) {
	l.t.Helper()
	path := filepath.Join(l.stateDir, l.name, "state.json")
	data, err := os.ReadFile(path)
	if err != nil {
		l.t.Fatal(err)
	}
	var st map[string]json.RawMessage
	if err := json.Unmarshal(data, &st); err != nil {
		l.t.Fatal(err)
	}
	var procs []map[string]any
	if err := json.Unmarshal(st["processes"], &procs); err != nil {
		l.t.Fatal(err)
	}
	found := false
	for _, p := range procs {
		if p["role"] == rec.Role {
			p["pid"], p["startTime"], found = rec.Pid, rec.StartTime, true
		}
	}
	if !found {
		l.t.Fatalf("state file has no process %s", rec.Role)
	}
	if st["processes"], err = json.Marshal(procs); err != nil {
		l.t.Fatal(err)
	}
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(path+".e2e", append(out, '\n'), 0o600); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Rename(path+".e2e", path); err != nil {
		l.t.Fatal(err)
	}
}

// procStat returns the fields of /proc/<pid>/stat after the command name.
func procStat(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	if i < 0 || len(f) < 20 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return f, nil
}

func procStart(pid int) (uint64, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// procAlive reports whether pid is still the process started at start
// and not a zombie.
func procAlive(pid int, start uint64) bool {
	f, err := procStat(pid)
	if err != nil {
		return false
	}
	s, err := strconv.ParseUint(f[19], 10, 64)
	return err == nil && s == start && f[0] != "Z"
}
