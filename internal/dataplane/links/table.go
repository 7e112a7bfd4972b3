package links

import "fmt"

// Link is what the reconcilers need to know about an interface.
type Link struct {
	Name  string
	Index int
	// Up is the administrative state (IFF_UP).
	Up bool
}

// Kernel reads interfaces. Implementations: Netlink (the real kernel); the
// routes and tunnels packages' fakes implement it too.
type Kernel interface {
	// Links lists every interface of the namespace (a dump).
	Links() ([]Link, error)
	// LinkByName returns the named interface; ok is false when there is
	// none.
	LinkByName(name string) (l Link, ok bool, err error)
}

// MaxLookups is how many names one Refresh looks up one by one; asked for
// more, it dumps instead, which is then cheaper.
const MaxLookups = 64

// Table is a remembered view of the interfaces. It is not safe for
// concurrent use; the dataplane applies from one goroutine.
type Table struct {
	k       Kernel
	byName  map[string]Link
	byIndex map[int]string
	// Per round: whether the table was dumped, which names were looked up
	// afresh, and which a write has since shown to be wrong.
	dumped bool
	fresh  map[string]bool
	stale  map[string]bool
	// version changes whenever a read changes the table.
	version uint64
	// Dumps and Lookups count the kernel reads made, for tests.
	Dumps, Lookups int
}

// NewTable returns an empty Table reading k.
func NewTable(k Kernel) *Table {
	return &Table{k: k, byName: map[string]Link{}, byIndex: map[int]string{},
		fresh: map[string]bool{}, stale: map[string]bool{}}
}

// Begin starts a round: Dump and Refresh read the kernel again.
func (t *Table) Begin() {
	t.dumped = false
	clear(t.fresh)
	clear(t.stale)
}

// Dump replaces the table with a full listing, unless it was already
// dumped in this round.
func (t *Table) Dump() error {
	if t.dumped {
		return nil
	}
	ls, err := t.k.Links()
	if err != nil {
		return err
	}
	t.Dumps++
	clear(t.byName)
	clear(t.byIndex)
	clear(t.stale)
	for _, l := range ls {
		t.byName[l.Name] = l
		t.byIndex[l.Index] = l.Name
	}
	t.dumped = true
	t.version++
	return nil
}

// Refresh makes sure the named interfaces were read in this round: it
// looks up, one request each, the names not read yet; given more than
// MaxLookups of them in a round without a dump, it dumps instead.
func (t *Table) Refresh(names []string) error {
	var todo []string
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || seen[n] || t.fresh[n] || (t.dumped && !t.stale[n]) {
			continue
		}
		seen[n] = true
		todo = append(todo, n)
	}
	if len(todo) > MaxLookups && !t.dumped {
		return t.Dump()
	}
	for _, n := range todo {
		l, ok, err := t.k.LinkByName(n)
		if err != nil {
			return fmt.Errorf("look up interface %s: %w", n, err)
		}
		t.Lookups++
		t.set(n, l, ok)
		t.fresh[n] = true
		delete(t.stale, n)
	}
	return nil
}

// Invalidate makes the next Refresh in this round look the names up
// again: a write found what the table says about them wrong.
func (t *Table) Invalidate(names []string) {
	for _, n := range names {
		delete(t.fresh, n)
		t.stale[n] = true
	}
}

// Version changes whenever a Dump or Refresh changes what the table says:
// a caller that resolved names before can tell whether to resolve again.
func (t *Table) Version() uint64 { return t.version }

func (t *Table) set(name string, l Link, ok bool) {
	l.Name = name
	if old, had := t.byName[name]; (had && ok && old == l) || (!had && !ok) {
		return // unchanged
	}
	t.version++
	if old, had := t.byName[name]; had {
		delete(t.byIndex, old.Index)
		delete(t.byName, name)
	}
	if !ok {
		return
	}
	if other, had := t.byIndex[l.Index]; had {
		delete(t.byName, other) // renamed
	}
	t.byName[name] = l
	t.byIndex[l.Index] = name
}

// Get returns the named interface as last read.
func (t *Table) Get(name string) (Link, bool) {
	l, ok := t.byName[name]
	return l, ok
}

// Name returns the name of the interface with that index as last read
// ("" when unknown).
func (t *Table) Name(index int) string { return t.byIndex[index] }
