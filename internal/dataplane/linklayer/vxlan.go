package linklayer

import (
	"bytes"
	"fmt"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
)

// applyVXLAN creates, updates, recreates or deletes vxlan.calico.
func (r *Reconciler) applyVXLAN(spec *calc.VXLANDeviceSpec) (int, bool, error) {
	name := conventions.VXLANDevice
	dev, err := r.k.Device(name)
	if err != nil {
		return 0, false, err
	}
	if dev != nil && dev.Kind != "vxlan" {
		return 0, false, fmt.Errorf("%s exists but is a %s interface, not a vxlan device tortie made: left alone", name, dev.Kind)
	}
	n := 0
	if spec == nil {
		if dev == nil {
			return 0, false, nil
		}
		if err := r.k.DeleteDevice(dev.Index); err != nil {
			return 0, false, fmt.Errorf("delete %s: %w", name, err)
		}
		r.log.Info("vxlan device deleted", "device", name)
		return 1, false, nil
	}
	want, err := r.vxlanAttrs(spec)
	if err != nil {
		return 0, false, err
	}
	if dev != nil && (dev.VXLAN == nil || *dev.VXLAN != want) {
		// VNI, port, local address and parent are fixed at creation.
		if err := r.k.DeleteDevice(dev.Index); err != nil {
			return 0, false, fmt.Errorf("delete %s to recreate it: %w", name, err)
		}
		r.log.Info("vxlan device recreated", "device", name, "had", fmt.Sprintf("%+v", *dev.VXLAN), "want", fmt.Sprintf("%+v", want))
		dev = nil
		n++
	}
	if dev == nil {
		if err := r.k.AddVXLAN(name, spec.MAC, spec.MTU, want); err != nil {
			return n, false, fmt.Errorf("create %s: %w", name, err)
		}
		r.log.Info("vxlan device created", "device", name, "vni", want.VNI, "port", want.Port, "local", want.LocalIP.String())
		n++
		if dev, err = r.k.Device(name); err != nil {
			return n, false, err
		}
		if dev == nil {
			return n, false, fmt.Errorf("%s vanished after it was created", name)
		}
	}
	if len(spec.MAC) > 0 && !bytes.Equal(dev.MAC, spec.MAC) {
		if err := r.k.SetMAC(dev.Index, spec.MAC); err != nil {
			return n, false, fmt.Errorf("set %s address %s: %w", name, spec.MAC, err)
		}
		n++
	}
	m, err := r.tune(dev, spec.MTU, spec.Addr)
	return n + m, err == nil, err
}

// vxlanAttrs are the creation attributes a spec asks for.
func (r *Reconciler) vxlanAttrs(spec *calc.VXLANDeviceSpec) (VXLANAttrs, error) {
	a := VXLANAttrs{VNI: spec.VNI, Port: spec.Port, LocalIP: spec.LocalIP}
	if spec.Parent != "" {
		p, err := r.k.Device(spec.Parent)
		if err != nil {
			return a, err
		}
		if p == nil {
			return a, fmt.Errorf("%s: parent interface %s does not exist", conventions.VXLANDevice, spec.Parent)
		}
		a.ParentIndex = p.Index
	}
	return a, nil
}
