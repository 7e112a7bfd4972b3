package cni

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/cni/veth"
)

// attachment is what one ADD works on.
type attachment struct {
	w    Workload
	node string
	spec *veth.Spec
	log  *slog.Logger
}

// newAttachment works out names, node and MTU; it touches nothing.
func (p *Plugin) newAttachment(args *skel.CmdArgs, needMTU bool) (*attachment, error) {
	if err := p.Conf.requireIPAM(); err != nil {
		return nil, cniError(types.ErrInvalidNetworkConfig, err)
	}
	node, err := p.Conf.NodeName()
	if err != nil {
		return nil, notReady(types.ErrTryAgainLater, err)
	}
	mtu := 0
	if needMTU {
		if mtu, err = p.Conf.LinkMTU(); err != nil {
			return nil, cniError(types.ErrInternal, err)
		}
	}
	w := NewWorkload(p.Conf.Name, args.ContainerID, args.IfName, args.Args)
	a := &attachment{w: w, node: node, spec: &veth.Spec{
		NetNS: args.Netns, IfName: args.IfName, HostIfName: w.HostIfName(),
		MTU: mtu, NumQueues: p.Conf.NumQueues,
		AllowIPForwarding: p.Conf.ContainerSettings.AllowIPForwarding,
	}}
	a.log = p.Log.With("container", args.ContainerID, "iface", args.IfName, "host_iface", a.spec.HostIfName)
	if w.Orchestrator == OrchestratorK8s {
		a.log = a.log.With("pod", w.Namespace+"/"+w.Pod)
	}
	return a, nil
}

// Add wires the container into the network and records its endpoint. On
// any failure everything done so far is undone. Repeating an ADD that
// succeeded returns the same result and changes nothing.
func (p *Plugin) Add(ctx context.Context, args *skel.CmdArgs) (res *current.Result, err error) {
	a, err := p.newAttachment(args, true)
	if err != nil {
		return nil, err
	}
	ph := newPhases()
	store := p.connect(ctx)
	defer store.close()

	st, err := p.Net.Probe(a.spec)
	if err != nil {
		return nil, cniError(types.ErrInternal, err)
	}
	if res, err := p.takeOver(ctx, a, st, store); res != nil || err != nil {
		return res, err
	}

	var undo undoStack
	defer func() {
		if err != nil {
			undo.run(a.log)
		}
	}()
	ph.mark("probe")
	alloc, err := p.IPAM.Add(ctx, p.Stdin)
	ph.mark("ipam")
	if err != nil {
		return nil, err
	}
	undo.push("release the addresses", func() error { return p.IPAM.Del(ctx, p.Stdin) })
	if a.spec.Addrs, err = podAddrs(alloc); err != nil {
		return nil, cniError(types.ErrInternal, fmt.Errorf("IPAM plugin %s: %w", p.Conf.IPAM.Type, err))
	}
	a.spec.ContainerMAC = randomMAC()
	cl, err := store.wait()
	ph.mark("datastore_wait")
	if err != nil {
		return nil, unreachable(types.ErrTryAgainLater, err)
	}

	// The interfaces and the datastore records do not depend on each other
	// (the pod's MAC is chosen above), so they are made at the same time.
	wep := endpoint(a.w, a.node, a.spec.HostIfName, a.spec.ContainerMAC, a.spec.Addrs, p.Conf.profiles(a.w))
	var wg sync.WaitGroup
	var created bool
	var profErr, wepErr error
	wg.Go(func() { profErr = p.Conf.ensureProfile(ctx, cl) })
	wg.Go(func() { created, wepErr = writeEndpoint(ctx, cl, wep) })
	netErr := p.Net.Setup(a.spec)
	ph.mark("veth")
	wg.Wait()
	ph.mark("datastore_write_wait")
	storeErr := errors.Join(wepErr, profErr)
	if created {
		undo.push("delete the endpoint", func() error {
			_, err := deleteEndpoint(ctx, cl, wep.Namespace, wep.Name, a.w.ContainerID)
			return err
		})
	}
	if netErr == nil {
		undo.push("remove the veth", func() error { return p.Net.RemoveHost(a.spec.HostIfName) })
	}
	switch {
	case netErr != nil:
		return nil, cniError(types.ErrInternal, fmt.Errorf("wire %s: %w", a.spec.HostIfName, netErr))
	case storeErr != nil:
		return nil, storeError(storeErr)
	}
	a.log.Info("workload attached", "addrs", a.spec.Addrs, "wep", wep.Namespace+"/"+wep.Name)
	a.log.Debug("timing", append(ph.attrs, "datastore_connect", store.took)...)
	return result(a.spec, alloc.DNS), nil
}

// takeOver deals with interfaces that already exist under the
// attachment's names before anything is allocated:
//   - our own veth pair for this container with its endpoint, all in
//     place: a repeated ADD, answered from what exists;
//   - our own pair, but incomplete (an ADD that was killed half-way): torn
//     down, addresses released, so that the ADD starts again from nothing;
//   - a host veth of the same workload identity not paired with this pod
//     (a pod's earlier sandbox): removed, as the name is this workload's;
//   - anything else under either name: an error, and nothing is touched.
func (p *Plugin) takeOver(ctx context.Context, a *attachment, st veth.State, store *storeFuture) (*current.Result, error) {
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

// podAddrs narrows the IPAM plugin's addresses to single addresses.
func podAddrs(r *current.Result) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, ip := range r.IPs {
		a, ok := netip.AddrFromSlice(ip.Address.IP)
		if !ok {
			return nil, fmt.Errorf("returned an invalid address %v", ip.Address)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	if len(out) == 0 {
		return nil, errors.New("returned no addresses")
	}
	return out, nil
}

// randomMAC is a random, locally administered unicast MAC for the pod
// side. Choosing it here rather than letting the kernel choose means it is
// known before the interface exists.
func randomMAC() net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	_, _ = rand.Read(m)
	m[0] = (m[0] | 0x02) &^ 0x01
	return m
}

// storeError reports a datastore failure after the connection was made:
// a timeout is worth retrying, anything else (a rejected write) is not.
func storeError(err error) error {
	code := types.ErrInternal
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		code = types.ErrTryAgainLater
	}
	return cniError(code, fmt.Errorf("datastore: %w", err))
}

// undoStack runs compensating steps in reverse order.
type undoStack []struct {
	what string
	fn   func() error
}

func (u *undoStack) push(what string, fn func() error) {
	*u = append(*u, struct {
		what string
		fn   func() error
	}{what, fn})
}

// run undoes everything, logging (not returning) what could not be undone:
// the caller reports the error that caused the rollback.
func (u undoStack) run(log *slog.Logger) {
	for i := len(u) - 1; i >= 0; i-- {
		if err := u[i].fn(); err != nil {
			log.Error("rollback: could not "+u[i].what, "err", err)
		} else {
			log.Debug("rollback: " + u[i].what)
		}
	}
}
