package cni

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
)

// Del takes the attachment apart: the WorkloadEndpoint (only if it still
// belongs to this container: a DEL for a pod's old sandbox must not remove
// the new sandbox's endpoint), the veth in the pod's namespace, and the
// addresses (IPAM DEL, by handle). Anything already gone counts as done,
// so DEL of something unknown succeeds and a repeated DEL is harmless.
//
// A missing node name fails DEL before anything is touched. Otherwise the
// interface, the addresses and the endpoint are removed at the same time;
// when the datastore cannot be reached the endpoint stays and DEL fails
// with "try again later" (Calico deletes nothing then), and the runtime's
// retry finds the rest gone and deletes the endpoint.
func (p *Plugin) Del(ctx context.Context, args *skel.CmdArgs) error {
	a, err := p.newAttachment(args, false)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var wepErr, netErr, ipamErr error
	var vethTook, ipamTook, storeTook time.Duration
	start := time.Now()
	wg.Go(func() {
		defer func() { vethTook = time.Since(start) }()
		removed, err := p.Net.RemoveContainer(a.spec.NetNS, a.spec.IfName)
		if err != nil {
			netErr = cniError(types.ErrInternal, fmt.Errorf("remove %s: %w", a.spec.IfName, err))
		} else if removed {
			a.log.Debug("veth removed")
		}
	})
	wg.Go(func() {
		ipamErr = p.IPAM.Del(ctx, p.Stdin)
		ipamTook = time.Since(start)
	})
	if cl, err := p.OpenStore(ctx); err != nil {
		wepErr = unreachable(types.ErrTryAgainLater, err)
	} else {
		deleted, err := deleteEndpoint(ctx, cl, a.w.Namespace, a.w.WEPName(a.node), a.w.ContainerID)
		if err != nil {
			wepErr = storeError(err)
		} else if deleted {
			a.log.Debug("endpoint deleted")
		}
		cl.Close()
	}
	storeTook = time.Since(start)
	wg.Wait()
	a.log.Debug("timing", "veth", vethTook, "ipam", ipamTook, "datastore", storeTook)
	if err := firstCoded(wepErr, netErr, ipamErr); err != nil {
		return err
	}
	a.log.Info("workload detached")
	return nil
}

// firstCoded returns the first error, with the others appended to its
// message, keeping the first one's CNI code. A "try again later" error
// (a transient datastore failure) is returned alone, as the one line the
// runtime shows: its retry will meet whatever else is left.
func firstCoded(errs ...error) error {
	for _, err := range errs {
		var te *types.Error
		if errors.As(err, &te) && te.Code == types.ErrTryAgainLater {
			return te
		}
	}
	var first *types.Error
	var rest []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			if !errors.As(cniError(types.ErrInternal, err), &first) {
				continue
			}
			first = &types.Error{Code: first.Code, Msg: first.Msg, Details: first.Details}
			continue
		}
		rest = append(rest, err)
	}
	if first == nil {
		return nil
	}
	for _, err := range rest {
		first.Msg += "; " + err.Error()
	}
	return first
}
