package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/lab"
	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// A running lab changes: `add-pod` adds a pod through the CNI plugin that
// status, ping and path then see, `del-pod` removes it, `restart`, `stop`
// and `start` run the node agent (or, without one, the datastore) again
// under a new recorded pid, and `down` still leaves nothing behind.
func TestLabChangeRunningLab(t *testing.T) {
	labNeeds(t)
	t.Parallel()
	l := newTestLab(t, "e2echg")
	l.mustRun("up", "--nodes", "1", "--pods-per-node", "1", "--outside=false", "--cni", labCNI())
	names := linkNames(l.state())

	statusJSON := func() lab.Status {
		t.Helper()
		var st lab.Status
		if err := json.Unmarshal([]byte(l.mustRun("status", "-o", "json")), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	podOf := func(st *lab.State, key string) (lab.PodRecord, bool) {
		i := slices.IndexFunc(st.Pods, func(p lab.PodRecord) bool { return p.Key == key })
		if i < 0 {
			return lab.PodRecord{}, false
		}
		return st.Pods[i], true
	}
	extraNS := topo.PodNamespaceName(l.name, topo.Pod{Namespace: "prod", Name: "extra"})

	// add-pod
	out := l.mustRun("add-pod", "--node", "node1", "extra", "--namespace", "prod", "--label", "app=extra")
	t.Log(out)
	st := l.state()
	rec, ok := podOf(st, "prod/extra")
	if !ok || len(rec.IPs) == 0 || rec.HostIf == "" || rec.Error != "" || rec.Netns != extraNS || rec.Node != "node1" {
		t.Fatalf("state after add-pod: pod %+v (found %v)", rec, ok)
	}
	names = append(names, rec.HostIf)
	if !slices.ContainsFunc(st.Namespaces, func(r lab.NamespaceRecord) bool { return r.Name == extraNS && r.Kind == topo.KindPod }) {
		t.Errorf("the pod's namespace is not recorded: %+v", st.Namespaces)
	}
	if i := slices.IndexFunc(st.Topology.Pods, func(p topo.Pod) bool { return p.Key() == "prod/extra" }); i < 0 || st.Topology.Pods[i].Labels["app"] != "extra" {
		t.Errorf("the pod is not in the recorded topology: %+v", st.Topology.Pods)
	}
	if !strings.Contains(out, strings.SplitN(rec.IPs[0], "/", 2)[0]) {
		t.Errorf("add-pod output lacks the address %s: %s", rec.IPs[0], out)
	}
	s := statusJSON()
	if len(s.Pods) != 2 || s.Pods[1].Key != "prod/extra" || len(s.Pods[1].IPs) == 0 || s.Pods[1].Labels["app"] != "extra" || len(s.Missing) != 0 {
		t.Errorf("status after add-pod: pods %+v, missing %v", s.Pods, s.Missing)
	}
	if table := l.mustRun("status"); !strings.Contains(table, "prod/extra") {
		t.Errorf("status table lacks prod/extra:\n%s", table)
	}
	if out := l.mustRun("ping"); !strings.Contains(out, "2 of 2 expected pairs connected") {
		t.Errorf("ping after add-pod:\n%s", out)
	}
	if out := l.mustRun("path", "extra", "node1-pod1"); !strings.Contains(out, "delivered") {
		t.Errorf("path from the new pod:\n%s", out)
	}

	// What add-pod refuses changes nothing.
	for _, args := range [][]string{
		{"--node", "node1", "extra", "--namespace", "prod"}, // exists
		{"--node", "node9", "other"},                        // no such node
		{"--node", "node1", "Bad_Name"},                     // invalid name
	} {
		if out, errOut, code := l.run("add-pod", args...); code == 0 {
			t.Errorf("add-pod %v succeeded: %s", args, out)
		} else {
			t.Logf("add-pod %v: %s", args, strings.TrimSpace(errOut))
		}
	}
	if after := l.state(); len(after.Pods) != 2 || len(after.Namespaces) != len(st.Namespaces) || len(after.Topology.Pods) != 2 {
		t.Errorf("refused add-pods changed the state: %d pods, %d namespaces", len(after.Pods), len(after.Namespaces))
	}

	// del-pod
	l.mustRun("del-pod", "prod/extra")
	st = l.state()
	if _, ok := podOf(st, "prod/extra"); ok || len(st.Pods) != 1 || len(st.Topology.Pods) != 1 {
		t.Errorf("state after del-pod: pods %+v, topology pods %+v", st.Pods, st.Topology.Pods)
	}
	if slices.ContainsFunc(st.Namespaces, func(r lab.NamespaceRecord) bool { return r.Name == extraNS }) || ns.Exists(extraNS) {
		t.Errorf("the pod's namespace %s is still recorded or there", extraNS)
	}
	s = statusJSON()
	if len(s.Pods) != 1 || len(s.Missing) != 0 {
		t.Errorf("status after del-pod: pods %+v, missing %v", s.Pods, s.Missing)
	}
	for _, lk := range s.Links[s.Nodes[0].Netns] {
		if lk.Name == rec.HostIf {
			t.Errorf("the pod's host interface %s is still on node1", rec.HostIf)
		}
	}
	if _, _, code := l.run("del-pod", "prod/extra"); code == 0 {
		t.Error("del-pod of a deleted pod succeeded")
	}

	// restart, stop, start: the agent when there is one, else the datastore.
	role := "datastore"
	if slices.ContainsFunc(st.Processes, func(p lab.ProcessRecord) bool { return p.Role == "tortie-node/node1" }) {
		role = "tortie-node/node1"
	}
	proc := func() lab.ProcessRecord {
		t.Helper()
		st := l.state()
		i := slices.IndexFunc(st.Processes, func(p lab.ProcessRecord) bool { return p.Role == role })
		if i < 0 {
			t.Fatalf("no process %s in %+v", role, st.Processes)
		}
		return st.Processes[i]
	}
	running := func() bool {
		t.Helper()
		for _, p := range statusJSON().Processes {
			if p.Role == role {
				return p.Running
			}
		}
		t.Fatalf("status lists no process %s", role)
		return false
	}
	old := proc()
	t.Log(l.mustRun("restart", role))
	now := proc()
	if now.Pid == old.Pid || now.StartTime == old.StartTime || !now.Running() || old.Running() {
		t.Errorf("restart of %s: pid %d (start %d) -> %d (start %d), running %v", role, old.Pid, old.StartTime, now.Pid, now.StartTime, now.Running())
	}
	if !slices.Equal(now.Argv, old.Argv) || !slices.Equal(now.Env, old.Env) || now.Netns != old.Netns || len(now.Env) == 0 {
		t.Errorf("restart of %s changed how it runs: %+v -> %+v", role, old, now)
	}
	if !running() {
		t.Errorf("status: %s is not running after restart", role)
	}
	l.mustRun("stop", role)
	if proc().Running() || running() {
		t.Errorf("%s runs after lab stop", role)
	}
	if out, _, code := l.run("stop", role); code != 0 || !strings.Contains(out, "was not running") {
		t.Errorf("stop of a stopped process: exit %d: %s", code, out)
	}
	l.mustRun("start", role)
	if !proc().Running() || !running() {
		t.Errorf("%s does not run after lab start", role)
	}
	if _, _, code := l.run("start", role); code == 0 {
		t.Errorf("start of a running %s succeeded", role)
	}

	// A pod added after the restarts works, and down removes it with the rest.
	l.mustRun("add-pod", "--node", "node1", "late")
	if rec, ok := podOf(l.state(), "default/late"); !ok || len(rec.IPs) == 0 {
		t.Fatalf("pod added after the restarts: %+v", rec)
	} else {
		names = append(names, rec.HostIf)
	}
	if out := l.mustRun("ping"); !strings.Contains(out, "2 of 2 expected pairs connected") {
		t.Errorf("ping after the restarts:\n%s", out)
	}
	l.mustRun("down")
	if lo := l.leftovers(names); !lo.empty() {
		t.Fatalf("left behind after down: %v", lo)
	}
}
