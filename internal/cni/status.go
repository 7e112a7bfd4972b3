package cni

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/containernetworking/cni/pkg/types"

	v3 "github.com/tortienet/tortie/api/v3"
)

// Status reports whether the plugin can serve ADD: the node agent has
// started (its nodename file exists) and the datastore answers; then the
// IPAM plugin is asked too. Failures are CNI error 50 (plugin not
// available) with a message that names the file or the endpoints.
func (p *Plugin) Status(ctx context.Context) error {
	if err := p.Conf.requireIPAM(); err != nil {
		return cniError(types.ErrInvalidNetworkConfig, err)
	}
	if _, err := p.Conf.NodeName(); err != nil {
		return notReady(types.ErrPluginNotAvailable, err)
	}
	cl, err := p.OpenStore(ctx)
	if err != nil {
		return unreachable(types.ErrPluginNotAvailable, err)
	}
	cl.Close()
	return p.IPAM.Status(ctx, p.Stdin)
}

// GC removes what belongs to attachments the runtime no longer has
// (cni.dev/valid-attachments; none given means none is valid): IPAM
// allocations (delegated to the IPAM plugin, which owns them), and this
// node's WorkloadEndpoints of this network whose container and interface
// are not in the list, with their host veths.
func (p *Plugin) GC(ctx context.Context) error {
	if err := p.Conf.requireIPAM(); err != nil {
		return cniError(types.ErrInvalidNetworkConfig, err)
	}
	node, err := p.Conf.NodeName()
	if err != nil {
		return notReady(types.ErrTryAgainLater, err)
	}
	cl, err := p.OpenStore(ctx)
	if err != nil {
		return unreachable(types.ErrTryAgainLater, err)
	}
	defer cl.Close()

	valid := make(map[types.GCAttachment]bool, len(p.Conf.ValidAttachments))
	for _, a := range p.Conf.ValidAttachments {
		valid[a] = true
	}
	all, _, err := cl.List(ctx, wepKind, "")
	if err != nil {
		return storeError(err)
	}
	var errs []error
	for _, r := range all {
		wep := r.(*v3.WorkloadEndpoint)
		s := &wep.Spec
		if s.Node != node || !slices.Contains(s.Profiles, p.Conf.Name) ||
			valid[types.GCAttachment{ContainerID: s.ContainerID, IfName: s.Endpoint}] {
			continue
		}
		if s.InterfaceName != "" {
			if err := p.Net.RemoveHost(s.InterfaceName); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if _, err := deleteEndpoint(ctx, cl, wep.Namespace, wep.Name, s.ContainerID); err != nil {
			errs = append(errs, err)
			continue
		}
		p.Log.Info("garbage-collected a stale endpoint", "wep", wep.Namespace+"/"+wep.Name, "container", s.ContainerID)
	}
	if err := p.IPAM.GC(ctx, p.Stdin); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return cniError(types.ErrInternal, fmt.Errorf("gc: %w", err))
	}
	return nil
}
