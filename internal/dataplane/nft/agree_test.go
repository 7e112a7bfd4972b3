package nft

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// The nftables program and the model agree: random policies (tiers,
// Allow/Deny/Pass/Log, selectors, nets (/32s and prefixes), ports (and
// ranges); some runs merged into exact, masked and interval sets, some
// not) are written to a real table, and every pod-to-pod TCP connection
// on every port either connects or not exactly as the model's Evaluate
// says. The seeds are fixed, so a failure is reproducible.
func TestProgramAgreesWithModel(t *testing.T) {
	node := nstest.New(t, "tpa")
	pods := []struct {
		ns  *nstest.NS
		ip  string
		app string
		ifc string
	}{{nil, "10.0.1.1", "a", "cali1"}, {nil, "10.0.2.1", "b", "cali2"}, {nil, "10.0.3.1", "c", "cali3"}}
	ports := []int{80, 81, 443, 8080, 8191} // 81 and 8191: inside port ranges of the random rules
	for i := range pods {
		pods[i].ns = pod(t, node, pods[i].ifc, pods[i].ip, fmt.Sprintf("10.0.%d.254", i+1))
		for _, port := range ports {
			listen(t, pods[i].ns, fmt.Sprintf("%s:%d", pods[i].ip, port))
		}
	}
	node.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	real := func() *Owner {
		var o *Owner
		if err := node.Do(func() error {
			n, err := NewNFTables()
			o = New(Config{NFT: n})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return o
	}()

	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		in := randomPolicyInput(rng, len(pods))
		for _, p := range pods {
			w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: p.app, Namespace: "ns", Labels: map[string]string{"app": p.app}}}
			w.Spec.Node, w.Spec.InterfaceName, w.Spec.IPNetworks, w.Spec.Profiles = "n1", p.ifc, []string{p.ip + "/32"}, []string{"open"}
			in.WorkloadEndpoints = append(in.WorkloadEndpoints, w)
		}
		m := policy.Build(in)
		if len(m.Problems) > 0 {
			t.Fatalf("seed %d: %v", seed, m.Problems)
		}
		prog := policy.Compile(m, "n1")
		if err := node.Do(func() error {
			_, err := real.Apply(context.Background(), Wanted{NAT: natWant(), Policy: &prog})
			return err
		}); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, from := range pods {
			for _, to := range pods {
				if from.ip == to.ip {
					continue
				}
				for _, port := range ports {
					pkt := policy.Packet{Src: netip.MustParseAddr(from.ip), Dst: netip.MustParseAddr(to.ip),
						Protocol: policy.ProtoTCP, SrcPort: 40000, DstPort: uint16(port)}
					want := m.Evaluate(pkt).Allowed
					dial := func(timeout time.Duration) bool {
						return from.ns.Do(func() error {
							c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", to.ip, port), timeout)
							if err == nil {
								c.Close()
							}
							return err
						}) == nil
					}
					// A dropped SYN is waited out briefly; a connection the
					// model allows gets a second, longer try, so that a
					// loaded machine's slow handshake is not taken for a drop.
					got := dial(300*time.Millisecond) || want && dial(3*time.Second)
					if got != want {
						t.Errorf("seed %d: %s -> %s:%d: kernel connected=%v, model allowed=%v", seed, from.app, to.app, port, got, want)
					}
				}
			}
		}
	}
}

// randomPolicyInput makes a profile that allows everything and a few
// random policies in two tiers.
func randomPolicyInput(rng *rand.Rand, pods int) policy.Input {
	var in policy.Input
	open := &v3.Profile{ObjectMeta: v3.ObjectMeta{Name: "open"}}
	open.Spec.Ingress, open.Spec.Egress = []v3.Rule{{Action: v3.Allow}}, []v3.Rule{{Action: v3.Allow}}
	in.Profiles = []*v3.Profile{open}
	order := 10.0
	pass := v3.Pass
	in.Tiers = []*v3.Tier{{ObjectMeta: v3.ObjectMeta{Name: "t1"}, Spec: v3.TierSpec{Order: &order, DefaultAction: &pass}}}
	apps := []string{"a", "b", "c"}[:pods]
	tcp := v3.ProtocolFromString("TCP")
	for i := range 1 + rng.IntN(5) {
		g := &v3.GlobalNetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: fmt.Sprintf("p%d", i)}}
		if rng.IntN(2) == 0 {
			g.Name, g.Spec.Tier = "t1.p"+fmt.Sprint(i), "t1"
		}
		o := float64(rng.IntN(4))
		g.Spec.Order = &o
		g.Spec.Selector = []string{"all()", "app == '" + apps[rng.IntN(pods)] + "'"}[rng.IntN(2)]
		rules := make([]v3.Rule, 1+rng.IntN(3))
		for k := range rules {
			r := v3.Rule{Action: []v3.Action{v3.Allow, v3.Allow, v3.Deny, v3.Pass, v3.Log}[rng.IntN(5)]}
			if rng.IntN(3) > 0 {
				r.Protocol = &tcp
				for _, p := range []v3.Port{v3.SinglePort(80), v3.SinglePort(443), v3.SinglePort(8080), v3.PortRange(79, 81), v3.PortRange(440, 450), v3.PortRange(8000, 8191)} {
					if rng.IntN(3) == 0 {
						r.Destination.Ports = append(r.Destination.Ports, p)
					}
				}
			}
			switch rng.IntN(3) {
			case 0: // a pod's /32, its /24, or a /16 holding every pod
				r.Source.Nets = []string{[]string{fmt.Sprintf("10.0.%d.1/32", 1+rng.IntN(pods)), fmt.Sprintf("10.0.%d.0/24", 1+rng.IntN(pods)), "10.0.0.0/16"}[rng.IntN(3)]}
			case 1:
				r.Source.Selector = "app == '" + apps[rng.IntN(pods)] + "'"
			}
			rules[k] = r
		}
		if rng.IntN(2) == 0 {
			g.Spec.Ingress, g.Spec.Types = rules, []v3.PolicyType{v3.PolicyTypeIngress}
		} else {
			g.Spec.Egress, g.Spec.Types = rules, []v3.PolicyType{v3.PolicyTypeEgress}
		}
		in.GlobalNetworkPolicies = append(in.GlobalNetworkPolicies, g)
	}
	return in
}
