package autodetect

import (
	"context"
	"fmt"
	"net/netip"
)

// canReach implements can-reach=: the source address the kernel would use
// towards target, with the prefix length of the interface holding it.
func (d Detector) canReach(ctx context.Context, target string, f Family, res *Result) error {
	res.Rule = fmt.Sprintf("ask the kernel which source address it would use to reach %s (no packet is sent), then take the prefix length from the interface that holds that address", target)
	dst, err := d.resolveTarget(ctx, target, f, res)
	if err != nil {
		return err
	}
	if d.Host == nil {
		return fmt.Errorf("autodetect: Detector.Host is nil")
	}
	rt, err := d.Host.RouteTo(dst)
	if err != nil {
		return fmt.Errorf("%w: route to %s: %w", ErrNoAddress, dst, err)
	}
	if !f.Holds(rt.Source) {
		return fmt.Errorf("%w: the kernel has no %v source address for %s", ErrNoAddress, f, dst)
	}
	via := "directly connected"
	if rt.Gateway.IsValid() {
		via = "via " + rt.Gateway.String()
	}
	res.step("", netip.Prefix{}, Info, "the kernel routes %s out of %s (%s) with source %s", dst, rt.Interface, via, rt.Source)
	ifs, err := d.interfaces()
	if err != nil {
		return err
	}
	ifc, held, ok := findLocal(ifs, rt.Source, f, res)
	if !ok {
		return fmt.Errorf("%w: source address %s, which the kernel picked for %s, is on no local interface", ErrNoAddress, rt.Source, dst)
	}
	res.Address, res.Interface = held, ifc
	res.Summary = fmt.Sprintf("the kernel would send to %s from %s, which %s holds as %s", dst, rt.Source, ifc, held)
	return nil
}

// resolveTarget turns the can-reach target into an address of family f.
func (d Detector) resolveTarget(ctx context.Context, target string, f Family, res *Result) (netip.Addr, error) {
	if a, err := netip.ParseAddr(target); err == nil {
		if !f.Holds(a) {
			return netip.Addr{}, fmt.Errorf("can-reach target %s is not an %v address", target, f)
		}
		return a.Unmap(), nil
	}
	if d.Host == nil {
		return netip.Addr{}, fmt.Errorf("autodetect: Detector.Host is nil")
	}
	addrs, err := d.Host.LookupHost(ctx, target, f)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: resolve can-reach target %q: %w", ErrNoAddress, target, err)
	}
	for _, a := range addrs {
		if f.Holds(a) {
			of := ""
			if len(addrs) > 1 {
				of = fmt.Sprintf(" (the first of %d addresses)", len(addrs))
			}
			res.step("", netip.Prefix{}, Info, "%s resolves to %s%s", target, a.Unmap(), of)
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: can-reach target %q has no %v address", ErrNoAddress, target, f)
}

// kubernetesInternalIP implements kubernetes-internal-ip: the node's first
// InternalIP of family f, with the prefix length of its local interface.
func (d Detector) kubernetesInternalIP(f Family, res *Result) error {
	res.Rule = fmt.Sprintf("take the first %v InternalIP of the Kubernetes Node and the prefix length of the local interface that holds it", f)
	if len(d.KubernetesInternalIPs) == 0 {
		return fmt.Errorf("kubernetes-internal-ip needs the Kubernetes Node's InternalIP addresses, and tortie-node reads no Kubernetes API; use cidr=, interface= or can-reach= instead")
	}
	var ip netip.Addr
	for _, a := range d.KubernetesInternalIPs {
		if f.Holds(a) {
			ip = a.Unmap()
			break
		}
	}
	if !ip.IsValid() {
		return fmt.Errorf("%w: the Kubernetes Node has no %v InternalIP", ErrNoAddress, f)
	}
	res.step("", netip.Prefix{}, Info, "the Kubernetes Node's first %v InternalIP is %s", f, ip)
	ifs, err := d.interfaces()
	if err != nil {
		return err
	}
	ifc, held, ok := findLocal(ifs, ip, f, res)
	if !ok {
		return fmt.Errorf("%w: InternalIP %s is on no local interface", ErrNoAddress, ip)
	}
	res.Address, res.Interface = held, ifc
	res.Summary = fmt.Sprintf("%s is the Node's InternalIP and %s holds it as %s", ip, ifc, held)
	return nil
}

// findLocal finds the interface holding exactly addr (every interface, in
// reverse kernel order, no name filter) and returns it with the address's
// prefix length there, recording one step per interface looked at.
func findLocal(ifs []Interface, addr netip.Addr, f Family, res *Result) (string, netip.Prefix, bool) {
	addr = addr.Unmap()
	found := ""
	var held netip.Prefix
	for _, ifc := range reversed(ifs) {
		if found != "" {
			res.step(ifc.Name, netip.Prefix{}, NotReached, "%s already holds %s", found, addr)
			continue
		}
		for _, a := range ofFamily(ifc.Addrs, f) {
			if a.Addr() == addr {
				found, held = ifc.Name, a
				break
			}
		}
		if found == "" {
			res.step(ifc.Name, netip.Prefix{}, Rejected, "does not hold %s", addr)
			continue
		}
		res.step(ifc.Name, netip.Prefix{}, Passed, "holds %s", addr)
		res.step(ifc.Name, held, Chosen, "the prefix length /%d comes from this interface", held.Bits())
	}
	return found, held, found != ""
}
