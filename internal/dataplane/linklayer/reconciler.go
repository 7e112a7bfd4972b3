package linklayer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/dataplane/links"
)

// ErrIPIPUnsupported means this kernel cannot do IP-in-IP: there is no
// tunl0 and the ipip module cannot be loaded.
var ErrIPIPUnsupported = errors.New("kernel has no IP-in-IP support")

// Config configures a Reconciler.
type Config struct {
	// Kernel is what to program (required).
	Kernel Kernel
	// Links is the view of the interfaces (required), which the dataplane
	// shares between its reconcilers; its owner begins a round per Apply.
	Links *links.Table
	// Log receives changes at debug level and summaries (nil: discard).
	Log *slog.Logger
	// WorkloadPrefixes name the workload interfaces (default: "cali").
	WorkloadPrefixes []string
}

// Reconciler programs the tunnel devices, neighbours and FDB entries. It
// is not safe for concurrent use.
type Reconciler struct {
	k        Kernel
	links    *links.Table
	log      *slog.Logger
	prefixes []string
	// ipip caches a definite answer of DetectIPIP (nil: not asked yet, or
	// the last attempt failed for another reason).
	ipip *error
	// devices is the input and result of the last successful
	// ApplyDevices (nil: read the devices next time).
	devices *appliedDevices
	// entries is what is known of the neighbour and FDB tables (see
	// ApplyNeighbors).
	entries entries
}

// New returns a Reconciler; cfg.Kernel and cfg.Links are required.
func New(cfg Config) *Reconciler {
	r := &Reconciler{k: cfg.Kernel, links: cfg.Links, log: cfg.Log, prefixes: cfg.WorkloadPrefixes}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if len(r.prefixes) == 0 {
		r.prefixes = []string{conventions.HostIfPrefix}
	}
	return r
}

// Forget makes the next ApplyDevices and ApplyNeighbors read everything
// back from the kernel (the periodic resync, to repair drift).
func (r *Reconciler) Forget() {
	r.devices = nil
	r.entries.known = false
}

// DetectIPIP returns nil when the kernel can do IP-in-IP here: tunl0
// exists, or loading the ipip module makes it appear. Otherwise it returns
// an error wrapping ErrIPIPUnsupported that says what was tried. The answer
// is remembered for the life of the Reconciler.
func (r *Reconciler) DetectIPIP(ctx context.Context) error {
	if r.ipip != nil {
		return *r.ipip
	}
	dev, err := r.k.Device(conventions.IPIPDevice)
	if err != nil {
		return fmt.Errorf("detect IP-in-IP: %w", err)
	}
	if dev == nil {
		loadErr := r.k.LoadModule(ctx, "ipip")
		if dev, err = r.k.Device(conventions.IPIPDevice); err != nil {
			return fmt.Errorf("detect IP-in-IP: %w", err)
		}
		if dev == nil {
			why := "the ipip module loaded but no tunl0 appeared"
			if loadErr != nil {
				why = "modprobe ipip: " + loadErr.Error()
			}
			res := fmt.Errorf("%w: no %s device (%s)", ErrIPIPUnsupported, conventions.IPIPDevice, why)
			r.ipip = &res
			r.log.Warn("IP-in-IP unsupported", "reason", res.Error())
			return res
		}
	}
	if dev.Kind != "ipip" {
		res := fmt.Errorf("%w: %s is a %s interface, not the kernel's ipip device", ErrIPIPUnsupported, conventions.IPIPDevice, dev.Kind)
		r.ipip = &res
		return res
	}
	var ok error
	r.ipip = &ok
	return nil
}

func (r *Reconciler) isWorkload(name string) bool {
	for _, p := range r.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
