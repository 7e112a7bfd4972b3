package autodetect

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Config is calico-node's view of one address family: the IP / IP6 and
// IP_AUTODETECTION_METHOD / IP6_AUTODETECTION_METHOD variables and the
// address the Node resource already holds.
type Config struct {
	Family Family
	// IP is the IP (or IP6) variable: "", "autodetect", "none", an address
	// (10.0.2.5) or an address with prefix length (10.0.2.5/24).
	IP string
	// Method is IP_AUTODETECTION_METHOD (or IP6_...); "" is first-found.
	Method string
	// Current is the Node's existing spec.bgp.ipv4Address (or
	// ipv6Address); zero if it has none.
	Current netip.Prefix
}

// ConfigFromEnv reads the variables of family f through getenv.
func ConfigFromEnv(getenv func(string) string, f Family, current netip.Prefix) Config {
	return Config{Family: f, IP: getenv(IPVar(f)), Method: getenv(MethodVar(f)), Current: current}
}

// IPVar names the address variable of family f: IP or IP6.
func IPVar(f Family) string {
	if f == IPv6 {
		return "IP6"
	}
	return "IP"
}

// MethodVar names the method variable of family f: IP_AUTODETECTION_METHOD
// or IP6_AUTODETECTION_METHOD.
func MethodVar(f Family) string { return IPVar(f) + "_AUTODETECTION_METHOD" }

// Resolve decides the Node's address of one family the way calico-node's
// startup does:
//
//   - IP=none: no address is set; an existing one is kept (Origin Kept).
//   - IP=autodetect, or IP empty for IPv4 while the Node has no address:
//     the method runs. If it finds nothing (ErrNoAddress) and the Node has
//     an address, that address is kept; otherwise it is an error.
//   - IP empty otherwise (IPv6 is autodetected only with IP6=autodetect):
//     the existing address is kept, or there is none.
//   - An explicit address: it must be of family f; without a prefix length
//     it takes the one of the local interface that holds it (a /32 or
//     /128 if none does, with a warning, as Calico does).
//
// Errors name the variable and its value. It only reads the host.
func (d Detector) Resolve(ctx context.Context, cfg Config) (Result, error) {
	f := cfg.Family
	if err := f.valid(); err != nil {
		return Result{Family: f}, err
	}
	switch {
	case cfg.IP == "none":
		return d.keep(cfg, fmt.Sprintf("%s=none", IPVar(f))), nil
	case cfg.IP == "autodetect" || (cfg.IP == "" && f == IPv4 && !cfg.Current.IsValid()):
		return d.autodetect(ctx, cfg)
	case cfg.IP == "":
		why := fmt.Sprintf("%s is empty and the Node already has an address", IPVar(f))
		if f == IPv6 {
			why = "IP6 is empty (IPv6 is autodetected only with IP6=autodetect)"
		}
		return d.keep(cfg, why), nil
	}
	return d.explicit(cfg)
}

// keep returns the Node's current address unchanged, or no address.
func (d Detector) keep(cfg Config, why string) Result {
	res := Result{Family: cfg.Family, Origin: NoAddress, Summary: why + ": no " + cfg.Family.String() + " address"}
	if cfg.Current.IsValid() {
		res.Origin, res.Address = Kept, cfg.Current
		res.Summary = fmt.Sprintf("%s: the Node's existing address %s is kept", why, cfg.Current)
	}
	d.logger().Info("node address", "family", cfg.Family.String(), "origin", res.Origin, "address", res.Address, "reason", res.Summary)
	return res
}

func (d Detector) autodetect(ctx context.Context, cfg Config) (Result, error) {
	m, err := ParseMethod(cfg.Method)
	if err != nil {
		return Result{Family: cfg.Family, Origin: NoAddress}, fmt.Errorf("%s: %w", MethodVar(cfg.Family), err)
	}
	res, err := d.Detect(ctx, m, cfg.Family)
	if err == nil {
		return res, nil
	}
	if errors.Is(err, ErrNoAddress) && cfg.Current.IsValid() {
		res.Origin, res.Address = Kept, cfg.Current
		res.Summary = fmt.Sprintf("%v; the Node's existing address %s is kept", err, cfg.Current)
		d.logger().Warn("autodetection found nothing; keeping the existing address",
			"family", cfg.Family.String(), "address", cfg.Current, "error", err)
		return res, nil
	}
	return res, fmt.Errorf("%s: %w", MethodVar(cfg.Family), err)
}

// explicit validates an address given in IP / IP6 and completes its prefix
// length from the local interface that holds it.
func (d Detector) explicit(cfg Config) (Result, error) {
	f, name := cfg.Family, IPVar(cfg.Family)
	res := Result{Family: f, Origin: Explicit}
	given, hasLen, err := parseIPValue(cfg.IP)
	if err != nil {
		return res, fmt.Errorf("%s=%q: want autodetect, none, an address or an address/prefix-length", name, cfg.IP)
	}
	if !f.Holds(given.Addr()) {
		return res, fmt.Errorf("%s=%q: not an %v address", name, cfg.IP, f)
	}
	res.Rule = fmt.Sprintf("use the address given in %s; take the prefix length from the local interface that holds it when %s gives none", name, name)
	ifs, err := d.interfaces()
	if err != nil {
		return res, fmt.Errorf("%s=%q: %w", name, cfg.IP, err)
	}
	ifc, held, found := findLocal(ifs, given.Addr(), f, &res)
	res.Address, res.Interface = given, ifc
	switch {
	case found && !hasLen:
		res.Address = held
		res.Summary = fmt.Sprintf("%s=%s is on %s, which gives it prefix length /%d", name, cfg.IP, ifc, held.Bits())
	case found:
		res.Summary = fmt.Sprintf("%s=%s is used as given; it is on %s (as %s there)", name, cfg.IP, ifc, held)
	default:
		res.Summary = fmt.Sprintf("%s=%s is used as %s, but no local interface holds it", name, cfg.IP, given)
		d.logger().Warn("the configured address is not on any local interface", "variable", name, "value", cfg.IP)
	}
	d.logger().Info("node address", "family", f.String(), "origin", res.Origin, "address", res.Address,
		"interface", res.Interface, "reason", res.Summary)
	return res, nil
}

// parseIPValue parses "10.0.2.5" (as a host prefix) or "10.0.2.5/24"
// (kept unmasked), reporting whether a prefix length was given.
func parseIPValue(v string) (netip.Prefix, bool, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, true, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()), true, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, false, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, false, fmt.Errorf("zoned address")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), false, nil
}
