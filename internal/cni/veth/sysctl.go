package veth

import (
	"errors"
	"io/fs"
	"strings"
)

type sysctl struct{ name, value string }

// hostSysctls are the settings of reference §6.1 for the host side of a
// workload with the spec's address families. rp_filter is left as the
// interface inherited it (conf/default), which is what Calico sets it to;
// the global ip_forward is not the plugin's to touch: per-interface
// forwarding on the cali side is enough to route the pod's packets.
func hostSysctls(s *Spec) []sysctl {
	base := hostBaseSysctls(s.HostIfName)
	if !s.HasV4() {
		base = base[len(base)-1:] // accept_ra only
	}
	if s.HasV6() {
		base = append(base, hostV6Sysctls(s.HostIfName)...)
	}
	return base
}

// hostBaseSysctls are set when the pair is created, before the families
// are known: the IPv4 ones (harmless for an IPv6-only pod) and accept_ra,
// which must be last.
func hostBaseSysctls(ifName string) []sysctl {
	ifc := "net/ipv4/conf/" + ifName + "/"
	return []sysctl{
		{ifc + "route_localnet", "1"},
		{"net/ipv4/neigh/" + ifName + "/proxy_delay", "0"},
		{ifc + "proxy_arp", "1"},
		{ifc + "forwarding", "1"},
		{"net/ipv6/conf/" + ifName + "/accept_ra", "0"},
	}
}

// hostV6Sysctls are the host side's settings for a pod with IPv6.
func hostV6Sysctls(ifName string) []sysctl {
	ifc6 := "net/ipv6/conf/" + ifName + "/"
	return []sysctl{
		{ifc6 + "disable_ipv6", "0"},
		{ifc6 + "accept_dad", "0"},
		{ifc6 + "proxy_ndp", "1"},
		{ifc6 + "forwarding", "1"},
	}
}

// containerSysctls are the settings inside the pod: forwarding only when
// the configuration allows it, IPv6 enabled (without DAD, the address is
// known to be unique) when the pod has an IPv6 address.
func containerSysctls(s *Spec) []sysctl {
	fwd := "0"
	if s.AllowIPForwarding {
		fwd = "1"
	}
	var out []sysctl
	if s.HasV4() {
		out = append(out, sysctl{"net/ipv4/ip_forward", fwd})
	}
	if s.HasV6() {
		out = append(out,
			sysctl{"net/ipv6/conf/all/disable_ipv6", "0"},
			sysctl{"net/ipv6/conf/" + s.IfName + "/disable_ipv6", "0"},
			sysctl{"net/ipv6/conf/" + s.IfName + "/accept_dad", "0"},
			sysctl{"net/ipv6/conf/all/forwarding", fwd},
		)
	}
	return out
}

// apply writes the settings in order. A missing IPv6 tree (a kernel booted
// with ipv6.disable=1) is not an error for a workload without IPv6.
func apply(ss []sysctl, v6 bool) error {
	for _, s := range ss {
		err := writeSysctl(s.name, s.value)
		if err != nil && !v6 && errors.Is(err, fs.ErrNotExist) && strings.HasPrefix(s.name, "net/ipv6/") {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// check reads the settings back and reports the first that differs.
func check(ss []sysctl, v6 bool) error {
	for _, s := range ss {
		got, err := readSysctl(s.name)
		if err != nil && !v6 && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if got != s.value {
			return &mismatch{what: "sysctl " + s.name, want: s.value, got: got}
		}
	}
	return nil
}
