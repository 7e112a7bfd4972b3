package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nsCommand returns a command that runs argv inside the named namespace
// through `ip netns exec`, which also gives the process a /sys of that
// namespace (and keeps its pid: ip execs the command).
func nsCommand(netns string, argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", netns}, argv...)...)
}

// startProcess records p, starts it detached (own session, output to
// p.Log) inside p.Netns, and records its pid and start time. The process
// outlives the lab command; Down stops it.
func (l *Lab) startProcess(p ProcessRecord, env []string) error {
	p.Env = env
	idx := -1
	if err := l.rec.update(func(st *State) {
		idx = len(st.Processes)
		st.Processes = append(st.Processes, p)
	}); err != nil {
		return err
	}
	return l.spawn(idx)
}

// spawn starts the recorded process idx as recorded (argv, namespace, log,
// environment) and records its new pid and start time. Start uses it to
// run a stopped process again.
func (l *Lab) spawn(idx int) error {
	p := l.rec.snapshot().Processes[idx]
	logf, err := os.OpenFile(p.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.Role, err)
	}
	defer logf.Close()
	cmd := nsCommand(p.Netns, p.Argv...)
	cmd.Env = p.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if l.cfg.DieWithCaller {
		// Strictly, sent when the thread that forked exits: Go ends a
		// thread only when a goroutine locked to it ends still locked
		// (ns.Do, when it cannot restore the thread's namespace), rare
		// enough for a test's lab.
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Role, err)
	}
	go func() { _ = cmd.Wait() }() // reap it if it dies while we run
	pid := cmd.Process.Pid
	start, err := procStartTime(pid)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.Role, err)
	}
	l.log.Debug("started process", "role", p.Role, "pid", pid, "netns", p.Netns)
	return l.rec.update(func(st *State) {
		st.Processes[idx].Pid, st.Processes[idx].StartTime = pid, start
	})
}

// procStat returns the fields of /proc/<pid>/stat after the command name:
// [0] is the state, [19] the start time.
func procStat(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return f, nil
}

func procStartTime(pid int) (uint64, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// alive reports whether the recorded process still runs: same pid, same
// start time, not a zombie.
func alive(p ProcessRecord) bool {
	if p.Pid <= 0 {
		return false
	}
	f, err := procStat(p.Pid)
	if err != nil {
		return false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return err == nil && start == p.StartTime && f[0] != "Z"
}

// stopProcess ends a recorded process: SIGTERM to its process group, then
// SIGKILL after grace. A pid now used by another process is left alone.
func stopProcess(p ProcessRecord, grace time.Duration) error {
	_, err := signalProcess(p, syscall.SIGTERM, grace)
	return err
}

// signalProcess sends sig to the recorded process (and its process group,
// when it leads one) and waits for it to end; if it still runs after
// grace, it gets SIGKILL. killed says SIGKILL was needed (or was sig).
func signalProcess(p ProcessRecord, sig syscall.Signal, grace time.Duration) (killed bool, err error) {
	if !alive(p) {
		return false, nil
	}
	signal := func(sig syscall.Signal) {
		if pgid, err := syscall.Getpgid(p.Pid); err == nil && pgid == p.Pid {
			_ = syscall.Kill(-p.Pid, sig)
		}
		_ = syscall.Kill(p.Pid, sig)
	}
	if sig != syscall.SIGKILL {
		signal(sig)
		if waitGone(func() bool { return alive(p) }, grace) {
			return false, nil
		}
	}
	signal(syscall.SIGKILL)
	if waitGone(func() bool { return alive(p) }, 5*time.Second) {
		return true, nil
	}
	return true, fmt.Errorf("process %s (pid %d) survives SIGKILL", p.Role, p.Pid)
}

// waitGone polls until running() is false or d has passed.
func waitGone(running func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for running() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// pidsInNamespaces returns the processes (not this one) whose network
// namespace is one of inodes, read from /proc/<pid>/ns/net.
func pidsInNamespaces(inodes map[uint64]string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		link, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "net"))
		if err != nil {
			continue // gone, or a kernel thread
		}
		var ino uint64
		if _, err := fmt.Sscanf(link, "net:[%d]", &ino); err != nil {
			continue
		}
		if _, ok := inodes[ino]; ok {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killPids SIGKILLs pids (checking each is still the same process) and
// waits until they are gone.
func killPids(pids []int) error {
	var recs []ProcessRecord
	for _, pid := range pids {
		start, err := procStartTime(pid)
		if err != nil {
			continue
		}
		recs = append(recs, ProcessRecord{Role: "process in a lab namespace", Pid: pid, StartTime: start})
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	var errs []error
	for _, r := range recs {
		if !waitGone(func() bool { return alive(r) }, 5*time.Second) {
			errs = append(errs, fmt.Errorf("process %d survives SIGKILL", r.Pid))
		}
	}
	return errors.Join(errs...)
}

// isExecutable reports whether path is a regular file someone may execute.
func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-limit, 0)
	buf := make([]byte, st.Size()-off)
	n, _ := f.ReadAt(buf, off) // io.EOF at the end is expected
	return strings.TrimSpace(string(buf[:n]))
}
