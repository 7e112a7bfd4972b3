package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// Changes to a running lab: pods added and deleted, processes stopped and
// started again. Each change holds the lab's lock (a flock on a file in
// its directory) and re-reads the state file first, so that two commands
// changing the same lab do not lose each other's records.

// datastoreRole is the datastore's role in the process records.
const datastoreRole = "datastore"

// DefaultStopGrace is how long Stop and Restart wait after SIGTERM before
// they send SIGKILL.
const DefaultStopGrace = 10 * time.Second

// lockFile is the name of the lock file in a lab's directory.
const lockFile = "lock"

// change runs fn with the lab locked and its state freshly read. Changes
// are refused while `lab up` may still be building the lab.
func (l *Lab) change(fn func() error) error {
	dir := l.Dir()
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock lab %s: %w", l.top.Name, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock lab %s: %w", l.top.Name, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing unlocks too
	st, err := readStateFile(l.rec.path)
	if err != nil {
		return err
	}
	if st.Topology == nil {
		return fmt.Errorf("lab %q: the state file has no topology (phase %s)", st.Name, st.Phase)
	}
	if err := topo.Resolve(st.Topology); err != nil {
		return fmt.Errorf("lab state of %s: %w", st.Name, err)
	}
	if st.Phase == PhaseCreating {
		return fmt.Errorf("lab %s is still being built (phase %s); wait for `lab up` to finish, or take it down", st.Name, st.Phase)
	}
	l.rec.mu.Lock()
	l.rec.st = st
	l.rec.mu.Unlock()
	l.top = st.Topology
	return fn()
}

// AddPod makes a pod on a running lab the way Up makes its pods: a
// namespace, then CNI ADD through libcni with the node's conflist, run
// inside the node's namespace. The pod joins the lab's topology and
// records, so Status, Ping, Path and Down know it. If the pod cannot be
// made, what was made is removed again and nothing stays recorded.
func (l *Lab) AddPod(ctx context.Context, p topo.Pod) (PodRecord, error) {
	var rec PodRecord
	err := l.change(func() error {
		st := l.rec.snapshot()
		if st.CNI == "" {
			return fmt.Errorf("lab %s has no CNI plugin chosen (phase %s)", st.Name, st.Phase)
		}
		if p.Namespace == "" {
			p.Namespace = topo.DefaultPodNamespace
		}
		if err := l.checkNewPod(p); err != nil {
			return err
		}
		if !ns.Exists(l.nodeNS(p.Node)) {
			return fmt.Errorf("the namespace %s of node %s does not exist", l.nodeNS(p.Node), p.Node)
		}
		if netns := l.podNS(p); ns.Exists(netns) {
			return fmt.Errorf("the namespace %s exists already; `lab down` removes it", netns)
		}
		if err := l.rec.update(func(st *State) { st.Topology.Pods = append(st.Topology.Pods, p) }); err != nil {
			return err
		}
		if err := l.addPod(ctx, p); err != nil {
			if rerr := l.removePod(context.WithoutCancel(ctx), p.Key(), true); rerr != nil {
				l.log.Warn("removing the pod that failed", "pod", p.Key(), "err", rerr)
			}
			return fmt.Errorf("pod %s: %w", p.Key(), err)
		}
		for _, r := range l.rec.snapshot().Pods {
			if r.Key == p.Key() {
				rec = r
			}
		}
		return nil
	})
	return rec, err
}

// checkNewPod validates p as one more pod of the topology.
func (l *Lab) checkNewPod(p topo.Pod) error {
	data, err := json.Marshal(l.top)
	if err != nil {
		return err
	}
	var t topo.Topology
	if err := json.Unmarshal(data, &t); err != nil {
		return err
	}
	t.Pods = append(t.Pods, p)
	err = topo.Resolve(&t)
	var verr *topo.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	field := fmt.Sprintf("pods[%d]", len(t.Pods)-1)
	var msgs []string
	for _, fe := range verr.Errors {
		if rest, ok := strings.CutPrefix(fe.Field, field); ok {
			fe.Field = strings.TrimPrefix(rest, ".")
			if fe.Field == "" {
				fe.Field = "pod"
			}
			msgs = append(msgs, fe.Error())
		}
	}
	if len(msgs) == 0 {
		return err // the recorded topology itself is invalid
	}
	return fmt.Errorf("pod %s: %s", p.Key(), strings.Join(msgs, "; "))
}

