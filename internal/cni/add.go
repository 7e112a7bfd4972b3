package cni

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
)

// Add wires the container into the network and records its endpoint. On
// any failure everything done so far is undone. Repeating an ADD that
// succeeded returns the same result and changes nothing.
func (p *Plugin) Add(ctx context.Context, args *skel.CmdArgs) (res *current.Result, err error) {
	a, err := p.newAttachment(args, true)
	if err != nil {
		return nil, err
	}
	ph := newPhases()
	store := p.connect(ctx, p.warmUp(a))
	defer store.close()
	if res, err := p.takeOver(ctx, a, store); res != nil || err != nil {
		return res, err
	}
	ph.mark("probe")

	var undo undoStack
	defer func() {
		if err != nil {
			undo.run(a.log)
		}
	}()
	alloc, err := p.allocate(ctx, a, &undo)
	ph.mark("ipam_and_create")
	if err != nil {
		return nil, err
	}
	cl, err := store.wait()
	ph.mark("datastore_wait")
	if err != nil {
		return nil, unreachable(types.ErrTryAgainLater, err)
	}
	wep, err := p.finish(ctx, a, cl, store, &undo, ph)
	ph.mark("configure_and_record")
	if err != nil {
		return nil, err
	}
	a.log.Info("workload attached", "addrs", a.spec.Addrs, "wep", wep.Namespace+"/"+wep.Name)
	a.log.Debug("timing", append(ph.attrs, "datastore_connect", store.took, "warmup", store.warmTook)...)
	return result(a.spec, alloc.DNS), nil
}

// allocate gets the addresses from IPAM and, at the same time (it needs
// no address), creates the veth pair; it registers the undo of each.
func (p *Plugin) allocate(ctx context.Context, a *attachment, undo *undoStack) (*current.Result, error) {
	a.spec.ContainerMAC = randomMAC()
	var wg sync.WaitGroup
	var createErr error
	wg.Go(func() { createErr = p.Net.Create(a.spec) })
	alloc, ipamErr := p.IPAM.Add(ctx, p.Stdin)
	wg.Wait()
	if createErr == nil {
		undo.push("remove the veth", func() error { return p.Net.RemoveHost(a.spec.HostIfName) })
	}
	if ipamErr == nil {
		undo.push("release the addresses", func() error { return p.IPAM.Del(ctx, p.Stdin) })
	}
	switch {
	case ipamErr != nil:
		return nil, ipamErr
	case createErr != nil:
		return nil, cniError(types.ErrInternal, fmt.Errorf("create %s: %w", a.spec.HostIfName, createErr))
	}
	var err error
	if a.spec.Addrs, err = podAddrs(alloc); err != nil {
		return nil, cniError(types.ErrInternal, fmt.Errorf("IPAM plugin %s: %w", p.Conf.IPAM.Type, err))
	}
	return alloc, nil
}

// finish configures the pair and writes the endpoint at the same time
// (they do not depend on each other: the pod's MAC is chosen up front),
// and checks that the profile was made.
func (p *Plugin) finish(ctx context.Context, a *attachment, cl *client.Client, store *storeFuture, undo *undoStack, ph *phases) (*v3.WorkloadEndpoint, error) {
	wep := endpoint(a.w, a.node, a.spec.HostIfName, a.spec.ContainerMAC, a.spec.Addrs, p.Conf.profiles(a.w))
	var wg sync.WaitGroup
	var created bool
	var wepErr error
	wg.Go(func() {
		<-store.warmed // the warm-up readies the write (see warmUp)
		start := time.Now()
		created, wepErr = writeEndpoint(ctx, cl, wep)
		ph.note("endpoint_write", time.Since(start))
	})
	netErr := p.Net.Configure(a.spec)
	wg.Wait()
	if created {
		undo.push("delete the endpoint", func() error {
			_, err := deleteEndpoint(ctx, cl, wep.Namespace, wep.Name, a.w.ContainerID)
			return err
		})
	}
	if netErr != nil {
		return nil, cniError(types.ErrInternal, fmt.Errorf("configure %s: %w", a.spec.HostIfName, netErr))
	}
	if err := errors.Join(wepErr, store.warmResult()); err != nil {
		return nil, storeError(err)
	}
	return wep, nil
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
// a transient one (the datastore went away, restarts, timed out) is worth
// retrying and says so in one line; anything else (a rejected write) is
// not.
func storeError(err error) error {
	if datastore.Transient(err) || errors.Is(err, context.Canceled) {
		return types.NewError(types.ErrTryAgainLater, fmt.Sprintf("datastore unavailable, try again later: %v", err), "")
	}
	return cniError(types.ErrInternal, fmt.Errorf("datastore: %w", err))
}
