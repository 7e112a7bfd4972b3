package sysctl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// FS reads and writes settings by their /proc/sys path
// ("net/ipv4/ip_forward").
type FS interface {
	Read(name string) (string, error)
	Write(name, value string) error
}

// Proc is the real FS, rooted at Root ("": /proc/sys).
type Proc struct{ Root string }

func (p Proc) path(name string) string {
	root := p.Root
	if root == "" {
		root = "/proc/sys"
	}
	return filepath.Join(root, name)
}

// Read implements FS; the value comes without its trailing newline.
func (p Proc) Read(name string) (string, error) {
	b, err := os.ReadFile(p.path(name))
	return strings.TrimSpace(string(b)), err
}

// Write implements FS.
func (p Proc) Write(name, value string) error {
	return os.WriteFile(p.path(name), []byte(value), 0o644)
}

// LinkIndexes is the real interface lister for Config.Interfaces: every
// interface of the calling thread's namespace, name to index.
func LinkIndexes() (map[string]int, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	out := make(map[string]int, len(ifs))
	for _, i := range ifs {
		out[i.Name] = i.Index
	}
	return out, nil
}

// Config configures a Reconciler.
type Config struct {
	// FS is where settings live (nil: Proc{}).
	FS FS
	// Interfaces lists the namespace's interfaces (nil: LinkIndexes).
	Interfaces func() (map[string]int, error)
	// Log receives a line per setting written (nil: discard).
	Log *slog.Logger
}

// Reconciler keeps the settings. It is not safe for concurrent use.
type Reconciler struct {
	fs     FS
	links  func() (map[string]int, error)
	log    *slog.Logger
	global bool           // the node-wide settings were found right
	right  map[string]int // interfaces found right, with their ifindex
}

// New returns a Reconciler.
func New(cfg Config) *Reconciler {
	r := &Reconciler{fs: cfg.FS, links: cfg.Interfaces, log: cfg.Log, right: map[string]int{}}
	if r.fs == nil {
		r.fs = Proc{}
	}
	if r.links == nil {
		r.links = LinkIndexes
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Forget makes the next Apply read every setting again.
func (r *Reconciler) Forget() {
	r.global = false
	clear(r.right)
}

// Result counts what Apply did.
type Result struct {
	// Interfaces is the number of workload interfaces whose settings are
	// right after Apply.
	Interfaces int
	// Written is the number of settings changed.
	Written int
}

// setting is one value; an optional one may be absent (IPv6 disabled).
type setting struct {
	name, value string
	optional    bool
}

func global() []setting { return []setting{{name: "net/ipv4/ip_forward", value: "1"}} }

func perInterface(name string) []setting {
	return []setting{
		{name: "net/ipv4/conf/" + name + "/route_localnet", value: "1"},
		{name: "net/ipv4/conf/" + name + "/proxy_arp", value: "1"},
		{name: "net/ipv4/neigh/" + name + "/proxy_delay", value: "0"},
		{name: "net/ipv4/conf/" + name + "/forwarding", value: "1"},
		{name: "net/ipv6/conf/" + name + "/accept_ra", value: "0", optional: true},
	}
}

// Apply makes the node-wide settings and those of the named workload
// interfaces right. Interfaces that do not exist (yet, or any more) are
// skipped. It carries on past failures and returns them joined.
func (r *Reconciler) Apply(ctx context.Context, workloads []string) (Result, error) {
	var res Result
	var errs []error
	if !r.global {
		n, err := r.ensure(global())
		res.Written += n
		if err != nil {
			errs = append(errs, err)
		} else {
			r.global = true
		}
	}
	links, err := r.links()
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	for name, index := range r.right {
		if links[name] != index {
			delete(r.right, name) // gone, or a new interface by that name
		}
	}
	for _, name := range workloads {
		index, ok := links[name]
		if !ok {
			continue
		}
		if r.right[name] == index {
			res.Interfaces++
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		n, err := r.ensure(perInterface(name))
		res.Written += n
		if errors.Is(err, fs.ErrNotExist) {
			continue // the interface went away meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.right[name] = index
		res.Interfaces++
	}
	return res, errors.Join(errs...)
}

// ensure writes the settings that differ, in order, and returns how many
// it wrote.
func (r *Reconciler) ensure(ss []setting) (int, error) {
	n := 0
	for _, s := range ss {
		got, err := r.fs.Read(s.name)
		if s.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("read sysctl %s: %w", s.name, err)
		}
		if got == s.value {
			continue
		}
		if err := r.fs.Write(s.name, s.value); err != nil {
			return n, fmt.Errorf("set sysctl %s=%s (was %s): %w", s.name, s.value, got, err)
		}
		r.log.Debug("sysctl set", "name", s.name, "value", s.value, "was", got)
		n++
	}
	return n, nil
}