// DelPod removes a pod as kubelet removes a pod sandbox: CNI DEL on its
// node, then its namespace (and any process left in it); the pod leaves
// the lab's topology and records. name is "namespace/name", or the name
// alone when it is unique. If CNI DEL fails, the pod stays as it is.
func (l *Lab) DelPod(ctx context.Context, name string) error {
	return l.change(func() error {
		m, err := l.Find(name)
		if err != nil {
			return err
		}
		if m.Kind != topo.KindPod {
			return fmt.Errorf("%q is a %s of lab %s, not a pod", name, m.Kind, l.top.Name)
		}
		return l.removePod(ctx, m.Name, false)
	})
}

// removePod calls CNI DEL for the pod key (unless it was never added),
// removes its namespace and then its records. With force, a failed CNI
// DEL is only logged.
func (l *Lab) removePod(ctx context.Context, key string, force bool) error {
	st := l.rec.snapshot()
	i := slices.IndexFunc(st.Pods, func(r PodRecord) bool { return r.Key == key })
	if i >= 0 && st.CNI != "" && ns.Exists(l.nodeNS(st.Pods[i].Node)) {
		ctx, cancel := context.WithTimeout(ctx, cniTimeout)
		err := l.delPod(ctx, st.Pods[i])
		cancel()
		switch {
		case err != nil && !force:
			return err
		case err != nil:
			l.log.Warn("CNI DEL failed", "pod", key, "err", err)
		}
	}
	if l.kube() {
		if err := l.deletePodObject(ctx, key); err != nil {
			if !force {
				return err
			}
			l.log.Warn("deleting the Pod object failed", "pod", key, "err", err)
		}
	}
	namespace, name, _ := strings.Cut(key, "/")
	netns := l.podNS(topo.Pod{Namespace: namespace, Name: name})
	if err := killInside([]string{netns}); err != nil {
		return fmt.Errorf("pod %s: %w", key, err)
	}
	if ns.Exists(netns) {
		if err := ns.Delete(netns); err != nil {
			return fmt.Errorf("pod %s: %w", key, err)
		}
	}
	if err := l.rec.update(func(st *State) {
		st.Pods = slices.DeleteFunc(st.Pods, func(r PodRecord) bool { return r.Key == key })
		st.Namespaces = slices.DeleteFunc(st.Namespaces, func(r NamespaceRecord) bool { return r.Name == netns })
		st.Topology.Pods = slices.DeleteFunc(st.Topology.Pods, func(p topo.Pod) bool { return p.Key() == key })
	}); err != nil {
		return err
	}
	l.log.Info("pod deleted", "pod", key)
	return nil
}

// Process returns the recorded process with the given role: "datastore",
// "tortie-node/<node>", or a node's name for its agent.
func (l *Lab) Process(role string) (ProcessRecord, error) {
	_, p, err := l.process(role)
	return p, err
}

func (l *Lab) process(role string) (int, ProcessRecord, error) {
	procs := l.rec.snapshot().Processes
	roles := make([]string, len(procs))
	for i, p := range procs {
		roles[i] = p.Role
	}
	i := slices.Index(roles, role)
	if i < 0 {
		if _, ok := l.top.Node(role); ok {
			i = slices.Index(roles, agentBinary+"/"+role)
		}
	}
	if i < 0 {
		return -1, ProcessRecord{}, fmt.Errorf("lab %s has no process %q (it has %s)", l.top.Name, role, strings.Join(roles, ", "))
	}
	return i, procs[i], nil
}

// StopResult says how a process ended.
type StopResult struct {
	Process ProcessRecord // as recorded when it was stopped
	// WasRunning is false when the process had already ended.
	WasRunning bool
	// Killed says it got SIGKILL: asked for, or after the grace period.
	Killed bool
	Took   time.Duration
}

