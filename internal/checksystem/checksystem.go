// Package checksystem reports whether this machine's kernel has what
// tortie uses (tortiectl node checksystem, calicoctl's counterpart): each
// feature with where it was found and, when it is missing, what will not
// work without it. The decision is a pure function of the host's facts
// (Host), so that it is table-tested; LinuxHost reads the real ones.
package checksystem

import (
	"fmt"
	"strings"
)

// Feature is one kernel feature tortie uses.
type Feature struct {
	Name     string // what a person calls it
	Module   string // the kernel module, "" when it is not one
	Config   string // the kernel config option
	LinkKind string // a netlink link kind that proves it, "" for none
	// Required: tortie cannot work without it; otherwise only what
	// Without says does not work.
	Required bool
	Without  string
}

// Features are the kernel features tortie uses, in the order reported.
var Features = []Feature{
	{Name: "veth", Module: "veth", Config: "CONFIG_VETH", LinkKind: "veth", Required: true,
		Without: "no pod can be connected (every pod gets a veth pair)"},
	{Name: "nftables", Module: "nf_tables", Config: "CONFIG_NF_TABLES", Required: true,
		Without: "no network policy and no natOutgoing (tortie's table ip tortie)"},
	{Name: "nftables NAT", Module: "nft_nat", Config: "CONFIG_NFT_NAT",
		Without: "no natOutgoing: pods cannot reach addresses outside the pools"},
	{Name: "conntrack", Module: "nf_conntrack", Config: "CONFIG_NF_CONNTRACK", Required: true,
		Without: "no stateful policy and no NAT"},
	{Name: "vxlan", Module: "vxlan", Config: "CONFIG_VXLAN", LinkKind: "vxlan",
		Without: "no VXLAN pools (vxlanMode Always or CrossSubnet): vxlan.calico cannot be created"},
	{Name: "ipip", Module: "ipip", Config: "CONFIG_NET_IPIP", LinkKind: "ipip",
		Without: "no IP-in-IP pools (ipipMode Always or CrossSubnet): tunl0 needs the ipip module"},
	{Name: "wireguard", Module: "wireguard", Config: "CONFIG_WIREGUARD", LinkKind: "wireguard",
		Without: "no WireGuard encryption between nodes"},
	{Name: "TCP MD5 (BGP passwords)", Config: "CONFIG_TCP_MD5SIG",
		Without: "no BGP peer with a password (spec.password of a BGPPeer)"},
}

// Sysctl is a setting tortie needs, with the value it wants.
type Sysctl struct {
	Path    string // under /proc/sys
	Want    string
	Without string
}

// Sysctls are the settings checked. tortie-node sets ip_forward itself;
// a value that differs is reported, not an error.
var Sysctls = []Sysctl{
	{Path: "net/ipv4/ip_forward", Want: "1", Without: "the node does not route pod traffic (tortie-node sets it to 1 when it starts)"},
	{Path: "net/ipv6/conf/all/forwarding", Want: "1", Without: "the node does not route IPv6 pod traffic (tortie-node sets it when a pool is IPv6)"},
}

// Host is what the checks read about a machine.
type Host struct {
	Release string
	// Config is the kernel's build configuration (CONFIG_X -> y, m), nil
	// when none could be read; ConfigSource says where it came from.
	Config       map[string]string
	ConfigSource string
	Loaded       func(module string) bool // /sys/module/<module> exists
	Installed    func(module string) bool // the module file is installed for Release
	// Probe makes a link of the kind in a throwaway namespace (nil: not
	// possible here, e.g. not root).
	Probe func(kind string) error
	// MD5 tries TCP_MD5SIG on a socket.
	MD5    func() error
	Sysctl func(path string) (string, error)
	// Nft says whether the nft program (knftables runs it) is on PATH.
	Nft func() error
}

// Status is the verdict on one feature.
type Status struct {
	Feature Feature
	OK      bool
	How     string // built in, module loaded, module (loads on use), probed, missing, ...
}

// Report is the result of Check.
type Report struct {
	Release      string
	ConfigSource string
	Features     []Status
	Sysctls      []SysctlStatus
	NftErr       error
}

// SysctlStatus is a setting's current value.
type SysctlStatus struct {
	Sysctl Sysctl
	Value  string
	Err    error
}

// OK is false when a required feature is missing.
func (r *Report) OK() bool {
	for _, s := range r.Features {
		if !s.OK && s.Feature.Required {
			return false
		}
	}
	return r.NftErr == nil
}

// Check decides every feature from the host's facts.
func Check(h Host) *Report {
	r := &Report{Release: h.Release, ConfigSource: h.ConfigSource}
	for _, f := range Features {
		ok, how := decide(h, f)
		r.Features = append(r.Features, Status{Feature: f, OK: ok, How: how})
	}
	for _, s := range Sysctls {
		v, err := h.Sysctl(s.Path)
		r.Sysctls = append(r.Sysctls, SysctlStatus{Sysctl: s, Value: strings.TrimSpace(v), Err: err})
	}
	if h.Nft != nil {
		r.NftErr = h.Nft()
	}
	return r
}

// decide finds a feature: in the kernel config when there is one, else
// as a loaded or installed module, else by making one of its links in a
// throwaway namespace. MD5 is always tried on a socket.
func decide(h Host, f Feature) (bool, string) {
	if f.Module == "" {
		if err := h.MD5(); err != nil {
			return false, fmt.Sprintf("missing (TCP_MD5SIG: %v)", err)
		}
		return true, "works (TCP_MD5SIG accepted)"
	}
	if h.Config != nil {
		switch h.Config[f.Config] {
		case "y":
			return true, "built in (" + f.Config + "=y)"
		case "m":
			switch {
			case h.Loaded(f.Module):
				return true, "module " + f.Module + " loaded"
			case h.Installed(f.Module):
				return true, "module " + f.Module + " (loads on first use)"
			}
			return false, fmt.Sprintf("missing: %s=m but module %s is not installed for %s", f.Config, f.Module, h.Release)
		}
		return false, fmt.Sprintf("missing: %s is not set in the kernel config", f.Config)
	}
	switch {
	case h.Loaded(f.Module):
		return true, "module " + f.Module + " loaded (or built in)"
	case h.Installed(f.Module):
		return true, "module " + f.Module + " (loads on first use)"
	case f.LinkKind != "" && h.Probe != nil:
		if err := h.Probe(f.LinkKind); err != nil {
			return false, fmt.Sprintf("missing: no module %s, and a %s link cannot be made (%v)", f.Module, f.LinkKind, err)
		}
		return true, "built in (a " + f.LinkKind + " link was made in a throwaway namespace)"
	}
	return false, "missing: no module " + f.Module + " (and no kernel config to tell whether it is built in)"
}
