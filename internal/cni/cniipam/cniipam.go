// Package cniipam is the core of tortie-ipam, the CNI IPAM plugin:
// calico-ipam's configuration and behaviour on tortie's IPAM, as
// functions of the request and an *ipam.IPAM. Two front ends use it: the
// tortie-ipam binary (internal/cni/ipamplugin, CNI skel commands, its own
// datastore connection) and the tortie plugin itself, which runs it in
// process when its conflist names tortie-ipam (internal/cni), sharing the
// plugin's connection and saving a second process. Both give the same
// results and the same errors.
//
// The handle of a container's addresses is "<network name>.<container
// ID>", as Calico's. Every error returned is a *types.Error whose message
// starts "tortie-ipam: " where calico-ipam's would name itself.
package cniipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// Name is the plugin's type in a conflist's ipam section.
const Name = "tortie-ipam"

// Conf is the "ipam" section calico-ipam reads.
type Conf struct {
	Type       string   `json:"type"`
	AssignIPv4 *string  `json:"assign_ipv4"`
	AssignIPv6 *string  `json:"assign_ipv6"`
	IPv4Pools  []string `json:"ipv4_pools"`
	IPv6Pools  []string `json:"ipv6_pools"`
}

// ParseConf reads the "ipam" section of a network configuration and checks
// the fields calico-ipam checks.
func ParseConf(stdin []byte) (Conf, error) {
	var raw struct {
		IPAM Conf `json:"ipam"`
	}
	if err := json.Unmarshal(stdin, &raw); err != nil {
		return Conf{}, types.NewError(types.ErrDecodingFailure, "parse ipam section: "+err.Error(), "")
	}
	for _, f := range []struct {
		field string
		v     *string
	}{{"ipam.assign_ipv4", raw.IPAM.AssignIPv4}, {"ipam.assign_ipv6", raw.IPAM.AssignIPv6}} {
		if f.v != nil && *f.v != "true" && *f.v != "false" {
			return Conf{}, types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("%s = %q: must be \"true\" or \"false\"", f.field, *f.v), "")
		}
	}
	return raw.IPAM, nil
}

// Request is one container's allocation: what the runtime passes in the
// configuration and the environment, and the node it runs on.
type Request struct {
	Network     string // the network's name
	ContainerID string
	Args        string // CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME)
	Node        string
	Conf        Conf
}

// Handle is the handle of the container's addresses.
func (r Request) Handle() string { return Handle(r.Network, r.ContainerID) }

// Handle is the handle of a container's addresses on a network.
func Handle(network, containerID string) string { return network + "." + containerID }

// families is how many IPv4 and IPv6 addresses the request asks for.
func (r Request) families() (num4, num6 int) {
	num4 = 1
	if v := r.Conf.AssignIPv4; v != nil && *v == "false" {
		num4 = 0
	}
	if v := r.Conf.AssignIPv6; v != nil && *v == "true" {
		num6 = 1
	}
	return num4, num6
}

// k8sArgs reads K8S_POD_NAMESPACE and K8S_POD_NAME from CNI_ARGS.
func k8sArgs(args string) (ns, pod string) {
	for _, kv := range strings.Split(args, ";") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "K8S_POD_NAMESPACE":
			ns = v
		case "K8S_POD_NAME":
			pod = v
		}
	}
	return ns, pod
}

// Add allocates the container's addresses, or returns those its handle
// already holds (a repeated ADD). The result is in the current CNI version.
// The reads the allocation makes one after another are started at once
// (readAhead): one round trip of latency instead of four.
func Add(ctx context.Context, c *client.Client, r Request) (*current.Result, error) {
	num4, num6 := r.families()
	var fams []string
	if num4 > 0 {
		fams = append(fams, "ipv4")
	}
	if num6 > 0 {
		fams = append(fams, "ipv6")
	}
	return AddWith(ctx, ipam.New(client.New(newReadAhead(ctx, c.Store(), r.Node, fams))), r)
}

// AddWith is Add on a given allocator: the node agent's long-lived,
// cached one, which serves the plugin's allocations without their reads.
func AddWith(ctx context.Context, m *ipam.IPAM, r Request) (*current.Result, error) {
	handle := r.Handle()
	num4, num6 := r.families()
	if num4+num6 == 0 {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "ipam: assign_ipv4 and assign_ipv6 are both false: nothing to assign", "")
	}
	attrs := map[string]string{ipam.AttrNode: r.Node}
	ns, pod := k8sArgs(r.Args)
	if ns != "" {
		attrs[ipam.AttrNamespace] = ns
	}
	if pod != "" {
		attrs[ipam.AttrPod] = pod
	}
	args := ipam.AutoAssignArgs{
		Num4: num4, Num6: num6, HandleID: handle, Attrs: attrs, Hostname: r.Node,
		IPv4Pools: r.Conf.IPv4Pools, IPv6Pools: r.Conf.IPv6Pools,
		// A container's first ADD is by far the common case: its handle
		// is new, and not reading it first saves a round trip. A
		// repeated ADD finds it and answers with what it holds.
		NewHandle: true,
	}
	v4, v6, err := m.AutoAssign(ctx, args)
	if errors.Is(err, ipam.ErrHandleInUse) {
		have, herr := m.IPsByHandle(ctx, handle)
		if herr == nil && len(have) > 0 {
			return resultOf(have), nil
		}
		// A handle whose addresses are gone: top it up.
		args.NewHandle = false
		v4, v6, err = m.AutoAssign(ctx, args)
	}
	if err != nil {
		return nil, types.NewError(codeOf(err), fmt.Sprintf("tortie-ipam: %v", err), "")
	}
	var got []netip.Addr
	for _, p := range append(v4, v6...) {
		got = append(got, p.Addr())
	}
	return resultOf(got), nil
}

