package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/tortienet/tortie/internal/nlsafe"
)

// Check verifies the attachment against the result of its ADD
// (prevResult): the interfaces, addresses, routes, neighbour entries and
// sysctls on both sides, the WorkloadEndpoint, and (delegated) the IPAM
// allocation. Calico's CHECK did nothing.
func (p *Plugin) Check(ctx context.Context, args *skel.CmdArgs) error {
	a, err := p.newAttachment(args, true)
	if err != nil {
		return err
	}
	prev, err := p.prevResult()
	if err != nil {
		return cniError(types.ErrInvalidNetworkConfig, err)
	}
	for _, ifc := range prev.Interfaces {
		if ifc.Sandbox != "" && ifc.Name == args.IfName {
			if a.spec.ContainerMAC, err = net.ParseMAC(ifc.Mac); err != nil {
				return cniError(types.ErrInvalidNetworkConfig, fmt.Errorf("prevResult: interface %s MAC %q: %w", ifc.Name, ifc.Mac, err))
			}
		}
	}
	for _, ip := range prev.IPs {
		if pfx, ok := nlsafe.Prefix(&ip.Address, false); ok {
			a.spec.Addrs = append(a.spec.Addrs, netip.PrefixFrom(pfx.Addr(), pfx.Addr().BitLen()))
		}
	}
	if len(a.spec.Addrs) == 0 {
		return cniError(types.ErrInvalidNetworkConfig, errors.New("prevResult has no addresses to check"))
	}

	store := p.connect(ctx, nil)
	defer store.close()
	var errs []error
	if err := p.Net.Verify(a.spec); err != nil {
		errs = append(errs, err)
	}
	if err := p.IPAM.Check(ctx, p.Stdin); err != nil {
		errs = append(errs, err)
	}
	cl, err := store.wait()
	if err != nil {
		return unreachable(types.ErrTryAgainLater, err)
	}
	wep, err := getEndpoint(ctx, cl, a.w.Namespace, a.w.WEPName(a.node))
	switch {
	case err != nil:
		errs = append(errs, err)
	case wep == nil:
		errs = append(errs, fmt.Errorf("WorkloadEndpoint %s/%s does not exist", a.w.Namespace, a.w.WEPName(a.node)))
	default:
		errs = append(errs, checkEndpoint(wep.Spec.ContainerID, wep.Spec.InterfaceName, wep.Spec.IPNetworks, a))
	}
	if err := errors.Join(errs...); err != nil {
		return cniError(types.ErrInternal, fmt.Errorf("check %s: %w", a.spec.HostIfName, err))
	}
	return nil
}

func checkEndpoint(containerID, hostIf string, nets []string, a *attachment) error {
	var errs []error
	if containerID != a.w.ContainerID {
		errs = append(errs, fmt.Errorf("WorkloadEndpoint belongs to container %s", containerID))
	}
	if hostIf != a.spec.HostIfName {
		errs = append(errs, fmt.Errorf("WorkloadEndpoint names interface %s", hostIf))
	}
	for _, addr := range a.spec.Addrs {
		if !slices.Contains(nets, addr.String()) {
			errs = append(errs, fmt.Errorf("WorkloadEndpoint lacks %s (has %v)", addr, nets))
		}
	}
	return errors.Join(errs...)
}

// prevResult parses the configuration's prevResult into the current
// version.
func (p *Plugin) prevResult() (*current.Result, error) {
	conf := p.Conf.PluginConf
	if conf.RawPrevResult == nil {
		return nil, errors.New("CHECK needs a prevResult (the result of ADD)")
	}
	if err := version.ParsePrevResult(&conf); err != nil {
		return nil, fmt.Errorf("parse prevResult: %w", err)
	}
	return current.NewResultFromResult(conf.PrevResult)
}
