package linklayer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/tortienet/tortie/internal/dataplane/links"
)

// Fake is an in-memory Kernel for tests. Devices, neighbours and FDB
// entries are plain fields tests set and inspect; every write is logged in
// Writes.
type Fake struct {
	Devices map[string]*Device
	Neigh   []Neighbor
	FDBs    []FDBEntry
	// Reads logs each read: "device <name>", "links", "link <name>",
	// "neighbors", "fdb <index>".
	Reads  []string
	Writes []string
	// Fail, when set, is asked about each write (as logged in Writes); an
	// error it returns makes the write fail, changing nothing.
	Fail func(write string) error
	// Modules says what LoadModule does per module: a device it makes
	// appear (nil for none). A module not listed fails to load.
	Modules map[string]*Device
	next    int
}

// NewFake returns a Fake with no devices.
func NewFake() *Fake { return &Fake{Devices: map[string]*Device{}, next: 100} }

// AddDevice adds a device, giving it the next free index when it has none.
func (f *Fake) AddDevice(d *Device) *Device {
	if d.Index == 0 {
		f.next++
		d.Index = f.next
	}
	f.Devices[d.Name] = d
	return d
}

func (f *Fake) byIndex(i int) (*Device, error) {
	for _, d := range f.Devices {
		if d.Index == i {
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w: index %d", ErrNoDevice, i)
}

// write logs a write and returns what Fail says of it.
func (f *Fake) write(format string, args ...any) error {
	w := fmt.Sprintf(format, args...)
	f.Writes = append(f.Writes, w)
	if f.Fail != nil {
		return f.Fail(w)
	}
	return nil
}

func (f *Fake) read(format string, args ...any) {
	f.Reads = append(f.Reads, fmt.Sprintf(format, args...))
}

// Device implements Kernel.
func (f *Fake) Device(name string) (*Device, error) {
	f.read("device %s", name)
	d, ok := f.Devices[name]
	if !ok {
		return nil, nil
	}
	c := *d
	c.Addrs = slices.Clone(d.Addrs)
	if d.VXLAN != nil {
		v := *d.VXLAN
		c.VXLAN = &v
	}
	return &c, nil
}

// Links implements links.Kernel.
func (f *Fake) Links() ([]links.Link, error) {
	f.read("links")
	out := make([]links.Link, 0, len(f.Devices))
	for n, d := range f.Devices {
		out = append(out, links.Link{Name: n, Index: d.Index, Up: d.Up})
	}
	return out, nil
}

// LinkByName implements links.Kernel.
func (f *Fake) LinkByName(name string) (links.Link, bool, error) {
	f.read("link %s", name)
	d, ok := f.Devices[name]
	if !ok {
		return links.Link{}, false, nil
	}
	return links.Link{Name: name, Index: d.Index, Up: d.Up}, true, nil
}

// AddVXLAN implements Kernel.
func (f *Fake) AddVXLAN(name string, mac net.HardwareAddr, mtu int, a VXLANAttrs) error {
	if err := f.write("add vxlan %s", name); err != nil {
		return err
	}
	if _, ok := f.Devices[name]; ok {
		return errors.New("file exists")
	}
	f.AddDevice(&Device{Name: name, Kind: "vxlan", MTU: mtu, MAC: mac, VXLAN: &a})
	return nil
}

// DeleteDevice implements Kernel; the device's entries go with it.
func (f *Fake) DeleteDevice(index int) error {
	if err := f.write("delete device %d", index); err != nil {
		return err
	}
	d, err := f.byIndex(index)
	if err != nil {
		return err
	}
	delete(f.Devices, d.Name)
	f.Neigh = slices.DeleteFunc(f.Neigh, func(n Neighbor) bool { return n.LinkIndex == index })
	f.FDBs = slices.DeleteFunc(f.FDBs, func(e FDBEntry) bool { return e.LinkIndex == index })
	return nil
}

// SetUp implements Kernel.
func (f *Fake) SetUp(index int) error {
	if err := f.write("up %d", index); err != nil {
		return err
	}
	d, err := f.byIndex(index)
	if err == nil {
		d.Up = true
	}
	return err
}

// SetMTU implements Kernel.
func (f *Fake) SetMTU(index, mtu int) error {
	if err := f.write("mtu %d %d", index, mtu); err != nil {
		return err
	}
	d, err := f.byIndex(index)
	if err == nil {
		d.MTU = mtu
	}
	return err
}

// SetMAC implements Kernel.
func (f *Fake) SetMAC(index int, mac net.HardwareAddr) error {
	if err := f.write("mac %d %s", index, mac); err != nil {
		return err
	}
	d, err := f.byIndex(index)
	if err == nil {
		d.MAC = mac
	}
	return err
}

// AddAddr implements Kernel.
func (f *Fake) AddAddr(index int, p netip.Prefix) error {
	if err := f.write("addr add %d %s", index, p); err != nil {
		return err
	}
	d, err := f.byIndex(index)
	if err == nil {
		d.Addrs = append(d.Addrs, p)
	}
	return err
}

// DelAddr implements Kernel.
func (f *Fake) DelAddr(index int, p netip.Prefix) error {
	if err := f.write("addr del %d %s", index, p); err != nil {
		return err
	}
	d, err := f.byIndex(index)
	if err == nil {
		d.Addrs = slices.DeleteFunc(d.Addrs, func(x netip.Prefix) bool { return x == p })
	}
	return err
}

// LoadModule implements Kernel.
func (f *Fake) LoadModule(_ context.Context, name string) error {
	if err := f.write("modprobe %s", name); err != nil {
		return err
	}
	d, ok := f.Modules[name]
	if !ok {
		return fmt.Errorf("module %s not found", name)
	}
	if d != nil {
		f.AddDevice(d)
	}
	return nil
}

// Neighbors implements Kernel.
func (f *Fake) Neighbors() ([]Neighbor, error) {
	f.read("neighbors")
	return slices.Clone(f.Neigh), nil
}

// WriteEntries implements Kernel with SetNeighbor, DelNeighbor, SetFDB and
// DelFDB.
func (f *Fake) WriteEntries(ops []EntryOp) []error {
	errs := make([]error, len(ops))
	for i, op := range ops {
		switch op.Kind {
		case SetNeighbor:
			errs[i] = f.SetNeighbor(op.Index, op.IP, op.MAC)
		case DelNeighbor:
			errs[i] = f.DelNeighbor(op.Index, op.IP)
		case SetFDB:
			errs[i] = f.SetFDB(op.Index, op.MAC, op.IP)
		case DelFDB:
			errs[i] = f.DelFDB(op.Index, op.MAC, op.IP)
		}
	}
	return errs
}

// SetNeighbor adds or replaces a permanent entry.
func (f *Fake) SetNeighbor(index int, ip netip.Addr, mac net.HardwareAddr) error {
	if err := f.write("neigh set %d %s %s", index, ip, mac); err != nil {
		return err
	}
	if _, err := f.byIndex(index); err != nil {
		return err
	}
	n := Neighbor{LinkIndex: index, IP: ip, MAC: mac, Permanent: true}
	for i, e := range f.Neigh {
		if e.LinkIndex == index && e.IP == ip {
			f.Neigh[i] = n
			return nil
		}
	}
	f.Neigh = append(f.Neigh, n)
	return nil
}

// DelNeighbor deletes an entry.
func (f *Fake) DelNeighbor(index int, ip netip.Addr) error {
	if err := f.write("neigh del %d %s", index, ip); err != nil {
		return err
	}
	f.Neigh = slices.DeleteFunc(f.Neigh, func(e Neighbor) bool { return e.LinkIndex == index && e.IP == ip })
	return nil
}

// FDB implements Kernel.
func (f *Fake) FDB(index int) ([]FDBEntry, error) {
	f.read("fdb %d", index)
	var out []FDBEntry
	for _, e := range f.FDBs {
		if e.LinkIndex == index {
			out = append(out, e)
		}
	}
	return out, nil
}

// SetFDB adds or replaces a permanent entry: like the kernel's replace, it
// sets the MAC's destination.
func (f *Fake) SetFDB(index int, mac net.HardwareAddr, dst netip.Addr) error {
	if err := f.write("fdb set %d %s %s", index, mac, dst); err != nil {
		return err
	}
	if _, err := f.byIndex(index); err != nil {
		return err
	}
	e := FDBEntry{LinkIndex: index, MAC: mac, Dst: dst, Permanent: true}
	for i, x := range f.FDBs {
		if x.LinkIndex == index && bytes.Equal(x.MAC, mac) {
			f.FDBs[i] = e
			return nil
		}
	}
	f.FDBs = append(f.FDBs, e)
	return nil
}

// DelFDB deletes an entry.
func (f *Fake) DelFDB(index int, mac net.HardwareAddr, dst netip.Addr) error {
	if err := f.write("fdb del %d %s %s", index, mac, dst); err != nil {
		return err
	}
	f.FDBs = slices.DeleteFunc(f.FDBs, func(e FDBEntry) bool {
		return e.LinkIndex == index && bytes.Equal(e.MAC, mac) && e.Dst == dst
	})
	return nil
}