// resultOf is the result that gives the container addrs.
func resultOf(addrs []netip.Addr) *current.Result {
	result := &current.Result{CNIVersion: current.ImplementedSpecVersion}
	for _, a := range addrs {
		result.IPs = append(result.IPs, ipConfig(a))
	}
	return result
}

// ipConfig is an address as calico-ipam returns it: /32 or /128.
func ipConfig(a netip.Addr) *current.IPConfig {
	return &current.IPConfig{Address: net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}}
}

// Del releases the container's addresses; releasing nothing is success.
func Del(ctx context.Context, c *client.Client, r Request) error {
	return DelWith(ctx, ipam.New(c), r)
}

// DelWith is Del on a given allocator (see AddWith).
func DelWith(ctx context.Context, m *ipam.IPAM, r Request) error {
	if _, err := m.ReleaseByHandle(ctx, r.Handle()); err != nil {
		return types.NewError(types.ErrTryAgainLater, fmt.Sprintf("tortie-ipam: release: %v", err), "")
	}
	return nil
}

// PrevResult is the configuration's prevResult, nil without one.
func PrevResult(stdin []byte) *current.Result {
	var prev struct {
		PrevResult *current.Result `json:"prevResult"`
	}
	if json.Unmarshal(stdin, &prev) != nil {
		return nil
	}
	return prev.PrevResult
}

// Check verifies that the handle holds addresses and, given the ADD's
// result, that it holds each of its addresses.
func Check(ctx context.Context, c *client.Client, r Request, prev *current.Result) error {
	handle := r.Handle()
	have, err := ipam.New(c).IPsByHandle(ctx, handle)
	if err != nil {
		return types.NewError(codeOf(err), fmt.Sprintf("tortie-ipam: no addresses are allocated to %s: %v", handle, err), "")
	}
	if prev == nil {
		return nil
	}
	held := map[netip.Addr]bool{}
	for _, a := range have {
		held[a] = true
	}
	for _, ip := range prev.IPs {
		if a, ok := netip.AddrFromSlice(ip.Address.IP); ok && !held[a.Unmap()] {
			return types.NewError(types.ErrInternal, fmt.Sprintf("tortie-ipam: %s is not allocated to %s", a.Unmap(), handle), "")
		}
	}
	return nil
}

// ValidAttachments reads the runtime's cni.dev/valid-attachments (GC).
func ValidAttachments(stdin []byte) ([]types.GCAttachment, error) {
	var gc struct {
		Valid []types.GCAttachment `json:"cni.dev/valid-attachments"`
	}
	if err := json.Unmarshal(stdin, &gc); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "parse GC attachments: "+err.Error(), "")
	}
	return gc.Valid, nil
}

// GC releases the network's allocations whose container is not among the
// valid attachments.
func GC(ctx context.Context, c *client.Client, network string, valid []types.GCAttachment) error {
	m := ipam.New(c)
	keep := map[string]bool{}
	for _, a := range valid {
		keep[Handle(network, a.ContainerID)] = true
	}
	handles, err := m.Handles(ctx, network+".")
	if err != nil {
		return types.NewError(types.ErrTryAgainLater, err.Error(), "")
	}
	var errs []error
	for _, h := range handles {
		if keep[h] {
			continue
		}
		if _, err := m.ReleaseByHandle(ctx, h); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return types.NewError(types.ErrInternal, "tortie-ipam: gc: "+err.Error(), "")
	}
	return nil
}

// codeOf is the CNI code of an IPAM failure: "try again later" when the
// datastore failed transiently, else internal.
func codeOf(err error) uint {
	if datastore.Transient(err) {
		return types.ErrTryAgainLater
	}
	return types.ErrInternal
}

// Unreachable is the error for a datastore that cannot be reached.
func Unreachable(code uint, err error) error {
	return types.NewError(code, fmt.Sprintf("datastore unreachable: %v", err), "")
}

// NotAvailable is STATUS's error for a datastore that cannot be reached.
func NotAvailable(err error) error {
	return types.NewError(types.ErrPluginNotAvailable, fmt.Sprintf("tortie-ipam: datastore unreachable: %v", err), "")
}