// Stop signals the recorded process (sig; SIGTERM when 0) and waits until
// it has ended, sending SIGKILL once grace has passed. Its record stays,
// so Start can run it again and Status shows it as not running.
func (l *Lab) Stop(role string, sig syscall.Signal, grace time.Duration) (StopResult, error) {
	var res StopResult
	err := l.change(func() error {
		_, p, err := l.process(role)
		if err != nil {
			return err
		}
		res.Process, res.WasRunning = p, alive(p)
		if sig == 0 {
			sig = syscall.SIGTERM
		}
		start := time.Now()
		res.Killed, err = signalProcess(p, sig, grace)
		res.Took = time.Since(start)
		if res.WasRunning {
			l.log.Info("process stopped", "role", p.Role, "pid", p.Pid, "signal", sig, "killed", res.Killed, "took", res.Took.Round(time.Millisecond))
		}
		return err
	})
	return res, err
}

// Start runs a stopped process again as the lab first ran it: the same
// argv, namespace, log (appended to) and environment, in a session of
// its own. The new pid and start time replace the old ones in the record.
// Start waits until the datastore (or the apiserver) answers; an agent only has to live
// through its first moments.
func (l *Lab) Start(ctx context.Context, role string) (ProcessRecord, error) {
	ps, err := l.StartAll(ctx, []string{role})
	if err != nil {
		return ProcessRecord{}, err
	}
	return ps[0], nil
}

// StartAll is Start for several processes at once: all are started, then
// their first moments are waited for together (N agents start in the
// time of one, as they would on N machines).
func (l *Lab) StartAll(ctx context.Context, roles []string) ([]ProcessRecord, error) {
	var ps []ProcessRecord
	err := l.change(func() error {
		for _, role := range roles {
			p, err := l.startOne(ctx, role)
			if err != nil {
				return err
			}
			ps = append(ps, p)
		}
		time.Sleep(300 * time.Millisecond)
		for _, p := range ps {
			if p.Role == datastoreRole || p.Role == kasRole {
				continue
			}
			if !alive(p) {
				return fmt.Errorf("%s (pid %d) exited at once; its log ends: %s", p.Role, p.Pid, tail(p.Log, 1500))
			}
			l.log.Info("process started", "role", p.Role, "pid", p.Pid)
		}
		return nil
	})
	return ps, err
}

// startOne starts one process (under l.change); the datastore and the
// apiserver are waited for until they answer.
func (l *Lab) startOne(ctx context.Context, role string) (ProcessRecord, error) {
	i, old, err := l.process(role)
	if err != nil {
		return ProcessRecord{}, err
	}
	if alive(old) {
		return ProcessRecord{}, fmt.Errorf("%s is running (pid %d); stop it first, or restart it", old.Role, old.Pid)
	}
	if len(old.Env) == 0 { // recorded before the environment was
		env, err := l.envOf(old.Role)
		if err != nil {
			return ProcessRecord{}, err
		}
		if err := l.rec.update(func(st *State) { st.Processes[i].Env = env }); err != nil {
			return ProcessRecord{}, err
		}
	}
	if old.Pid != 0 {
		if f, err := os.OpenFile(old.Log, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			fmt.Fprintf(f, "--- tortie lab: %s started again at %s (was pid %d)\n", old.Role, time.Now().UTC().Format(time.RFC3339), old.Pid)
			f.Close()
		}
	}
	if err := l.spawn(i); err != nil {
		return ProcessRecord{}, err
	}
	p := l.rec.snapshot().Processes[i]
	switch p.Role {
	case datastoreRole:
		return p, l.waitDatastore(ctx, p)
	case kasRole:
		return p, l.waitAPIServer(ctx)
	}
	return p, nil
}

// Restart stops the process (SIGTERM, SIGKILL after grace) and starts it
// again.
func (l *Lab) Restart(ctx context.Context, role string, grace time.Duration) (StopResult, ProcessRecord, error) {
	res, err := l.Stop(role, syscall.SIGTERM, grace)
	if err != nil {
		return res, ProcessRecord{}, err
	}
	p, err := l.Start(ctx, role)
	return res, p, err
}

// envOf rebuilds the environment the lab gives a role, for process
// records written before the environment was recorded.
func (l *Lab) envOf(role string) ([]string, error) {
	if role == datastoreRole {
		return baseEnv(), nil
	}
	if node, ok := strings.CutPrefix(role, agentBinary+"/"); ok {
		if n, ok := l.top.Node(node); ok {
			return l.agentEnv(*n, l.dirsOf(n.Name)), nil
		}
	}
	return nil, fmt.Errorf("no environment recorded for %s", role)
}
