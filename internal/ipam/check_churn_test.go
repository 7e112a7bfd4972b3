package ipam

import (
	"context"
	"fmt"
	"sync"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

// TestCheckDuringChurn runs ipam check while workers allocate an address,
// write its endpoint, delete the endpoint and release the address, over
// and over, as CNI ADD and DEL do. Every report must describe a state the
// datastore really had: no handle that disagrees with its block, no
// endpoint whose address is not allocated (the endpoint is written after
// the allocation and deleted before the release), and every allocation
// either leaked (between the steps) or in use.
func TestCheckDuringChurn(t *testing.T) {
	e := newEnv(t)
	e.pool("churn", "10.60.0.0/24", 28, nil)
	for _, n := range []string{"n0", "n1"} {
		e.node(n, nil)
	}
	ctx, stop := context.WithCancel(e.ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := churn(ctx, e, w); err != nil && ctx.Err() == nil {
				errs <- err
			}
		}()
	}
	checks := 0
	for checks < 12 {
		r, err := e.ipam.Check(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if bad := len(r.HandleMismatches) + len(r.MissingHandles) + len(r.EmptyHandles) + len(r.NotAllocated) + len(r.OutsidePools); bad > 0 {
			t.Errorf("check %d reported problems that cannot exist: mismatches %+v, missing %+v, empty %v, not allocated %+v, outside %+v",
				checks, r.HandleMismatches, r.MissingHandles, r.EmptyHandles, r.NotAllocated, r.OutsidePools)
		}
		if r.Allocations != len(r.Leaked)+r.InUse {
			t.Errorf("check %d: %d allocations, %d leaked and %d in use", checks, r.Allocations, len(r.Leaked), r.InUse)
		}
		if r.Allocations > 0 {
			checks++
		}
	}
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// churn is one worker's ADD/DEL loop on node n<w%2>.
func churn(ctx context.Context, e *env, w int) error {
	ki, _ := v3.LookupKind("WorkloadEndpoint")
	node := fmt.Sprintf("n%d", w%2)
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("w%d-%d", w, i)
		handle := "net." + id
		v4, _, err := e.ipam.AutoAssign(ctx, AutoAssignArgs{Num4: 1, HandleID: handle, Hostname: node, Attrs: map[string]string{AttrNode: node}})
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%s-cni-w%d--%d-eth0", node, w, i)
		wep := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: name, Namespace: "default"}, Spec: v3.WorkloadEndpointSpec{
			Orchestrator: "cni", Node: node, ContainerID: id, Endpoint: "eth0", InterfaceName: fmt.Sprintf("caliw%d", w),
			IPNetworks: []string{v4[0].Addr().String() + "/32"}}}
		if _, err := e.c.Create(ctx, wep); err != nil {
			return err
		}
		if _, err := e.c.Delete(ctx, ki, "default", name, ""); err != nil {
			return err
		}
		if _, err := e.ipam.ReleaseByHandle(ctx, handle); err != nil {
			return err
		}
	}
	return nil
}
