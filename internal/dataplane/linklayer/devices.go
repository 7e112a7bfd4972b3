package linklayer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
)

// DeviceResult counts what ApplyDevices found and did.
type DeviceResult struct {
	// Devices is the number of tunnel devices present and configured.
	Devices int
	// Changes is the number of kernel writes made.
	Changes int
}

// appliedDevices is what a successful ApplyDevices was asked and found.
type appliedDevices struct {
	ipip  *calc.IPIPDeviceSpec
	vxlan *calc.VXLANDeviceSpec
	res   DeviceResult
}

// ApplyDevices makes tunl0 and vxlan.calico as wanted (nil: not wanted).
// Both are attempted; the errors are joined. Wanting IP-in-IP on a kernel
// without it gives an error wrapping ErrIPIPUnsupported.
//
// Asked for the same as the last successful call, it makes no kernel call
// (until Forget). A call that changes a device makes the next
// ApplyNeighbors read the entries back: the kernel drops a device's
// entries with it.
func (r *Reconciler) ApplyDevices(ctx context.Context, ipip *calc.IPIPDeviceSpec, vxlan *calc.VXLANDeviceSpec) (DeviceResult, error) {
	if a := r.devices; a != nil && reflect.DeepEqual(a.ipip, ipip) && reflect.DeepEqual(a.vxlan, vxlan) {
		return DeviceResult{Devices: a.res.Devices}, nil
	}
	r.devices = nil
	res, err := r.applyDevices(ctx, ipip, vxlan)
	if res.Changes > 0 {
		r.entries.known = false
	}
	if err == nil {
		a := &appliedDevices{res: res}
		if ipip != nil {
			c := *ipip
			a.ipip = &c
		}
		if vxlan != nil {
			c := *vxlan
			c.MAC = bytes.Clone(vxlan.MAC)
			a.vxlan = &c
		}
		r.devices = a
	}
	return res, err
}

func (r *Reconciler) applyDevices(ctx context.Context, ipip *calc.IPIPDeviceSpec, vxlan *calc.VXLANDeviceSpec) (DeviceResult, error) {
	var res DeviceResult
	n, ok, errIPIP := r.applyIPIP(ctx, ipip)
	res.Changes += n
	if ok {
		res.Devices++
	}
	n, ok, errVXLAN := r.applyVXLAN(vxlan)
	res.Changes += n
	if ok {
		res.Devices++
	}
	if res.Changes > 0 {
		r.log.Info("tunnel devices reconciled", "changes", res.Changes, "devices", res.Devices)
	}
	return res, errors.Join(errIPIP, errVXLAN)
}

// applyIPIP configures tunl0, or strips its addresses when IP-in-IP is not
// wanted.
func (r *Reconciler) applyIPIP(ctx context.Context, spec *calc.IPIPDeviceSpec) (int, bool, error) {
	if spec == nil {
		dev, err := r.k.Device(conventions.IPIPDevice)
		if err != nil || dev == nil || dev.Kind != "ipip" {
			return 0, false, err
		}
		n, err := r.syncAddr(dev, netip.Addr{})
		return n, false, err
	}
	if err := r.DetectIPIP(ctx); err != nil {
		return 0, false, err
	}
	dev, err := r.k.Device(conventions.IPIPDevice)
	if err != nil {
		return 0, false, err
	}
	if dev == nil {
		return 0, false, fmt.Errorf("%s has disappeared", conventions.IPIPDevice)
	}
	n, err := r.tune(dev, spec.MTU, spec.Addr)
	return n, err == nil, err
}

// tune sets a device's MTU, address and up state where they differ.
func (r *Reconciler) tune(dev *Device, mtu int, a netip.Addr) (int, error) {
	n := 0
	if mtu > 0 && dev.MTU != mtu {
		if err := r.k.SetMTU(dev.Index, mtu); err != nil {
			return n, fmt.Errorf("set %s mtu %d: %w", dev.Name, mtu, err)
		}
		r.log.Debug("tunnel mtu set", "device", dev.Name, "mtu", mtu)
		n++
	}
	m, err := r.syncAddr(dev, a)
	n += m
	if err != nil {
		return n, err
	}
	if !dev.Up {
		if err := r.k.SetUp(dev.Index); err != nil {
			return n, fmt.Errorf("set %s up: %w", dev.Name, err)
		}
		r.log.Debug("tunnel up", "device", dev.Name)
		n++
	}
	return n, nil
}

// syncAddr leaves a/32 as the device's only IPv4 address (none when a is
// invalid).
func (r *Reconciler) syncAddr(dev *Device, a netip.Addr) (int, error) {
	want := netip.Prefix{}
	if a.IsValid() {
		want = netip.PrefixFrom(a, 32)
	}
	n, have := 0, false
	for _, p := range dev.Addrs {
		if p == want {
			have = true
			continue
		}
		if err := r.k.DelAddr(dev.Index, p); err != nil {
			return n, fmt.Errorf("remove address %s from %s: %w", p, dev.Name, err)
		}
		r.log.Debug("tunnel address removed", "device", dev.Name, "addr", p.String())
		n++
	}
	if want.IsValid() && !have {
		if err := r.k.AddAddr(dev.Index, want); err != nil {
			return n, fmt.Errorf("add address %s to %s: %w", want, dev.Name, err)
		}
		r.log.Debug("tunnel address added", "device", dev.Name, "addr", want.String())
		n++
	}
	return n, nil
}
