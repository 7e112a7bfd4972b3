package autodetect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
)

// ErrNoAddress is wrapped by every error that means "the method found no
// address" (as opposed to a configuration mistake or a failure to read the
// host). calico-node keeps a Node's existing address in that case.
var ErrNoAddress = errors.New("no address found")

// Detector runs autodetection against a Host. The zero value is not
// usable: Host is required.
type Detector struct {
	Host Host
	// Log receives the decision (Info), each step (Debug) and failures
	// (Warn). Nil discards.
	Log *slog.Logger
	// KubernetesInternalIPs are this node's Kubernetes InternalIP
	// addresses, used only by kubernetes-internal-ip. tortie-node reads no
	// Kubernetes API, so it leaves this empty and the method fails clearly.
	KubernetesInternalIPs []netip.Addr
}

// Detect runs method m for family f and returns the chosen address and
// the reasoning. It only reads the host. On failure the Result still
// carries the steps taken; errors name the method, and those meaning that
// nothing matched wrap ErrNoAddress.
func (d Detector) Detect(ctx context.Context, m Method, f Family) (Result, error) {
	if m.Kind == "" {
		m.Kind = FirstFound
	}
	res := Result{Family: f, Method: m.String(), Origin: Autodetected}
	if err := f.valid(); err != nil {
		return res, err
	}
	var err error
	switch m.Kind {
	case FirstFound, SkipInterface, ByInterface, ByCIDR:
		err = d.enumerate(m, f, &res)
	case CanReach:
		err = d.canReach(ctx, m.Target, f, &res)
	case KubernetesInternalIP:
		err = d.kubernetesInternalIP(f, &res)
	default:
		err = fmt.Errorf("unknown method; %s", methodHelp)
	}
	if err != nil {
		res.Origin, res.Address, res.Interface = NoAddress, netip.Prefix{}, ""
		err = fmt.Errorf("autodetection method %q (%v): %w", res.Method, f, err)
		res.Summary = err.Error()
	}
	d.logResult(res, err)
	return res, err
}

func (d Detector) logger() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

func (d Detector) logResult(res Result, err error) {
	log := d.logger().With("family", res.Family.String(), "method", res.Method)
	for _, s := range res.Steps {
		log.Debug("autodetection step", "interface", s.Interface, "address", s.Address,
			"verdict", s.Verdict, "reason", s.Reason)
	}
	if err != nil {
		log.Warn("address autodetection found nothing", "error", err)
		return
	}
	log.Info("autodetected address", "address", res.Address, "interface", res.Interface, "reason", res.Summary)
}

// interfaces reads the host's interfaces.
func (d Detector) interfaces() ([]Interface, error) {
	if d.Host == nil {
		return nil, errors.New("autodetect: Detector.Host is nil")
	}
	ifs, err := d.Host.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	return ifs, nil
}

// reversed returns ifs highest index first: the order Calico walks them.
func reversed(ifs []Interface) []Interface {
	out := make([]Interface, len(ifs))
	for i, ifc := range ifs {
		out[len(ifs)-1-i] = ifc
	}
	return out
}

// ofFamily returns the addresses of family f, in order.
func ofFamily(addrs []netip.Prefix, f Family) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		if f.Holds(a.Addr()) {
			out = append(out, netip.PrefixFrom(a.Addr().Unmap(), a.Bits()))
		}
	}
	return out
}

// unusable says why a is not a global unicast address, or "" if it is.
func unusable(a netip.Addr) string {
	switch {
	case a.IsGlobalUnicast():
		return ""
	case a.IsLoopback():
		return "loopback address"
	case a.IsLinkLocalUnicast():
		return "link-local address"
	case a.IsMulticast():
		return "multicast address"
	case a.IsUnspecified():
		return "unspecified address"
	}
	return "not a global unicast address"
}
