package nft

import (
	"net/netip"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc/policy"
)

// guard6Program: cali1 open (allow-all profile), cali2 selected by a
// policy; with6 gives cali1 an IPv6 address.
func guard6Program(with6 bool) *policy.Program {
	p := &policy.Program{
		Chains: map[string]policy.EndpointChain{
			"open":   {Profiles: []string{"prof-all"}},
			"closed": {Tiers: []policy.ChainTier{{Name: "default", Policies: []string{"pol-x"}, DefaultAction: "Deny"}}, Profiles: []string{"prof-all"}},
		},
		Rules: map[string]policy.RuleList{"prof-all": {Rules: []policy.Rule{{Action: "Allow"}}}, "pol-x": {}},
		Endpoints: []policy.ProgramEndpoint{
			{Interface: "cali1", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}, In: "open", Out: "open"},
			{Interface: "cali2", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}, In: "closed", Out: "open"},
		},
	}
	if with6 {
		p.Endpoints[0].Addrs = append(p.Endpoints[0].Addrs, netip.MustParsePrefix("fd00::1/128"))
	}
	return p
}

func TestGuard6(t *testing.T) {
	fake := knftables.NewFake(Family6, Table)
	nft := &counting{Interface: fake}
	g := NewGuard6(nft, nil)
	if changed, err := g.Apply(ctx, guard6Program(false)); err != nil || changed || nft.runs != 0 {
		t.Fatalf("no IPv6 workload: %v %v, %d runs", changed, err, nft.runs)
	}
	if changed, err := g.Apply(ctx, guard6Program(true)); err != nil || !changed {
		t.Fatalf("an IPv6 workload: %v %v", changed, err)
	}
	dump := fake.Dump()
	for _, w := range []string{
		`iifname "cali*" iifname != { "cali1" } drop`,
		`oifname "cali*" oifname != { "cali1" } drop`,
		"ct state established,related accept",
		"nd-neighbor-solicit",
		`add rule ip6 tortie guard-in iifname "cali*" drop`, // defaultEndpointToHostAction Drop
	} {
		if !strings.Contains(dump, w) {
			t.Errorf("table lacks %q:\n%s", w, dump)
		}
	}
	// A restart reads it back and writes nothing; the same Program again
	// does no I/O at all.
	nft.runs = 0
	g2 := NewGuard6(nft, nil)
	if changed, err := g2.Apply(ctx, guard6Program(true)); err != nil || changed || nft.runs != 0 {
		t.Errorf("restart: %v %v, %d runs", changed, err, nft.runs)
	}
	// Endpoint-to-host Accept lets open workloads reach the host.
	p := guard6Program(true)
	p.EndpointToHost = "Accept"
	if changed, err := g2.Apply(ctx, p); err != nil || !changed {
		t.Fatalf("endpoint-to-host Accept: %v %v", changed, err)
	}
	if dump := fake.Dump(); !strings.Contains(dump, `add rule ip6 tortie guard-in iifname "cali*" iifname != { "cali1" } drop`) {
		t.Errorf("endpoint-to-host Accept: open workloads should reach the host:\n%s", dump)
	}
	// No IPv6 workload left: the table goes.
	if changed, err := g2.Apply(ctx, guard6Program(false)); err != nil || !changed {
		t.Fatalf("removal: %v %v", changed, err)
	}
	if dump := fake.Dump(); strings.Contains(dump, "table") {
		t.Errorf("table left behind:\n%s", dump)
	}
}
