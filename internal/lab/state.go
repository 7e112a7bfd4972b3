package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tortienet/tortie/internal/lab/topo"
)

// DefaultRoot holds one directory per lab, named after the lab.
const DefaultRoot = "/run/tortie-lab"

// stateFile is the name of the state file in a lab's directory.
const stateFile = "state.json"

// Phases of a lab.
const (
	PhaseCreating = "creating" // Up is running, or was killed while running
	PhaseUp       = "up"       // Up finished
	PhaseFailed   = "failed"   // Up returned an error; Down cleans up
)

// State is everything a lab made. Each record is written to the state file
// before the thing it describes is made, so the file always lists a
// superset of what exists.
type State struct {
	Name     string         `json:"name"`
	Dir      string         `json:"dir"`
	Phase    string         `json:"phase"`
	Error    string         `json:"error,omitempty"`
	Created  time.Time      `json:"created"`
	Topology *topo.Topology `json:"topology"`
	// BinDir holds tortiectl, tortie, tortie-ipam and (later) tortie-node.
	BinDir string `json:"binDir"`
	// CNI is the plugin flavor in use (tortie, ptp, bridge); CNIPath the
	// directories searched for plugins.
	CNI     string   `json:"cni"`
	CNIPath []string `json:"cniPath"`
	// Datastore is the etcd client URL, reachable from every lab namespace.
	Datastore string `json:"datastore,omitempty"`

	Namespaces []NamespaceRecord `json:"namespaces"`
	Links      []LinkRecord      `json:"links"`
	Processes  []ProcessRecord   `json:"processes"`
	Files      []string          `json:"files"`
	Pods       []PodRecord       `json:"pods"`
}

// NamespaceRecord is a network namespace the lab made.
type NamespaceRecord struct {
	Name   string `json:"name"`   // under /var/run/netns
	Kind   string `json:"kind"`   // topo.KindNode, ...
	Member string `json:"member"` // node, router or pod key; empty for singletons
}

// LinkRecord is a link the lab made. Every one lives in a lab namespace
// (veth pairs are created between lab namespaces, never in the host's), so
// it goes away with its namespace.
type LinkRecord struct {
	Netns string `json:"netns"`
	Name  string `json:"name"`
	Kind  string `json:"kind"` // bridge, veth
	Peer  string `json:"peer,omitempty"`
}

// ProcessRecord is a process the lab started. Pid is 0 until it started;
// StartTime (clock ticks since boot, from /proc/<pid>/stat) tells the
// process apart from a later one that reuses the pid.
type ProcessRecord struct {
	Role      string   `json:"role"` // "datastore", "tortie-node/node1", ...
	Netns     string   `json:"netns"`
	Argv      []string `json:"argv"`
	Log       string   `json:"log"`
	Pid       int      `json:"pid,omitempty"`
	StartTime uint64   `json:"startTime,omitempty"`
	// Env is the environment it was started with (Start reuses it).
	Env []string `json:"env,omitempty"`
}

// Running reports whether the recorded process still runs: the same pid
// and start time, and not a zombie.
func (p ProcessRecord) Running() bool { return alive(p) }

// PodRecord is a pod: its namespace and what CNI ADD returned.
type PodRecord struct {
	Key         string   `json:"key"` // namespace/name
	Node        string   `json:"node"`
	Netns       string   `json:"netns"`
	ContainerID string   `json:"containerID"`
	IfName      string   `json:"ifName"`
	Conflist    string   `json:"conflist"`
	IPs         []string `json:"ips,omitempty"`
	HostIf      string   `json:"hostIf,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// recorder owns a State and its file; every change is saved at once.
type recorder struct {
	mu   sync.Mutex
	path string
	st   *State
}

// update applies fn to the state and saves it (write, sync, rename).
func (r *recorder) update(fn func(*State)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r.st)
	return saveState(r.path, r.st)
}

// snapshot returns a copy of the state (slices are shared; do not modify).
func (r *recorder) snapshot() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return *r.st
}

func saveState(path string, st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab state: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save lab state: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("save lab state: %w", err)
	}
	return nil
}

// LoadState reads the state of the named lab under root. The error wraps
// fs.ErrNotExist when the lab has no state file.
func LoadState(root, name string) (*State, error) {
	st, err := readState(root, name)
	if err != nil {
		return nil, err
	}
	if st.Topology != nil {
		if err := topo.Resolve(st.Topology); err != nil {
			return nil, fmt.Errorf("lab state of %s: %w", name, err)
		}
	}
	return st, nil
}

// readState reads the state file without resolving its topology.
func readState(root, name string) (*State, error) {
	if err := topo.CheckLabName(name); err != nil {
		return nil, fmt.Errorf("lab name %q %w", name, err)
	}
	path := filepath.Join(root, name, stateFile)
	st, err := readStateFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lab %q is not up (no %s): %w", name, path, err)
	}
	return st, err
}

func readStateFile(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("lab state %s: %w", path, err)
	}
	return &st, nil
}

// ListLabs returns the names of the labs with a directory under root.
func ListLabs(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
