package bgp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/ns/nstest"
)

// A peer whose link silently dies (its bridge port goes down: no reset,
// no FIN, packets just vanish) is noticed when the hold timer expires,
// and its routes go then, not after a graceful-restart time.
func TestSilentPeerFailure(t *testing.T) {
	sw, a, b := nstest.New(t, "tbgp"), nstest.New(t, "tbgp"), nstest.New(t, "tbgp")
	sw.MustRun(t, "ip", "link", "add", "br0", "type", "bridge")
	sw.MustRun(t, "ip", "link", "set", "br0", "up")
	for i, n := range []*nstest.NS{a, b} {
		port := []string{"pa", "pb"}[i]
		sw.MustRun(t, "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", n.Name)
		sw.MustRun(t, "ip", "link", "set", port, "master", "br0", "up")
		n.MustRun(t, "ip", "addr", "add", []string{"10.98.0.1/24", "10.98.0.2/24"}[i], "dev", "eth0")
		n.MustRun(t, "ip", "link", "set", "eth0", "up")
	}
	ipA, ipB := netip.MustParseAddr("10.98.0.1"), netip.MustParseAddr("10.98.0.2")
	cfg := func(self, peer netip.Addr, block string) helperConfig {
		return helperConfig{Global: Global{ASN: 64512, RouterID: self},
			Peers: []Peer{{Name: "Mesh_" + peer.String(), Address: peer, ASN: 64512, SourceAddress: self,
				KeepaliveTime: time.Second, HoldTime: 3 * time.Second, Passive: self.String() > peer.String()}},
			Routes: []Route{{Prefix: netip.MustParsePrefix(block), NextHop: self}}}
	}
	spA := startSpeakerIn(t, a.Name, cfg(ipA, ipB, "10.244.1.0/26"))
	startSpeakerIn(t, b.Name, cfg(ipB, ipA, "10.244.2.0/26"))
	spA.waitState(t, "b's block at a", learnedVia("10.244.2.0/26", "10.98.0.2"))

	sw.MustRun(t, "ip", "link", "set", "pb", "down")
	st := spA.waitState(t, "b's block gone from a, the session down with the reason", func(s helperState) bool {
		return !learnedVia("10.244.2.0/26", "10.98.0.2")(s) && len(s.Status) == 1 &&
			s.Status[0].State != StateEstablished && s.Status[0].Info != ""
	})
	t.Logf("a's view of b: %s %s", st.Status[0].State, st.Status[0].Info)
}
