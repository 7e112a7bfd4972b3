package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// TunnelHandle is the handle of a node's tunnel address of a type
// (TypeIPIPTunnel: "ipip-tunnel-addr-<node>", TypeVXLANTunnel:
// "vxlan-tunnel-addr-<node>").
func TunnelHandle(typ, node string) string {
	if typ == TypeVXLANTunnel {
		return "vxlan-tunnel-addr-" + node
	}
	return "ipip-tunnel-addr-" + node
}

// EnsureTunnelAddress returns the node's tunnel address of the given type,
// allocating one from pools (CIDRs or names; the pools whose encapsulation
// needs it) when the node has none there, and releasing an address that
// is no longer in any of them.
func (m *IPAM) EnsureTunnelAddress(ctx context.Context, node, typ string, pools []string) (netip.Addr, error) {
	handle := TunnelHandle(typ, node)
	have, err := m.IPsByHandle(ctx, handle)
	if err != nil && !errors.Is(err, datastore.ErrNotFound) {
		return netip.Addr{}, err
	}
	if len(have) > 0 {
		all, err := listAs[*v3.IPPool](ctx, m.c, "IPPool")
		if err != nil {
			return netip.Addr{}, err
		}
		for _, p := range parsePools(all) {
			if p.cidr.Contains(have[0]) && (len(pools) == 0 || containsString(pools, p.Name) || containsString(pools, p.cidr.String())) {
				return have[0], nil
			}
		}
		if _, err := m.ReleaseByHandle(ctx, handle); err != nil {
			return netip.Addr{}, err
		}
	}
	v4, _, err := m.AutoAssign(ctx, AutoAssignArgs{
		Num4: 1, HandleID: handle, Hostname: node, IPv4Pools: pools,
		Attrs:       map[string]string{AttrNode: node, AttrType: typ},
		IntendedUse: v3.AllowedUseTunnel,
	})
	if err != nil {
		return netip.Addr{}, fmt.Errorf("allocate %s for %s: %w", typ, node, err)
	}
	return v4[0].Addr(), nil
}

// ReleaseTunnelAddress gives back the node's tunnel address of a type.
func (m *IPAM) ReleaseTunnelAddress(ctx context.Context, node, typ string) error {
	_, err := m.ReleaseByHandle(ctx, TunnelHandle(typ, node))
	return err
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
