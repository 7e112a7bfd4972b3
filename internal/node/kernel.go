package node

import (
	"context"
	"log/slog"
	"net"

	"github.com/vishvananda/netlink"

	"github.com/tortienet/tortie/internal/bgp"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane"
)

// LinuxKernel is the agent's view of the Linux network namespace it runs
// in: netlink autodetection, the dataplane reconcilers, IP-in-IP support
// (probed once: a kernel without the ipip module is reported, not fatal)
// and the underlay MTU.
func LinuxKernel(ctx context.Context, log *slog.Logger) (Kernel, func(), error) {
	dp, err := dataplane.New(dataplane.Config{Log: log})
	if err != nil {
		return Kernel{}, nil, err
	}
	ipipErr := dp.DetectIPIP(ctx)
	if ipipErr != nil {
		// Only a problem if a pool needs it: calc reports that, as an error.
		log.Info("IP-in-IP is not available on this node", "reason", ipipErr)
	}
	k := Kernel{
		Detect:        NetlinkDetector(log, nil),
		Detect6:       NetlinkDetector6(log),
		Dataplane:     dp,
		IPIPSupported: func() bool { return ipipErr == nil },
		// The underlay MTU is the node address's interface's, unless that
		// is a loopback (a lab node, or an address on lo for BGP): its
		// 65536 is no path MTU, and more than a veth can take.
		HostMTU: func(parent string) int {
			if l, err := netlink.LinkByName(parent); err == nil && l.Attrs().MTU > 0 && l.Attrs().Flags&net.FlagLoopback == 0 {
				return l.Attrs().MTU
			}
			return calc.DefaultHostMTU
		},
		StartSpeaker: func(ctx context.Context, g bgp.Global, log *slog.Logger) (bgp.Speaker, error) {
			return bgp.Start(ctx, g, log)
		},
	}
	return k, dp.Close, nil
}
