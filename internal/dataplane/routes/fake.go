package routes

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tortienet/tortie/internal/dataplane/links"
)

// Fake is an in-memory Kernel for tests: a main table keyed as the
// kernel keys it, a set of interfaces (it is a links.Kernel too), and logs
// of the reads and writes made.
type Fake struct {
	// Interfaces by name; tests add and remove them directly.
	Interfaces map[string]Link
	// Table is the route table.
	Table []Route
	// Reads logs each dump ("routes", "links") and lookup ("link <name>").
	Reads []string
	// Writes logs each write: "add <route>", "replace <route>" and
	// "delete <route>".
	Writes []string
	// Fail, when set, makes the write it returns an error for fail.
	Fail func(op string, r Route) error
}

// NewFake returns an empty Fake.
func NewFake() *Fake { return &Fake{Interfaces: map[string]Link{}} }

// Links implements links.Kernel.
func (f *Fake) Links() ([]links.Link, error) {
	f.Reads = append(f.Reads, "links")
	out := make([]links.Link, 0, len(f.Interfaces))
	for n, l := range f.Interfaces {
		l.Name = n
		out = append(out, l)
	}
	return out, nil
}

// LinkByName implements links.Kernel.
func (f *Fake) LinkByName(name string) (links.Link, bool, error) {
	f.Reads = append(f.Reads, "link "+name)
	l, ok := f.Interfaces[name]
	l.Name = name
	return l, ok, nil
}

// Routes implements Kernel.
func (f *Fake) Routes(ipv6 bool) ([]Route, error) {
	if !ipv6 {
		f.Reads = append(f.Reads, "routes")
		return slices.DeleteFunc(slices.Clone(f.Table), func(r Route) bool { return r.Dst.Addr().Is6() }), nil
	}
	f.Reads = append(f.Reads, "routes+v6")
	return slices.Clone(f.Table), nil
}

// Write implements Kernel with AddRoute, ReplaceRoute and DeleteRoute.
func (f *Fake) Write(ops []Op) []error {
	errs := make([]error, len(ops))
	for i, op := range ops {
		switch op.Kind {
		case OpAdd:
			errs[i] = f.AddRoute(op.Route)
		case OpReplace:
			errs[i] = f.ReplaceRoute(op.Route)
		case OpDelete:
			errs[i] = f.DeleteRoute(op.Route)
		}
	}
	return errs
}

// AddRoute adds r, failing as the kernel does when a route has its key.
func (f *Fake) AddRoute(r Route) error {
	f.Writes = append(f.Writes, "add "+r.String())
	if err := f.check("add", r); err != nil {
		return err
	}
	for _, h := range f.Table {
		if h.key() == r.key() {
			return fmt.Errorf("%w: %s", ErrExists, h)
		}
	}
	f.Table = append(f.Table, r)
	return nil
}

// ReplaceRoute writes r over the route with its key, if any.
func (f *Fake) ReplaceRoute(r Route) error {
	f.Writes = append(f.Writes, "replace "+r.String())
	if err := f.check("replace", r); err != nil {
		return err
	}
	for i, h := range f.Table {
		if h.key() == r.key() {
			f.Table[i] = r
			return nil
		}
	}
	f.Table = append(f.Table, r)
	return nil
}

// DeleteRoute removes exactly r.
func (f *Fake) DeleteRoute(r Route) error {
	f.Writes = append(f.Writes, "delete "+r.String())
	if err := f.fail("delete", r); err != nil {
		return err
	}
	f.Table = slices.DeleteFunc(f.Table, func(h Route) bool { return h == r })
	return nil
}

// check runs Fail, then refuses a route on an interface that does not
// exist, as the kernel does.
func (f *Fake) check(op string, r Route) error {
	if err := f.fail(op, r); err != nil {
		return err
	}
	if r.LinkIndex != 0 && !f.hasIndex(r.LinkIndex) {
		return fmt.Errorf("%w: index %d", ErrNoDevice, r.LinkIndex)
	}
	return nil
}

func (f *Fake) fail(op string, r Route) error {
	if f.Fail == nil {
		return nil
	}
	return f.Fail(op, r)
}

func (f *Fake) hasIndex(i int) bool {
	for _, l := range f.Interfaces {
		if l.Index == i {
			return true
		}
	}
	return false
}

// Text is the fake kernel's routes, one per line, sorted: what tests
// compare between two kernels.
func (f *Fake) Text() string {
	rs := f.Table
	ss := make([]string, len(rs))
	for i, r := range rs {
		ss[i] = r.String()
	}
	slices.Sort(ss)
	return strings.Join(ss, "\n")
}
