package tunnels

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Fake is an in-memory Kernel for tests. Devices, neighbours and FDB
// entries are plain fields tests set and inspect; every write is logged in
// Writes.
type Fake struct {
	Devices map[string]*Device
	Neigh   []Neighbor
	FDBs    []FDBEntry
	Writes  []string
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
	return nil, fmt.Errorf("no device with index %d", i)
}

func (f *Fake) write(format string, args ...any) {
	f.Writes = append(f.Writes, fmt.Sprintf(format, args...))
}

// Device implements Kernel.
func (f *Fake) Device(name string) (*Device, error) {
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

// Links implements Kernel.
func (f *Fake) Links() (map[string]int, error) {
	out := map[string]int{}
	for n, d := range f.Devices {
		out[n] = d.Index
	}
	return out, nil
}

// AddVXLAN implements Kernel.
func (f *Fake) AddVXLAN(name string, mac net.HardwareAddr, mtu int, a VXLANAttrs) error {
	f.write("add vxlan %s", name)
	if _, ok := f.Devices[name]; ok {
		return errors.New("file exists")
	}
	f.AddDevice(&Device{Name: name, Kind: "vxlan", MTU: mtu, MAC: mac, VXLAN: &a})
	return nil
}

// DeleteDevice implements Kernel; the device's entries go with it.
func (f *Fake) DeleteDevice(index int) error {
	f.write("delete device %d", index)
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
	f.write("up %d", index)
	d, err := f.byIndex(index)
	if err == nil {
		d.Up = true
	}
	return err
}

// SetMTU implements Kernel.
func (f *Fake) SetMTU(index, mtu int) error {
	f.write("mtu %d %d", index, mtu)
	d, err := f.byIndex(index)
	if err == nil {
		d.MTU = mtu
	}
	return err
}

// SetMAC implements Kernel.
func (f *Fake) SetMAC(index int, mac net.HardwareAddr) error {
	f.write("mac %d %s", index, mac)
	d, err := f.byIndex(index)
	if err == nil {
		d.MAC = mac
	}
	return err
}

// AddAddr implements Kernel.
func (f *Fake) AddAddr(index int, p netip.Prefix) error {
	f.write("addr add %d %s", index, p)
	d, err := f.byIndex(index)
	if err == nil {
		d.Addrs = append(d.Addrs, p)
	}
	return err
}

// DelAddr implements Kernel.
func (f *Fake) DelAddr(index int, p netip.Prefix) error {
	f.write("addr del %d %s", index, p)
	d, err := f.byIndex(index)
	if err == nil {
		d.Addrs = slices.DeleteFunc(d.Addrs, func(x netip.Prefix) bool { return x == p })
	}
	return err
}

// LoadModule implements Kernel.
func (f *Fake) LoadModule(_ context.Context, name string) error {
	f.write("modprobe %s", name)
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
func (f *Fake) Neighbors() ([]Neighbor, error) { return slices.Clone(f.Neigh), nil }

// SetNeighbor implements Kernel.
func (f *Fake) SetNeighbor(index int, ip netip.Addr, mac net.HardwareAddr) error {
	f.write("neigh set %d %s %s", index, ip, mac)
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

// DelNeighbor implements Kernel.
func (f *Fake) DelNeighbor(index int, ip netip.Addr) error {
	f.write("neigh del %d %s", index, ip)
	f.Neigh = slices.DeleteFunc(f.Neigh, func(e Neighbor) bool { return e.LinkIndex == index && e.IP == ip })
	return nil
}

// FDB implements Kernel.
func (f *Fake) FDB(index int) ([]FDBEntry, error) {
	var out []FDBEntry
	for _, e := range f.FDBs {
		if e.LinkIndex == index {
			out = append(out, e)
		}
	}
	return out, nil
}

// SetFDB implements Kernel: like the kernel's replace, it sets the MAC's
// destination.
func (f *Fake) SetFDB(index int, mac net.HardwareAddr, dst netip.Addr) error {
	f.write("fdb set %d %s %s", index, mac, dst)
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

// DelFDB implements Kernel.
func (f *Fake) DelFDB(index int, mac net.HardwareAddr, dst netip.Addr) error {
	f.write("fdb del %d %s %s", index, mac, dst)
	f.FDBs = slices.DeleteFunc(f.FDBs, func(e FDBEntry) bool {
		return e.LinkIndex == index && bytes.Equal(e.MAC, mac) && e.Dst == dst
	})
	return nil
}
