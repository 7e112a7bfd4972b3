package linklayer

import (
	"context"
	"errors"
	"net"
	"net/netip"
)

// Device is what the reconciler sees of an interface.
type Device struct {
	Name  string
	Index int
	// Kind is the rtnetlink link kind: "vxlan", "ipip", "veth", ...
	Kind string
	Up   bool
	MTU  int
	MAC  net.HardwareAddr
	// Addrs are the interface's IPv4 addresses.
	Addrs []netip.Prefix
	// VXLAN holds the attributes of a vxlan device (nil for other kinds).
	VXLAN *VXLANAttrs
}

// VXLANAttrs are the attributes of a vxlan device that can only be set when
// it is created.
type VXLANAttrs struct {
	VNI         int
	Port        int
	LocalIP     netip.Addr
	ParentIndex int
	Learning    bool
}

// Neighbor is an IPv4 neighbour (ARP) entry.
type Neighbor struct {
	LinkIndex int
	IP        netip.Addr
	MAC       net.HardwareAddr
	Permanent bool
}

// FDBEntry is a vxlan forwarding entry: frames for MAC go to Dst.
type FDBEntry struct {
	LinkIndex int
	MAC       net.HardwareAddr
	Dst       netip.Addr
	Permanent bool
}

// ErrNoDevice is wrapped by a Kernel's entry writes when the interface
// does not exist (any more): what the reconciler remembered was wrong, and
// it reads back and tries again.
var ErrNoDevice = errors.New("no such interface")

// Kernel is the part of netlink (and modprobe) the reconciler uses.
// (Interfaces are listed through a links.Table.) Implementations: Netlink
// (the real kernel) and Fake (in memory).
type Kernel interface {
	// Device returns the named interface, or nil when there is none.
	Device(name string) (*Device, error)
	// AddVXLAN creates a vxlan device (down, learning off).
	AddVXLAN(name string, mac net.HardwareAddr, mtu int, a VXLANAttrs) error
	// DeleteDevice deletes the interface with that index.
	DeleteDevice(index int) error
	SetUp(index int) error
	SetMTU(index, mtu int) error
	SetMAC(index int, mac net.HardwareAddr) error
	AddAddr(index int, p netip.Prefix) error
	DelAddr(index int, p netip.Prefix) error
	// LoadModule loads a kernel module (modprobe).
	LoadModule(ctx context.Context, name string) error

	// Neighbors returns every IPv4 neighbour entry of the namespace.
	Neighbors() ([]Neighbor, error)
	// FDB returns the device's forwarding entries that have a destination.
	FDB(index int) ([]FDBEntry, error)
	// WriteEntries makes the writes in order, as few requests to the
	// kernel as it can, and returns the error of each (nil: done); one
	// failing does not stop the others. A set on an interface that does
	// not exist fails with an error wrapping ErrNoDevice; deleting an
	// entry already gone is not an error.
	WriteEntries(ops []EntryOp) []error
}

// EntryKind is what an EntryOp does.
type EntryKind int

// The kinds of EntryOp.
const (
	// SetNeighbor adds or replaces a permanent neighbour entry.
	SetNeighbor EntryKind = iota
	// DelNeighbor deletes a neighbour entry (MAC unused).
	DelNeighbor
	// SetFDB adds or replaces a permanent "self" FDB entry: frames for
	// MAC go to IP.
	SetFDB
	// DelFDB deletes that FDB entry.
	DelFDB
)

// EntryOp is one write of a neighbour or FDB entry on the interface with
// index Index.
type EntryOp struct {
	Kind  EntryKind
	Index int
	// IP is the neighbour's address, or the FDB entry's destination.
	IP  netip.Addr
	MAC net.HardwareAddr
}
