package calc

import (
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/selector"
)

// localWorkloadPeers adds the sessions to this node's own workloads that
// BGPPeers with localWorkloadSelector give it (calico-reference.md §2.4):
// a BGPPeer applies on the nodes its node / nodeSelector picks (every node
// when neither is set); on such a node, every local WorkloadEndpoint whose
// labels it selects is a peer at each of its IPv4 addresses, in the
// BGPPeer's AS, named Local_Workload_<ip> as confd names it. The node
// opens the session from its own address (the workload reaches it through
// its default route) and is never passive: a workload is not a Calico
// node. Filters, next-hop mode, password and timers come from the BGPPeer
// as for any other. Global BGPPeers go first; the first session at an
// address wins (a BGPPeer's peerIP or a node already there keeps it).
func (b *bgpBuilder) localWorkloadPeers() {
	var peers []*v3.BGPPeer
	for _, bp := range b.bin.Peers {
		if bp.Spec.LocalWorkloadSelector != "" {
			peers = append(peers, bp)
		}
	}
	if len(peers) == 0 {
		return
	}
	if b.global.LocalWorkloadPeeringIPV4 != "" {
		b.problem("BGPConfiguration default: spec.localWorkloadPeeringIPV4 %q is not applied: local workloads peer with the node address %s",
			b.global.LocalWorkloadPeeringIPV4, b.selfIP)
	}
	slices.SortFunc(peers, func(x, y *v3.BGPPeer) int { return strings.Compare(x.Name, y.Name) })
	eps := b.localEndpoints()
	for _, globalPass := range []bool{true, false} {
		for _, bp := range peers {
			global := bp.Spec.Node == "" && bp.Spec.NodeSelector == ""
			if global != globalPass || !b.localSide(bp, b.self) {
				continue
			}
			if bp.Spec.ASNumber == 0 {
				b.problem("BGPPeer %s: spec.asNumber is required with localWorkloadSelector: no session", bp.Name)
				continue
			}
			sel, err := selector.Parse(bp.Spec.LocalWorkloadSelector)
			if err != nil {
				b.problem("BGPPeer %s: spec.localWorkloadSelector %q: %v", bp.Name, bp.Spec.LocalWorkloadSelector, err)
				continue
			}
			for _, w := range eps {
				if !sel.Evaluate(w.Labels) {
					continue
				}
				for _, ip := range workloadAddrs(w) {
					p := BGPPeer{Type: PeerTypeLocalWorkload, Address: ip, ASN: uint32(bp.Spec.ASNumber),
						LocalASN: b.asOf(b.self), SourceAddress: b.selfIP, Name: peerName("Local_Workload_", ip, 0),
						Workload: w.Namespace + "/" + w.Name}
					b.add(b.withSpec(p, &bp.Spec))
				}
			}
		}
	}
}

// localEndpoints are this node's WorkloadEndpoints, in namespace/name order.
func (b *bgpBuilder) localEndpoints() []*v3.WorkloadEndpoint {
	var out []*v3.WorkloadEndpoint
	for _, w := range b.in.Endpoints {
		if w.Spec.Node == b.in.Node {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(x, y *v3.WorkloadEndpoint) int {
		return strings.Compare(x.Namespace+"/"+x.Name, y.Namespace+"/"+y.Name)
	})
	return out
}

// workloadAddrs are an endpoint's IPv4 addresses.
func workloadAddrs(w *v3.WorkloadEndpoint) []netip.Addr {
	var out []netip.Addr
	for _, s := range w.Spec.IPNetworks {
		if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
			out = append(out, p.Addr())
		}
	}
	return out
}

// localWorkloadDevices maps this node's workload addresses to their
// interfaces: a route learned from a local workload peer goes out of it.
func localWorkloadDevices(in Input) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for _, w := range in.Endpoints {
		if w.Spec.Node != in.Node || w.Spec.InterfaceName == "" {
			continue
		}
		for _, a := range workloadAddrs(w) {
			out[a] = w.Spec.InterfaceName
		}
	}
	return out
}

// sessionDevice is the interface a session's routes arrive on: a local
// workload's own interface, else the underlay device.
func (b *bgpBuilder) sessionDevice(p BGPPeer) string {
	if p.Type == PeerTypeLocalWorkload {
		if dev := localWorkloadDevices(b.in)[p.Address]; dev != "" {
			return dev
		}
	}
	return b.in.ParentDevice
}
