package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// Config says where a lab keeps its state and finds its programs.
type Config struct {
	// Root holds one directory per lab (DefaultRoot).
	Root string
	// BinDir holds tortiectl, tortie, tortie-ipam and tortie-node. The
	// datastore runs as `<BinDir>/tortiectl datastore serve`.
	BinDir string
	// CNIPath lists more directories with CNI plugins (ptp, bridge,
	// host-local, ...), searched after BinDir.
	CNIPath []string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// ReadyTimeout bounds the wait for the datastore and the node agents
	// (default 60s).
	ReadyTimeout time.Duration
	// DieWithCaller has every process the lab starts killed (SIGKILL)
	// when the process that started it ends, killed or not: for tests and
	// benchmarks, whose labs must not outlive them. The tortiectl lab
	// commands leave it off: their labs outlive the command.
	DieWithCaller bool
}

func (c Config) withDefaults() Config {
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 60 * time.Second
	}
	return c
}

// Lab is a lab that is up (or partly up). Its methods read the live
// namespaces; the state file says what belongs to it.
type Lab struct {
	cfg Config
	log *slog.Logger
	rec *recorder
	top *topo.Topology
}

// ErrExists is returned by Up when the lab's directory already exists.
var ErrExists = errors.New("lab exists")

// Up builds the lab top describes (it is resolved first). If Up fails, what
// it made stays recorded, with phase "failed", for Down; the caller decides
// whether to keep it for inspection or take it down.
func Up(ctx context.Context, cfg Config, top *topo.Topology) (*Lab, error) {
	cfg = cfg.withDefaults()
	if err := topo.Resolve(top); err != nil {
		return nil, err
	}
	if cfg.BinDir == "" {
		return nil, errors.New("lab: no bin dir configured")
	}
	l, err := create(cfg, top)
	if err != nil {
		return nil, err
	}
	if err := l.build(ctx); err != nil {
		_ = l.rec.update(func(st *State) { st.Phase, st.Error = PhaseFailed, err.Error() })
		return l, fmt.Errorf("lab %s: %w", top.Name, err)
	}
	return l, l.rec.update(func(st *State) { st.Phase = PhaseUp })
}

// create claims the lab's directory and writes the first state.
func create(cfg Config, top *topo.Topology) (*Lab, error) {
	left, err := ns.List(topo.NamespacePrefixOf(top.Name))
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cfg.Root, top.Name)
	if err := os.MkdirAll(cfg.Root, 0o755); err != nil {
		return nil, fmt.Errorf("lab state root: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: lab %q is up or was not taken down (%s exists); run `tortiectl lab down --name %s`", ErrExists, top.Name, dir, top.Name)
		}
		return nil, fmt.Errorf("lab directory: %w", err)
	}
	if len(left) > 0 {
		os.Remove(dir)
		return nil, fmt.Errorf("%w: namespaces of lab %q are left over (%v); run `tortiectl lab down --name %s`", ErrExists, top.Name, left, top.Name)
	}
	st := &State{
		Name: top.Name, Dir: dir, Phase: PhaseCreating, Created: time.Now().UTC(),
		Topology: top, BinDir: cfg.BinDir, CNIPath: cniPath(cfg),
		Files: []string{dir},
	}
	l := &Lab{cfg: cfg, log: cfg.Logger.With("lab", top.Name), top: top,
		rec: &recorder{path: filepath.Join(dir, stateFile), st: st}}
	if err := l.rec.update(func(*State) {}); err != nil {
		os.Remove(dir)
		return nil, err
	}
	return l, nil
}

// build makes everything, in dependency order.
func (l *Lab) build(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"underlay", l.plumbUnderlay},
		{"hosts", l.plumbHosts},
		{"outside", l.plumbOutside},
		{"datastore", l.startDatastore},
		{"kubernetes", l.startKubernetes},
		{"cni", l.chooseCNI},
		{"nodes", l.setupNodes},
		{"routers", l.startRouters},
		{"pods", l.addPods},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		l.log.Info("lab step done", "step", s.name, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// Open returns the lab recorded under cfg.Root, for status, ping, path
// and exec.
func Open(cfg Config, name string) (*Lab, error) {
	cfg = cfg.withDefaults()
	st, err := LoadState(cfg.Root, name)
	if err != nil {
		return nil, err
	}
	if st.Topology == nil {
		return nil, fmt.Errorf("lab %q: the state file has no topology (phase %s)", name, st.Phase)
	}
	if cfg.BinDir == "" {
		cfg.BinDir = st.BinDir
	}
	return &Lab{cfg: cfg, log: cfg.Logger.With("lab", name), top: st.Topology,
		rec: &recorder{path: filepath.Join(st.Dir, stateFile), st: st}}, nil
}

// State returns a copy of the lab's state.
func (l *Lab) State() State { return l.rec.snapshot() }

// Topology returns the lab's resolved topology (do not modify it).
func (l *Lab) Topology() *topo.Topology { return l.top }

// Dir is the lab's state directory.
func (l *Lab) Dir() string { return l.rec.snapshot().Dir }

// netnsOf names the lab's namespaces.
func (l *Lab) ulNS() string              { return topo.NamespaceName(l.top.Name, topo.KindUnderlay, "") }
func (l *Lab) outNS() string             { return topo.NamespaceName(l.top.Name, topo.KindOutside, "") }
func (l *Lab) nodeNS(node string) string { return topo.NamespaceName(l.top.Name, topo.KindNode, node) }
func (l *Lab) routerNS(r string) string  { return topo.NamespaceName(l.top.Name, topo.KindRouter, r) }
func (l *Lab) podNS(p topo.Pod) string   { return topo.PodNamespaceName(l.top.Name, p) }

// cniPath is where plugins are looked up: the bin dir first.
func cniPath(cfg Config) []string {
	return append([]string{cfg.BinDir}, cfg.CNIPath...)
}
