package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tortienet/tortie/internal/cni/cnitest"
)

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user + system) process pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * clockTick, nil
}

// procRunTime is the CPU time of process pid's threads in nanoseconds
// (the first field of each /proc/PID/task/TID/schedstat): what procCPU
// says, without its clock-tick resolution (10 ms), which over a few
// changes of about a millisecond each is all the figure. Threads that
// ended are not counted; it falls back to procCPU when schedstat is not
// there.
func procRunTime(pid int) (time.Duration, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/schedstat", pid)); err != nil {
		return procCPU(pid)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/task/%s/schedstat: %q", pid, t.Name(), b)
		}
		sum += ns
	}
	return time.Duration(sum), nil
}

// procMem is what process pid holds: its resident set, the private part
// of it (Private_Dirty of smaps_rollup: the memory the process wrote,
// heap, stacks and data, which it alone costs; the binary's clean pages
// are left out), and the peak resident set (VmHWM).
type procMem struct{ rss, private, peak int64 }

func readProcMem(pid int) (procMem, error) {
	var m procMem
	kb := func(path string, fields map[string]*int64, add bool) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			name, rest, ok := strings.Cut(sc.Text(), ":")
			if p, want := fields[name]; ok && want {
				v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if add {
					*p += v * 1024
				} else {
					*p = v * 1024
				}
			}
		}
		return sc.Err()
	}
	if err := kb(fmt.Sprintf("/proc/%d/smaps_rollup", pid), map[string]*int64{"Private_Dirty": &m.private}, true); err != nil {
		return m, err
	}
	if err := kb(fmt.Sprintf("/proc/%d/status", pid), map[string]*int64{"VmRSS": &m.rss, "VmHWM": &m.peak}, false); err != nil {
		return m, err
	}
	return m, nil
}

// waitIdle waits until pid has used no CPU for quiet (seen through
// /proc, in clock ticks), or max has passed.
func waitIdle(pid int, quiet, max time.Duration) {
	deadline := time.Now().Add(max)
	last, _ := procCPU(pid)
	since := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(quiet / 4)
		cpu, err := procCPU(pid)
		if err != nil {
			return
		}
		if cpu != last {
			last, since = cpu, time.Now()
			continue
		}
		if time.Since(since) >= quiet {
			return
		}
	}
}

// nsHTTP is an HTTP client whose connections are made inside the
// namespace n (the agent's health and metrics listen on its loopback).
func nsHTTP(n *cnitest.NetNS) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := n.Do(func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}, MaxIdleConnsPerHost: 2, DisableCompression: true} // a gzipped scrape costs the agent more than a change
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// httpStatus GETs url and returns the status (0 when unreachable) and the
// body.
func httpStatus(c *http.Client, url string) (int, []byte) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// metricValue finds one sample's value in Prometheus text.
func metricValue(body []byte, name string) (float64, bool) {
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}
