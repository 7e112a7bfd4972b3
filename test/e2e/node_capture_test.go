package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// capture runs tcpdump on iface inside netns with filter until it has seen
// count packets, calling trigger once tcpdump listens, and returns the
// packets it printed. It fails the test if fewer than count packets
// matched before the settle deadline.
func capture(t *testing.T, netns, iface, filter string, count int, trigger func()) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", netns,
		"tcpdump", "-l", "-n", "-p", "-i", iface, "-c", fmt.Sprint(count), filter)
	var out lockedBuffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan struct{})
	var errText lockedBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			errText.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), "listening on") {
				once.Do(func() { close(listening) })
			}
		}
		once.Do(func() { close(listening) })
	}()
	<-listening
	trigger()
	err = cmd.Wait()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if out.String() == "" {
		lines = nil
	}
	if len(lines) < count {
		t.Fatalf("tcpdump -i %s %q in %s: %d of %d packets (%v)\n%s", iface, filter, netns, len(lines), count, err, errText.String())
	}
	return lines
}

// lockedBuffer is a bytes.Buffer safe for one writer and other readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pingStream is a ping running in the background from a pod, to show
// whether any echo went unanswered while something happened.
type pingStream struct {
	what string
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan error
}

// startPings pings dst from netns every 50 ms until stop is called, and
// returns once the first answer arrived.
func startPings(t *testing.T, netns, dst, what string) *pingStream {
	t.Helper()
	p := &pingStream{what: what, done: make(chan error, 1)}
	p.cmd = exec.Command("ip", "netns", "exec", netns, "ping", "-n", "-i", "0.05", dst)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	waitFor(t, what+": first echo reply", func() error {
		if len(p.replies()) == 0 {
			return fmt.Errorf("no reply yet:\n%s", p.out.String())
		}
		return nil
	})
	return p
}

// replies are the sequence numbers answered so far.
func (p *pingStream) replies() []int {
	var seqs []int
	for _, line := range strings.Split(p.out.String(), "\n") {
		if !strings.Contains(line, "bytes from") {
			continue
		}
		_, rest, ok := strings.Cut(line, "icmp_seq=")
		if !ok {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(rest, "%d", &n); err == nil {
			seqs = append(seqs, n)
		}
	}
	return seqs
}

// stop ends the ping after it has sent more echoes, and fails the test if
// any echo before the last reply went unanswered (a gap means the path
// broke for a moment). The echo in flight when ping is stopped does not
// count.
func (p *pingStream) stop(t *testing.T) {
	t.Helper()
	// Let a few more echoes go out, so that a break just before stop shows.
	n := len(p.replies())
	deadline := time.Now().Add(settle)
	for len(p.replies()) < n+5 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	seqs := p.replies()
	if len(seqs) == 0 {
		t.Errorf("%s: no echo answered:\n%s", p.what, p.out.String())
		return
	}
	got := map[int]bool{}
	last := 0
	for _, s := range seqs {
		got[s] = true
		last = max(last, s)
	}
	var missing []int
	for s := 1; s < last; s++ {
		if !got[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s: %d of %d echoes unanswered (icmp_seq %v): the path broke", p.what, len(missing), last, missing)
	} else {
		t.Logf("%s: all %d echoes answered", p.what, last)
	}
}
