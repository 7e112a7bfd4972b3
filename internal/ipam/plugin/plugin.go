// Package plugin is tortie-ipam, the CNI IPAM plugin: calico-ipam's
// configuration and behaviour on tortie's IPAM. The handle of a container's
// addresses is "<network name>.<container ID>", as Calico's.
package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/tortienet/tortie/internal/buildinfo"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni"
	"github.com/tortienet/tortie/internal/ipam"
)

// ipamConf is the "ipam" section calico-ipam reads.
type ipamConf struct {
	Type       string   `json:"type"`
	AssignIPv4 *string  `json:"assign_ipv4"`
	AssignIPv6 *string  `json:"assign_ipv6"`
	IPv4Pools  []string `json:"ipv4_pools"`
	IPv6Pools  []string `json:"ipv6_pools"`
}

type netConf struct {
	*cni.NetConf
	ipam ipamConf
}

// Main runs the plugin and returns the exit code.
func Main() int {
	if err := skel.PluginMainFuncsWithError(skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck, GC: cmdGC, Status: cmdStatus},
		version.All, "tortie-ipam "+buildinfo.Version); err != nil {
		err.Print()
		return 1
	}
	return 0
}

func parse(stdin []byte) (*netConf, error) {
	c, err := cni.ParseConf(stdin)
	if err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, err.Error(), "")
	}
	var raw struct {
		IPAM ipamConf `json:"ipam"`
	}
	if err := json.Unmarshal(stdin, &raw); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "parse ipam section: "+err.Error(), "")
	}
	for field, v := range map[string]*string{"ipam.assign_ipv4": raw.IPAM.AssignIPv4, "ipam.assign_ipv6": raw.IPAM.AssignIPv6} {
		if v != nil && *v != "true" && *v != "false" {
			return nil, types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("%s = %q: must be \"true\" or \"false\"", field, *v), "")
		}
	}
	return &netConf{c, raw.IPAM}, nil
}

// session is what every command needs: the configuration, the node and a
// datastore connection.
type session struct {
	conf *netConf
	node string
	c    *client.Client
	ipam *ipam.IPAM
}

func open(ctx context.Context, args *skel.CmdArgs) (*session, error) {
	conf, err := parse(args.StdinData)
	if err != nil {
		return nil, err
	}
	node, err := conf.NodeName()
	if err != nil {
		return nil, types.NewError(types.ErrTryAgainLater, err.Error(), "")
	}
	cfg := conf.ClientConfig()
	c, err := client.Open(ctx, cfg)
	if err != nil {
		return nil, types.NewError(types.ErrTryAgainLater, fmt.Sprintf("datastore unreachable: %v", err), "")
	}
	return &session{conf: conf, node: node, c: c, ipam: ipam.New(c)}, nil
}

func handleID(network, containerID string) string { return network + "." + containerID }

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

func cmdAdd(args *skel.CmdArgs) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := open(ctx, args)
	if err != nil {
		return err
	}
	defer s.c.Close()
	handle := handleID(s.conf.Name, args.ContainerID)
	result := &current.Result{CNIVersion: current.ImplementedSpecVersion}
	// A repeated ADD for the same container returns what it already has.
	have, err := s.ipam.IPsByHandle(ctx, handle)
	if err == nil && len(have) > 0 {
		for _, a := range have {
			result.IPs = append(result.IPs, ipConfig(a))
		}
		return types.PrintResult(result, s.conf.CNIVersion)
	}
	num4, num6 := 1, 0
	if v := s.conf.ipam.AssignIPv4; v != nil && *v == "false" {
		num4 = 0
	}
	if v := s.conf.ipam.AssignIPv6; v != nil && *v == "true" {
		num6 = 1
	}
	if num4+num6 == 0 {
		return types.NewError(types.ErrInvalidNetworkConfig, "ipam: assign_ipv4 and assign_ipv6 are both false: nothing to assign", "")
	}
	attrs := map[string]string{ipam.AttrNode: s.node}
	ns, pod := k8sArgs(args.Args)
	if ns != "" {
		attrs[ipam.AttrNamespace] = ns
	}
	if pod != "" {
		attrs[ipam.AttrPod] = pod
	}
	v4, v6, err := s.ipam.AutoAssign(ctx, ipam.AutoAssignArgs{
		Num4: num4, Num6: num6, HandleID: handle, Attrs: attrs, Hostname: s.node,
		IPv4Pools: s.conf.ipam.IPv4Pools, IPv6Pools: s.conf.ipam.IPv6Pools,
	})
	if err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("tortie-ipam: %v", err), "")
	}
	for _, p := range append(v4, v6...) {
		result.IPs = append(result.IPs, ipConfig(p.Addr()))
	}
	return types.PrintResult(result, s.conf.CNIVersion)
}

