package lab

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/tortienet/tortie/internal/lab/topo"
)

func TestCheckNewPod(t *testing.T) {
	top := topo.Generate(topo.GenerateOptions{Name: "cp", Nodes: 2, PodsPerNode: 1, Underlay: topo.UnderlayL2})
	l := testLab(t, top, topo.CNIPtp)
	for _, tc := range []struct {
		pod  topo.Pod
		want string // "" for valid
	}{
		{topo.Pod{Name: "web", Namespace: "default", Node: "node2", Labels: map[string]string{"app": "web"}}, ""},
		{topo.Pod{Name: "node1-pod1", Namespace: "prod", Node: "node1"}, ""},
		{topo.Pod{Name: "node1-pod1", Namespace: "default", Node: "node1"}, "used twice"},
		{topo.Pod{Name: "web", Namespace: "default", Node: "node9"}, "node: \"node9\" is not a node"},
		{topo.Pod{Name: "Bad_Name", Namespace: "default", Node: "node1"}, "name: \"Bad_Name\""},
		{topo.Pod{Name: "node2", Namespace: "default", Node: "node1"}, "also the name of a node"},
		{topo.Pod{Name: "web", Namespace: "default", Node: "node1", Labels: map[string]string{"a": "b c"}}, "labels"},
	} {
		err := l.checkNewPod(tc.pod)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.pod, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.pod, err, tc.want)
		}
	}
	if len(l.top.Pods) != 2 {
		t.Errorf("checking changed the topology: %d pods", len(l.top.Pods))
	}
}

func TestProcessRoles(t *testing.T) {
	top := topo.Generate(topo.GenerateOptions{Name: "pr", Nodes: 2, Underlay: topo.UnderlayL2})
	l := testLab(t, top, topo.CNITortie)
	if err := l.rec.update(func(st *State) {
		st.Phase = PhaseUp
		st.Processes = []ProcessRecord{{Role: "datastore"}, {Role: "tortie-node/node1"}, {Role: "tortie-node/node2"}}
	}); err != nil {
		t.Fatal(err)
	}
	for role, want := range map[string]string{"datastore": "datastore", "node2": "tortie-node/node2", "tortie-node/node1": "tortie-node/node1"} {
		if p, err := l.Process(role); err != nil || p.Role != want {
			t.Errorf("Process(%q) = %q, %v; want %s", role, p.Role, err, want)
		}
	}
	if _, err := l.Process("node3"); err == nil || !strings.Contains(err.Error(), "tortie-node/node2") {
		t.Errorf("Process(node3): %v", err)
	}
	// Stopping a process that does not run succeeds and says so.
	if res, err := l.Stop("node1", syscall.SIGTERM, 0); err != nil || res.WasRunning {
		t.Errorf("Stop of a process that never ran: %+v, %v", res, err)
	}
	// Without a recorded environment Start rebuilds the lab's.
	env, err := l.envOf("tortie-node/node2")
	if err != nil || !strings.Contains(strings.Join(env, " "), "NODENAME=node2") {
		t.Errorf("envOf: %v, %v", env, err)
	}
	// No change while the lab is being built.
	if err := l.rec.update(func(st *State) { st.Phase = PhaseCreating }); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Start(context.Background(), "datastore"); err == nil || !strings.Contains(err.Error(), "being built") {
		t.Errorf("Start while creating: %v", err)
	}
}
