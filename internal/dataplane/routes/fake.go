package routes

import (
	"errors"
	"fmt"
	"slices"
)

// Fake is an in-memory Kernel for tests: a main table keyed as the
// kernel keys it, a set of interfaces, and a log of the writes made.
type Fake struct {
	// Interfaces by name; tests add and remove them directly.
	Interfaces map[string]Link
	// Table is the route table.
	Table []Route
	// Writes logs each ReplaceRoute ("replace <route>") and DeleteRoute
	// ("delete <route>") call.
	Writes []string
	// Fail, when set, makes the write it returns an error for fail.
	Fail func(op string, r Route) error
}

// NewFake returns an empty Fake.
func NewFake() *Fake { return &Fake{Interfaces: map[string]Link{}} }

// Links implements Kernel.
func (f *Fake) Links() (map[string]Link, error) {
	out := make(map[string]Link, len(f.Interfaces))
	for n, l := range f.Interfaces {
		out[n] = l
	}
	return out, nil
}

// Routes implements Kernel.
func (f *Fake) Routes() ([]Route, error) { return slices.Clone(f.Table), nil }

// ReplaceRoute implements Kernel.
func (f *Fake) ReplaceRoute(r Route) error {
	f.Writes = append(f.Writes, "replace "+r.String())
	if err := f.fail("replace", r); err != nil {
		return err
	}
	if r.LinkIndex != 0 && !f.hasIndex(r.LinkIndex) {
		return fmt.Errorf("no interface with index %d", r.LinkIndex)
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

// DeleteRoute implements Kernel.
func (f *Fake) DeleteRoute(r Route) error {
	f.Writes = append(f.Writes, "delete "+r.String())
	if err := f.fail("delete", r); err != nil {
		return err
	}
	for i, h := range f.Table {
		if h == r {
			f.Table = slices.Delete(f.Table, i, i+1)
			return nil
		}
	}
	return errors.New("no such route")
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
