package cni

import (
	"context"
	"fmt"
	"slices"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/cni/veth"
)

// takeOver probes the attachment's names and deals with interfaces that
// already exist under them, before anything is allocated:
//   - our own veth pair for this container with its endpoint, all in
//     place: a repeated ADD, answered from what exists;
//   - our own pair, but incomplete (an ADD that was killed half-way): torn
//     down, addresses released, so that the ADD starts again from nothing;
//   - a host veth of the same workload identity not paired with this pod
//     (a pod's earlier sandbox): removed, as the name is this workload's;
//   - anything else under either name: an error, and nothing is touched.
func (p *Plugin) takeOver(ctx context.Context, a *attachment, store *storeFuture) (*current.Result, error) {
	st, err := p.Net.Probe(a.spec)
	if err != nil {
		return nil, cniError(types.ErrInternal, err)
	}
	switch {
	case st.Paired():
		cl, err := store.wait()
		if err != nil {
			return nil, unreachable(types.ErrTryAgainLater, err)
		}
		wep, err := getEndpoint(ctx, cl, a.w.Namespace, a.w.WEPName(a.node))
		if err != nil {
			return nil, storeError(err)
		}
		if complete(wep, a, st.Container) {
			a.spec.Addrs, a.spec.ContainerMAC = st.Container.Addrs, st.Container.MAC
			verr := p.Net.Verify(a.spec)
			if verr == nil {
				a.log.Info("repeated ADD: the attachment exists already", "addrs", a.spec.Addrs)
				return result(a.spec, types.DNS{}), nil
			}
			a.log.Warn("repeated ADD: the attachment is damaged; recreating it", "problems", verr)
		} else {
			a.log.Warn("repeated ADD: the attachment is incomplete; recreating it")
		}
		if err := p.IPAM.Del(ctx, p.Stdin); err != nil {
			return nil, err
		}
		if _, err := p.Net.RemoveContainer(a.spec.NetNS, a.spec.IfName); err != nil {
			return nil, cniError(types.ErrInternal, err)
		}
	case st.Container != nil:
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("interface name %s is already taken in the container's network namespace %s (a %s interface tortie did not create for this workload)", a.spec.IfName, a.spec.NetNS, st.Container.Kind), "")
	case st.Host != nil && st.Host.Kind != "veth":
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("host interface name %s is already taken by a %s interface tortie did not create", a.spec.HostIfName, st.Host.Kind), "")
	case st.Host != nil:
		a.log.Warn("removing a stale host veth of the same workload (an earlier sandbox)")
		if err := p.Net.RemoveHost(a.spec.HostIfName); err != nil {
			return nil, cniError(types.ErrInternal, err)
		}
	}
	return nil, nil
}

// complete reports whether the stored endpoint describes the existing pod
// interface of this very container.
func complete(wep *v3.WorkloadEndpoint, a *attachment, c *veth.Link) bool {
	if wep == nil || wep.Spec.ContainerID != a.w.ContainerID || wep.Spec.InterfaceName != a.spec.HostIfName ||
		wep.Spec.MAC != c.MAC.String() || len(c.Addrs) == 0 || len(wep.Spec.IPNetworks) != len(c.Addrs) {
		return false
	}
	for _, a := range c.Addrs {
		if !slices.Contains(wep.Spec.IPNetworks, a.String()) {
			return false
		}
	}
	return true
}
