package node

import (
	"testing"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/simcluster"
)

// TestSimulatedClusterIsRouted: the agent, on a datastore holding a
// simulated cluster, routes each simulated node's block over VXLAN to
// that node's tunnel address, with its VTEP's neighbour and FDB entries.
func TestSimulatedClusterIsRouted(t *testing.T) {
	h := newHarness(t, map[string]string{"CALICO_NETWORKING_BACKEND": "vxlan", "NO_DEFAULT_POOLS": "true",
		"CALICO_IPV4POOL_CIDR": ""})
	spec := simcluster.Spec{Nodes: 12, EndpointsPerNode: 3}
	spec.Defaults()
	if _, err := simcluster.Write(h.ctx, h.c, spec); err != nil {
		t.Fatal(err)
	}
	h.start("172.31.255.1/12")
	h.dp.waitFor(t, "a VXLAN route, neighbour and FDB entry for every simulated node", func(d calc.Desired) bool {
		routes, vteps := map[string]calc.Route{}, map[string]bool{}
		for _, r := range d.Routes {
			routes[r.Dst.String()] = r
		}
		for _, f := range d.FDB {
			vteps[f.MAC.String()+" "+f.Dst.String()] = true
		}
		for i := range spec.Nodes {
			r, ok := routes[spec.Block(i).String()]
			if !ok || r.Dev != conventions.VXLANDevice || r.Gw != spec.TunnelAddr(i) || !vteps[spec.VTEPMAC(i).String()+" "+spec.NodeAddr(i).Addr().String()] {
				return false
			}
		}
		return true
	})
}
