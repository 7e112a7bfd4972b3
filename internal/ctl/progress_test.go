package ctl

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/lab/topo"
)

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	h := newProgressHandler(&b, slog.LevelInfo)
	log := slog.New(h).With("lab", "demo")
	log.Info("lab step done", "step", "underlay", "took", 52*time.Millisecond)
	log.Info("pod added", "pod", "default/p1", "node", "node1")
	log.Warn("CNI DEL failed", "pod", "default/p2", "err", "boom")
	log.Debug("not shown")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		"underlay   done in 52ms",
		"  pod added: pod=default/p1 node=node1",
		"warning: CNI DEL failed: pod=default/p2 err=boom",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), b.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], "[") || !strings.HasSuffix(lines[i], "] "+w) && !strings.Contains(lines[i], "s] "+w) {
			t.Errorf("line %d = %q, want [elapsed] %q", i, lines[i], w)
		}
		if strings.Contains(lines[i], "lab=demo") {
			t.Errorf("line %d repeats the lab's name: %q", i, lines[i])
		}
	}
}

func TestLabLoggerFormats(t *testing.T) {
	for _, f := range []string{"human", "text", "json"} {
		if _, err := labLogger(&bytes.Buffer{}, f, false); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := labLogger(&bytes.Buffer{}, "xml", false); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("xml: err %v, want one naming the value", err)
	}
}

func TestLabNextCommands(t *testing.T) {
	top := &topo.Topology{
		Nodes: []topo.Node{{Name: "node1"}, {Name: "node2"}},
		Pods:  []topo.Pod{{Name: "a", Namespace: "default", Node: "node1"}, {Name: "b", Namespace: "default", Node: "node2"}},
	}
	got := strings.Join(labNextCommands("bin/tortiectl", "lab", top), "\n")
	for _, w := range []string{
		"bin/tortiectl lab status --name lab",
		"bin/tortiectl lab path --name lab default/a default/b",
		"bin/tortiectl lab exec --name lab node1 -- ip route",
		"bin/tortiectl lab down --name lab",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}
