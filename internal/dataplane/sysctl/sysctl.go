package sysctl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/dataplane/links"
)

// FS reads and writes settings by their /proc/sys path
// ("net/ipv4/ip_forward").
type FS interface {
	Read(name string) (string, error)
	Write(name, value string) error
}

// Proc is the real FS, rooted at Root ("": /proc/sys). It reads and writes
// with plain open/read/write/close system calls: /proc files cannot be
// polled, and os.File's set-up for the netpoller (and the fstat of
// os.ReadFile) doubled the cost of each of the thousands of reads a resync
// makes.
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
	path := p.path(name)
	fd, err := openRetry(path, unix.O_RDONLY)
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var buf [256]byte // every setting tortie reads is a short number
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// Write implements FS.
func (p Proc) Write(name, value string) error {
	path := p.path(name)
	fd, err := openRetry(path, unix.O_WRONLY)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, []byte(value))
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

func openRetry(path string, mode int) (int, error) {
	for {
		fd, err := unix.Open(path, mode|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// Config configures a Reconciler.
type Config struct {
	// FS is where settings live (nil: Proc{}).
	FS FS
	// Index gives a workload interface's ifindex from the dataplane's
	// view of the interfaces; ok is false when it does not exist. (nil:
	// one netlink request per call, in the calling thread's namespace.)
	Index func(name string) (index int, ok bool)
	// Batch is how many deferred interfaces each Apply checks (see Defer;
	// 0: DefaultBatch).
	Batch int
	// Log receives a line per setting written (nil: discard).
	Log *slog.Logger
}

// DefaultBatch is Config.Batch's default: 160 reads, a millisecond or two
// per Apply, which drains a thousand deferred interfaces in about thirty
// Applies (the periodic resync checks them all anyway).
const DefaultBatch = 32

// Reconciler keeps the settings. It is not safe for concurrent use.
type Reconciler struct {
	fs     FS
	index  func(string) (int, bool)
	batch  int
	log    *slog.Logger
	global bool            // the node-wide settings were found right
	ipv6   bool            // the node routes IPv6 workloads (SetIPv6)
	v6ifs  map[string]bool // the workload interfaces with IPv6 (SetIPv6Interfaces)
	// ifs are the workload interfaces known, by name; queue holds the
	// deferred ones in order (with names since checked or gone).
	ifs   map[string]*ifState
	queue []string
	// hold keeps the next Apply from checking deferred interfaces.
	hold bool
	// gen numbers the Applies.
	gen uint64
}

// ifState is what the Reconciler knows of one workload interface.
type ifState struct {
	index    int
	right    bool   // its settings were found (or made) right
	v6       bool   // its IPv6 settings are kept too
	deferred bool   // to be checked later
	seen     uint64 // the last Apply that wanted it
}

// New returns a Reconciler.
func New(cfg Config) *Reconciler {
	r := &Reconciler{fs: cfg.FS, index: cfg.Index, batch: cfg.Batch, log: cfg.Log, ifs: map[string]*ifState{}}
	if r.fs == nil {
		r.fs = Proc{}
	}
	if r.index == nil {
		k := links.NewNetlink(nil)
		r.index = func(name string) (int, bool) {
			l, ok, err := k.LinkByName(name)
			return l.Index, ok && err == nil
		}
	}
	if r.batch <= 0 {
		r.batch = DefaultBatch
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Forget makes the next Apply read every setting again, the deferred ones
// included.
func (r *Reconciler) Forget() {
	r.global = false
	clear(r.ifs)
	r.queue = nil
	r.hold = false
}

// Defer marks the named interfaces that exist and are not known right as
// to be checked later, without reading anything: the next Apply checks
// none of them, each one after that Config.Batch of them, after the
// interfaces it has not seen before. The dataplane defers the interfaces
// present at its first Apply, so a restart on a node full of workloads is
// in sync without first reading thousands of files. Those interfaces had
// their settings written by the CNI plugin when it made them, and checked
// by the agent that ran before; the periodic resync (Forget, then Apply)
// checks everything in any case.
func (r *Reconciler) Defer(names []string) {
	for _, name := range names {
		index, ok := r.index(name)
		if !ok {
			continue
		}
		s := r.ifs[name]
		if s == nil || s.index != index {
			s = &ifState{index: index}
			r.ifs[name] = s
		}
		if !s.right && !s.deferred {
			s.deferred = true
			r.queue = append(r.queue, name)
		}
	}
	r.hold = true
}

// Result counts what Apply did.
type Result struct {
	// Interfaces is the number of workload interfaces whose settings are
	// right after Apply.
	Interfaces int
	// Deferred is the number of workload interfaces still to be checked.
	Deferred int
	// Written is the number of settings changed.
	Written int
}

// setting is one value; an optional one may be absent (IPv6 disabled).
type setting struct {
	name, value string
	optional    bool
}

// global is the node-wide settings; with IPv6, IPv6 forwarding too
// (what Felix sets with ipv6Support), which a node without IPv6 workloads
// is spared: it stops the host accepting router advertisements.
func global(ipv6 bool) []setting {
	out := []setting{{name: "net/ipv4/ip_forward", value: "1"}}
	if ipv6 {
		out = append(out, setting{name: "net/ipv6/conf/all/forwarding", value: "1"})
	}
	return out
}

// SetIPv6 turns on the IPv6 node-wide settings (checked by the next
// Apply); they stay on.
func (r *Reconciler) SetIPv6() {
	if !r.ipv6 {
		r.ipv6, r.global = true, false
	}
}

// perInterface is a workload interface's settings; with v6, the IPv6
// ones of a workload with an IPv6 address too (reference §6.1).
func perInterface(name string, v6 bool) []setting {
	out := []setting{
		{name: "net/ipv4/conf/" + name + "/route_localnet", value: "1"},
		{name: "net/ipv4/conf/" + name + "/proxy_arp", value: "1"},
		{name: "net/ipv4/neigh/" + name + "/proxy_delay", value: "0"},
		{name: "net/ipv4/conf/" + name + "/forwarding", value: "1"},
		{name: "net/ipv6/conf/" + name + "/accept_ra", value: "0", optional: !v6},
	}
	if v6 {
		ifc6 := "net/ipv6/conf/" + name + "/"
		out = append(out, setting{name: ifc6 + "disable_ipv6", value: "0"}, setting{name: ifc6 + "accept_dad", value: "0"},
			setting{name: ifc6 + "proxy_ndp", value: "1"}, setting{name: ifc6 + "forwarding", value: "1"})
	}
	return out
}

// SetIPv6Interfaces names the workload interfaces with an IPv6 address,
// whose IPv6 settings are kept too (an interface that gains IPv6 is
// checked again at the next Apply).
func (r *Reconciler) SetIPv6Interfaces(names map[string]bool) { r.v6ifs = names }

// Apply makes the node-wide settings and those of the named workload
// interfaces right: those not checked yet by this Reconciler (or
// recreated since) at once, then up to Config.Batch deferred ones.
// Interfaces that do not exist (yet, or any more) are skipped, and names
// may repeat. An interface found right is not read again until Forget. It
// carries on past failures and returns them joined.
func (r *Reconciler) Apply(ctx context.Context, workloads []string) (Result, error) {
	var res Result
	var errs []error
	if !r.global {
		n, err := r.ensure(global(r.ipv6))
		res.Written += n
		if err != nil {
			errs = append(errs, err)
		} else {
			r.global = true
		}
	}
	r.gen++
	for _, name := range workloads {
		index, ok := r.index(name)
		if !ok {
			continue
		}
		s := r.ifs[name]
		if s != nil && s.seen == r.gen {
			continue // listed twice
		}
		if s == nil || s.index != index || s.v6 != r.v6ifs[name] { // new, recreated, or now with IPv6
			s = &ifState{index: index, v6: r.v6ifs[name]}
			r.ifs[name] = s
		}
		s.seen = r.gen
		if s.right {
			res.Interfaces++
			continue
		}
		if s.deferred {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		if err := r.check(name, s, &res); err != nil {
			errs = append(errs, err)
		}
	}
	for name, s := range r.ifs {
		if s.seen != r.gen {
			delete(r.ifs, name) // checked again should it come back
		}
	}
	checked := 0
	if r.hold {
		r.hold = false
		checked = r.batch
	}
	for len(r.queue) > 0 && checked < r.batch {
		name := r.queue[0]
		r.queue = r.queue[1:]
		s := r.ifs[name]
		if s == nil || !s.deferred {
			continue // gone, recreated (and checked as new), or done
		}
		if err := ctx.Err(); err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		checked++
		s.deferred = false
		if err := r.check(name, s, &res); err != nil {
			errs = append(errs, err)
		}
	}
	if len(r.queue) == 0 {
		r.queue = nil // let the backing array go
	}
	for _, s := range r.ifs {
		if s.deferred {
			res.Deferred++
		}
	}
	return res, errors.Join(errs...)
}

// check reads an interface's settings and writes those that differ.
func (r *Reconciler) check(name string, s *ifState, res *Result) error {
	n, err := r.ensure(perInterface(name, s.v6))
	res.Written += n
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the interface went away meanwhile
	}
	if err != nil {
		return err
	}
	s.right = true
	res.Interfaces++
	return nil
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