// ipConfig is an address as calico-ipam returns it: /32 or /128.
func ipConfig(a netip.Addr) *current.IPConfig {
	return &current.IPConfig{Address: net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}}
}

func cmdDel(args *skel.CmdArgs) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := open(ctx, args)
	if err != nil {
		return err
	}
	defer s.c.Close()
	if _, err := s.ipam.ReleaseByHandle(ctx, handleID(s.conf.Name, args.ContainerID)); err != nil {
		return types.NewError(types.ErrTryAgainLater, fmt.Sprintf("tortie-ipam: release: %v", err), "")
	}
	return nil
}

func cmdCheck(args *skel.CmdArgs) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := open(ctx, args)
	if err != nil {
		return err
	}
	defer s.c.Close()
	handle := handleID(s.conf.Name, args.ContainerID)
	have, err := s.ipam.IPsByHandle(ctx, handle)
	if err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("tortie-ipam: no addresses are allocated to %s: %v", handle, err), "")
	}
	var prev struct {
		PrevResult *current.Result `json:"prevResult"`
	}
	if json.Unmarshal(args.StdinData, &prev) == nil && prev.PrevResult != nil {
		held := map[string]bool{}
		for _, a := range have {
			held[a.String()] = true
		}
		for _, ip := range prev.PrevResult.IPs {
			if a, ok := netip.AddrFromSlice(ip.Address.IP); ok && !held[a.Unmap().String()] {
				return types.NewError(types.ErrInternal, fmt.Sprintf("tortie-ipam: %s is not allocated to %s", a.Unmap(), handle), "")
			}
		}
	}
	return nil
}

// cmdGC releases the allocations of this network whose container is not
// among the runtime's valid attachments.
func cmdGC(args *skel.CmdArgs) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := open(ctx, args)
	if err != nil {
		return err
	}
	defer s.c.Close()
	var gc struct {
		Valid []types.GCAttachment `json:"cni.dev/valid-attachments"`
	}
	if err := json.Unmarshal(args.StdinData, &gc); err != nil {
		return types.NewError(types.ErrDecodingFailure, "parse GC attachments: "+err.Error(), "")
	}
	valid := map[string]bool{}
	for _, a := range gc.Valid {
		valid[handleID(s.conf.Name, a.ContainerID)] = true
	}
	handles, err := s.ipam.Handles(ctx, s.conf.Name+".")
	if err != nil {
		return types.NewError(types.ErrTryAgainLater, err.Error(), "")
	}
	var errs []error
	for _, h := range handles {
		if valid[h] {
			continue
		}
		if _, err := s.ipam.ReleaseByHandle(ctx, h); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return types.NewError(types.ErrInternal, "tortie-ipam: gc: "+err.Error(), "")
	}
	return nil
}

// cmdStatus reports whether the plugin can allocate: the datastore answers.
func cmdStatus(args *skel.CmdArgs) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conf, err := parse(args.StdinData)
	if err != nil {
		return err
	}
	c, err := client.Open(ctx, conf.ClientConfig())
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, fmt.Sprintf("tortie-ipam: datastore unreachable: %v", err), "")
	}
	c.Close()
	return nil
}
