package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// Down removes everything the named lab made: it calls CNI DEL for its pods
// (best effort, as kubelet would), stops its processes, kills any other
// process still inside its namespaces, deletes its namespaces (which takes
// their links with them) and its files. It works from the state file, and
// also without one: namespaces named with the lab's prefix are swept
// anyway. Down of a lab that is not there succeeds. The error lists what
// could not be removed.
func Down(ctx context.Context, cfg Config, name string) error {
	cfg = cfg.withDefaults()
	if err := topo.CheckLabName(name); err != nil {
		return fmt.Errorf("lab name %q %w", name, err)
	}
	log := cfg.Logger.With("lab", name)
	st, err := readState(cfg.Root, name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("the lab's state is unreadable; sweeping by name", "err", err)
	}
	var errs []error
	var netnses []string
	if st != nil {
		if st.Topology != nil && topo.Resolve(st.Topology) == nil {
			l := &Lab{cfg: cfg, log: log, top: st.Topology, rec: &recorder{path: filepath.Join(st.Dir, stateFile), st: st}}
			l.delPods(ctx)
		}
		// Agents first, the datastore last: the reverse of their start.
		for _, p := range slices.Backward(st.Processes) {
			if err := stopProcess(p, 5*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		for _, r := range st.Namespaces {
			netnses = append(netnses, r.Name)
		}
	}
	swept, err := ns.List(topo.NamespacePrefixOf(name))
	if err != nil {
		errs = append(errs, err)
	}
	netnses = append(netnses, swept...)
	slices.Sort(netnses)
	netnses = slices.Compact(netnses)
	if err := killInside(netnses); err != nil {
		errs = append(errs, err)
	}
	for _, n := range netnses {
		if err := ns.Delete(n); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, removeFiles(cfg.Root, name, st)...)
	if left, _ := ns.List(topo.NamespacePrefixOf(name)); len(left) > 0 {
		errs = append(errs, fmt.Errorf("namespaces left: %v", left))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab %s down: %w", name, err)
	}
	log.Info("lab is down", "namespaces", len(netnses))
	return nil
}

// delPods calls CNI DEL for every pod that was added, within a time budget.
// With the tortie plugin the datastore must still answer; otherwise DEL
// would only wait for it.
func (l *Lab) delPods(ctx context.Context) {
	st := l.rec.snapshot()
	if st.CNI == "" || len(st.Pods) == 0 {
		return
	}
	if st.CNI == topo.CNITortie && (st.Datastore == "" || dialIn(ctx, l.ulNS(), l.top.DatastoreAddr().String(), time.Second) != nil) {
		l.log.Info("datastore gone: skipping CNI DEL of the pods")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, p := range st.Pods {
		if !ns.Exists(l.nodeNS(p.Node)) {
			continue
		}
		if err := l.delPod(ctx, p); err != nil {
			l.log.Warn("CNI DEL failed", "pod", p.Key, "err", err)
		}
	}
}

// killInside kills every process still inside one of the namespaces.
func killInside(netnses []string) error {
	inodes := map[uint64]string{}
	for _, n := range netnses {
		if ino, err := ns.Inode(n); err == nil {
			inodes[ino] = n
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	pids, err := pidsInNamespaces(inodes)
	if err != nil {
		return err
	}
	return killPids(pids)
}

// removeFiles removes recorded files and the lab's directory.
func removeFiles(root, name string, st *State) []error {
	var errs []error
	dir := filepath.Join(root, name)
	if st != nil {
		for _, f := range st.Files {
			if f == dir {
				continue
			}
			if err := os.RemoveAll(f); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
	}
	return errs
}
