package node

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/bgp"
	"github.com/tortienet/tortie/internal/bgp/bgpstatus"
)

// Readiness waits for every non-passive peer to be Established, as
// calico-node's does, except a workload's session (Local_Workload_),
// which calico-node's check does not count either: a pod's daemon never
// holds its node back.
func TestNotReadyLeavesWorkloadPeersOut(t *testing.T) {
	st := bgpstatus.Status{Running: true, Peers: []bgpstatus.Peer{
		{Name: "Global_10_0_0_254", Address: netip.MustParseAddr("10.0.0.254"), State: "Active"},
		{Name: "Mesh_10_0_0_9", Address: netip.MustParseAddr("10.0.0.9"), State: "Active", Passive: true},
		{Name: "Local_Workload_10_65_0_2", Address: netip.MustParseAddr("10.65.0.2"), State: "Connect"},
	}}
	got := notReady(st)
	if len(got) != 1 || !strings.Contains(got[0], "Global_10_0_0_254") {
		t.Errorf("not ready because of %q, want the global peer alone", got)
	}
}

// A BGPPeer's localWorkloadSelector through the agent: a local pod with
// the label becomes a session (and only that session is added); the route
// it announces is installed out of its interface; its label taken off
// removes that session and nothing else.
func TestAgentBGPLocalWorkloadPeer(t *testing.T) {
	h := newHarness(t, map[string]string{"CALICO_IPV4POOL_IPIP": "Never"})
	peer := &v3.BGPPeer{ObjectMeta: v3.ObjectMeta{Name: "pods"},
		Spec: v3.BGPPeerSpec{LocalWorkloadSelector: "bgp == 'speaker'", ASNumber: 65401}}
	tor := &v3.BGPPeer{ObjectMeta: v3.ObjectMeta{Name: "tor"}, Spec: v3.BGPPeerSpec{PeerIP: "172.31.1.254", ASNumber: 65000}}
	for _, r := range []v3.Resource{peer, tor} {
		if _, err := h.c.Create(h.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	fake := bgp.NewFake()
	h.startBGP("172.31.1.20/24", fake)
	waitSpeaker(t, fake, "the ToR", func() bool { return len(fake.Peers()) == 1 })
	fake.Ops = nil

	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: "node--a-k8s-speaker-eth0", Namespace: "default",
		Labels: map[string]string{"bgp": "speaker"}}}
	w.Spec = v3.WorkloadEndpointSpec{Orchestrator: "k8s", Node: "node-a", Pod: "speaker", Endpoint: "eth0",
		IPNetworks: []string{"10.244.7.7/32"}, InterfaceName: "cali0123456789a"}
	if _, err := h.c.Create(h.ctx, w); err != nil {
		t.Fatal(err)
	}
	pod := netip.MustParseAddr("10.244.7.7")
	waitSpeaker(t, fake, "the pod's session", func() bool { return len(fake.Peers()) == 2 })
	if got := sessionOps(fake.Ops); got != "add Local_Workload_10_244_7_7" {
		t.Errorf("speaker operations %q, want only the pod's session added", got)
	}
	for _, p := range fake.Peers() {
		if p.Address == pod && (p.ASN != 65401 || p.Passive || p.SourceAddress != netip.MustParseAddr("172.31.1.20")) {
			t.Errorf("the pod's session: %+v", p)
		}
	}
	fake.Learn(bgp.Learned{Prefix: netip.MustParsePrefix("10.123.0.0/26"), NextHop: pod, Peer: pod, External: true})
	fake.SetState(pod, bgp.PeerStatus{State: bgp.StateEstablished, EndOfRIB: true, Since: time.Now()})
	fake.SetState(netip.MustParseAddr("172.31.1.254"), bgp.PeerStatus{State: bgp.StateEstablished, EndOfRIB: true, Since: time.Now()})
	h.dp.waitFor(t, "the pod's block out of its interface",
		hasRoute("10.123.0.0/26", "10.123.0.0/26 via 10.244.7.7 dev cali0123456789a onlink"))

	fake.Ops = nil
	r, err := h.c.Get(h.ctx, kind("WorkloadEndpoint"), "default", w.Name)
	if err != nil {
		t.Fatal(err)
	}
	w = r.(*v3.WorkloadEndpoint)
	delete(w.Labels, "bgp")
	if _, err := h.c.Update(h.ctx, w); err != nil {
		t.Fatal(err)
	}
	waitSpeaker(t, fake, "the pod's session gone", func() bool { return len(fake.Peers()) == 1 })
	if got := sessionOps(fake.Ops); got != "delete Local_Workload_10_244_7_7" {
		t.Errorf("speaker operations %q, want only the pod's session removed", got)
	}
}

// sessionOps are the speaker's session operations (not its announcements:
// the pod's address, outside this node's blocks, is announced as a /32).
func sessionOps(ops []string) string {
	var out []string
	for _, op := range ops {
		if strings.HasPrefix(op, "add ") || strings.HasPrefix(op, "delete ") {
			out = append(out, op)
		}
	}
	return strings.Join(out, ",")
}
