package bgp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The privileged tests run the speaker in a namespace. GoBGP opens its
// sockets from its own goroutines, which no locked thread can hold in a
// namespace, so the speaker runs in a child process started in the
// namespace: this test binary again, as a helper (TestMain).

const helperEnv = "TORTIE_BGP_HELPER"

type helperConfig struct {
	Global    Global
	Peers     []Peer
	Passwords map[netip.Addr]string // Peer.Password is never serialised
	Routes    []Route
}

// helperState is what the helper prints, one JSON line per change.
type helperState struct {
	Status  []PeerStatus
	Learned []Learned
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		if err := runHelper(cfg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(raw string) error {
	var c helperConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return err
	}
	ctx := context.Background()
	sp, err := Start(ctx, c.Global, nil)
	if err != nil {
		return err
	}
	for i, p := range c.Peers {
		c.Peers[i].Password = c.Passwords[p.Address]
	}
	if err := sp.SetRoutes(ctx, c.Routes); err != nil {
		return err
	}
	if err := sp.SetPeers(ctx, c.Peers); err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	for {
		if err := enc.Encode(helperState{Status: sp.Status(), Learned: sp.Learned()}); err != nil {
			return err
		}
		select {
		case <-sp.Changed():
		case <-time.After(time.Second):
		}
	}
}

// speakerProc is a speaker running in a namespace.
type speakerProc struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
	last  helperState
}

func startSpeakerIn(t *testing.T, nsName string, c helperConfig) *speakerProc {
	t.Helper()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", nsName, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &speakerProc{cmd: cmd, lines: bufio.NewScanner(out)}
	t.Cleanup(p.kill)
	return p
}

func (p *speakerProc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// waitState reads the helper's states until cond holds (the deadline only
// bounds a broken test).
func (p *speakerProc) waitState(t *testing.T, what string, cond func(helperState) bool) helperState {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond(p.last) {
		if time.Now().After(deadline) || !p.lines.Scan() {
			t.Fatalf("gave up waiting for %s; last state %+v", what, p.last)
		}
		p.last = helperState{}
		if err := json.Unmarshal(p.lines.Bytes(), &p.last); err != nil {
			t.Fatal(err)
		}
	}
	return p.last
}

func stateIs(want string, info string) func(helperState) bool {
	return func(s helperState) bool {
		return len(s.Status) == 1 && s.Status[0].State == want && strings.Contains(s.Status[0].Info, info)
	}
}

func learnedVia(pfx string, nh string) func(helperState) bool {
	return func(s helperState) bool {
		for _, l := range s.Learned {
			if l.Prefix.String() == pfx && l.NextHop.String() == nh {
				return true
			}
		}
		return false
	}
}

// daemon is a router process (bird, zebra, bgpd) the test started.
type daemon struct{ cmd *exec.Cmd }

func startDaemon(t *testing.T, log io.Writer, nsName string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", nsName}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	d := &daemon{cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return d
}
