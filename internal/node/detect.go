package node

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/tortienet/tortie/internal/autodetect"
)

// NetlinkDetector6 is NetlinkDetector for the IPv6 address (IP6,
// IP6_AUTODETECTION_METHOD).
func NetlinkDetector6(log *slog.Logger) Detector {
	d := autodetect.Detector{Host: autodetect.NewNetlinkHost(nil), Log: log}
	return func(ip, method string) (Address, error) {
		res, err := d.Resolve(context.Background(), autodetect.Config{Family: autodetect.IPv6, IP: ip, Method: method})
		if err != nil {
			return Address{}, err
		}
		return Address{Prefix: res.Address, Interface: res.Interface, Reasoning: res.Summary}, nil
	}
}

// NetlinkDetector finds the node's address on the interfaces of the
// network namespace the agent runs in, by the rules of internal/autodetect.
// current is the address the Node already has (kept when detection finds
// nothing, as calico-node does).
func NetlinkDetector(log *slog.Logger, current func() netip.Prefix) Detector {
	d := autodetect.Detector{Host: autodetect.NewNetlinkHost(nil), Log: log}
	return func(ip, method string) (Address, error) {
		cfg := autodetect.Config{Family: autodetect.IPv4, IP: ip, Method: method}
		if current != nil {
			cfg.Current = current()
		}
		res, err := d.Resolve(context.Background(), cfg)
		if err != nil {
			return Address{}, err
		}
		return Address{Prefix: res.Address, Interface: res.Interface, Reasoning: res.Summary}, nil
	}
}
