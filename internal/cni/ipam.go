package cni

import (
	"context"
	"fmt"

	"github.com/containernetworking/cni/pkg/invoke"
	current "github.com/containernetworking/cni/pkg/types/100"
)

// IPAM is the address allocator the plugin delegates to. Every call gets
// the plugin's own configuration (stdin) unchanged: the IPAM plugin reads
// its "ipam" section, the runtime's valid attachments for GC, and the
// prevResult for CHECK; the container ID, interface and CNI_ARGS come from
// the environment, as the CNI spec's delegation prescribes.
type IPAM interface {
	// Add allocates and returns the addresses (converted to the current
	// result version).
	Add(ctx context.Context, conf []byte) (*current.Result, error)
	// Del releases what Add allocated for this container; releasing
	// nothing is success.
	Del(ctx context.Context, conf []byte) error
	Check(ctx context.Context, conf []byte) error
	Status(ctx context.Context, conf []byte) error
	GC(ctx context.Context, conf []byte) error
}

// execIPAM runs the IPAM plugin found in CNI_PATH (tortie-ipam,
// host-local, ...) through the CNI library's delegation.
type execIPAM struct{ plugin string }

func (e execIPAM) Add(ctx context.Context, conf []byte) (*current.Result, error) {
	r, err := invoke.DelegateAdd(ctx, e.plugin, conf, nil)
	if err != nil {
		return nil, ipamError(e.plugin, "failed to assign an address", err)
	}
	res, err := current.NewResultFromResult(r)
	if err != nil {
		return nil, fmt.Errorf("IPAM plugin %s returned a result tortie cannot read: %w", e.plugin, err)
	}
	return res, nil
}

func (e execIPAM) Del(ctx context.Context, conf []byte) error {
	if err := invoke.DelegateDel(ctx, e.plugin, conf, nil); err != nil {
		return ipamError(e.plugin, "failed to release", err)
	}
	return nil
}

func (e execIPAM) Check(ctx context.Context, conf []byte) error {
	if err := invoke.DelegateCheck(ctx, e.plugin, conf, nil); err != nil {
		return ipamError(e.plugin, "check failed", err)
	}
	return nil
}

func (e execIPAM) Status(ctx context.Context, conf []byte) error {
	if err := invoke.DelegateStatus(ctx, e.plugin, conf, nil); err != nil {
		return ipamError(e.plugin, "is not ready", err)
	}
	return nil
}

func (e execIPAM) GC(ctx context.Context, conf []byte) error {
	if err := invoke.DelegateGC(ctx, e.plugin, conf, nil); err != nil {
		return ipamError(e.plugin, "garbage collection failed", err)
	}
	return nil
}
