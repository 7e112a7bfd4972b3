package nft

import (
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/knftables"
	"sigs.k8s.io/yaml"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The policy part's table for the fixture, as nft text: readable in
// review, and any change to what is rendered shows in the diff.
func TestPolicyGolden(t *testing.T) {
	golden(t, "policy.nft", Wanted{NAT: natWant(), Policy: policyFixture(t)})
}

// golden compares the table w renders with testdata/name.
func golden(t *testing.T, name string, w Wanted) {
	t.Helper()
	fake := knftables.NewFake(Family, Table)
	if _, err := New(Config{NFT: fake}).Apply(ctx, w); err != nil {
		t.Fatal(err)
	}
	got := fake.Dump()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("table differs from %s (go test -run Golden -update to accept):\n%s", path, got)
	}
}

// hostFixture: two host endpoints on n1, eth1 by name and the
// all-interfaces one, with a policy of every stage on eth1 and a normal and
// a forward policy on every interface.
func hostFixture(t *testing.T) *policy.Program {
	t.Helper()
	m := policy.Build(hostFixtureInput(t))
	if len(m.Problems) > 0 {
		t.Fatal(m.Problems)
	}
	p := policy.Compile(m, "n1")
	return &p
}

func hostFixtureInput(t *testing.T) policy.Input {
	t.Helper()
	var in policy.Input
	for _, d := range []string{
		`{metadata: {name: n1-eth1, labels: {role: gw}}, spec: {node: n1, interfaceName: eth1, expectedIPs: [10.9.0.1]}}`,
		`{metadata: {name: n1-all, labels: {role: host}}, spec: {node: n1, interfaceName: "*"}}`,
	} {
		in.HostEndpoints = append(in.HostEndpoints, decode[v3.HostEndpoint](t, d))
	}
	for _, d := range []string{
		`{metadata: {name: gw-in}, spec: {selector: role == 'gw', ingress: [{action: Allow, protocol: TCP, destination: {ports: [8080]}}]}}`,
		`{metadata: {name: gw-fwd}, spec: {selector: role == 'gw', applyOnForward: true, types: [Ingress, Egress], ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]}}`,
		`{metadata: {name: gw-prednat}, spec: {selector: role == 'gw', preDNAT: true, applyOnForward: true, ingress: [{action: Deny, source: {nets: [10.9.0.66/32]}}]}}`,
		`{metadata: {name: gw-untracked}, spec: {selector: role == 'gw', doNotTrack: true, applyOnForward: true, ingress: [{action: Allow, protocol: UDP, destination: {ports: [5353]}}], egress: [{action: Allow, protocol: UDP, source: {ports: [5353]}}]}}`,
		`{metadata: {name: host-in}, spec: {selector: role == 'host', ingress: [{action: Allow, protocol: TCP, destination: {ports: [443]}}]}}`,
		`{metadata: {name: host-fwd}, spec: {selector: role == 'host', applyOnForward: true, ingress: [{action: Deny, protocol: UDP}, {action: Allow, destination: {nets: [10.0.0.0/16]}}]}}`,
	} {
		in.GlobalNetworkPolicies = append(in.GlobalNetworkPolicies, decode[v3.GlobalNetworkPolicy](t, d))
	}
	return in
}

func decode[T any](t *testing.T, doc string) *T {
	t.Helper()
	o := new(T)
	if err := yaml.UnmarshalStrict([]byte(doc), o); err != nil {
		t.Fatal(err)
	}
	v3.Default(any(o).(v3.Resource))
	return o
}

// The host endpoints' hooks for the fixture, as nft text.
func TestHostGolden(t *testing.T) {
	golden(t, "host.nft", Wanted{NAT: natWant(), Policy: hostFixture(t)})
}

// TestSelectorSetsRenderedOnce: a set whose members are the same slice as
// in the previous rendering keeps its elements (the same slice: nothing
// rendered, compared or diffed again); a set given new members is
// rendered anew, and the Owner writes only its element change.
func TestSelectorSetsRenderedOnce(t *testing.T) {
	a := []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("10.0.0.2/32")}
	b := []netip.Prefix{netip.MustParsePrefix("10.0.1.1/32")}
	prog := func(a, b []netip.Prefix) *policy.Program {
		return &policy.Program{Chains: map[string]policy.EndpointChain{}, Rules: map[string]policy.RuleList{},
			Sets: map[string]policy.AddrSet{"sel-a": {Members: a}, "sel-b": {Members: b}}}
	}
	elements := func(c content, name string) []string {
		for _, s := range c.sets {
			if s.name == name {
				return s.elements
			}
		}
		t.Fatalf("no set %s", name)
		return nil
	}
	r1 := newRuns(nil)
	c1, err := render(Wanted{NAT: natWant(), Policy: prog(a, b)}, r1)
	if err != nil {
		t.Fatal(err)
	}
	b2 := append(slices.Clone(b), netip.MustParsePrefix("10.0.1.2/32"))
	c2, err := render(Wanted{NAT: natWant(), Policy: prog(a, b2)}, newRuns(r1))
	if err != nil {
		t.Fatal(err)
	}
	if !sameSlice(elements(c1, "sel-a"), elements(c2, "sel-a")) {
		t.Error("the unchanged set sel-a was rendered again")
	}
	if got := elements(c2, "sel-b"); !slices.Equal(got, []string{"10.0.1.1/32", "10.0.1.2/32"}) {
		t.Errorf("sel-b = %v after its change", got)
	}
	changes, ok := directChanges(c1, c2)
	if !ok || len(changes) != 1 || changes[0].set != "sel-b" || !slices.Equal(changes[0].elements, []string{"10.0.1.2/32"}) {
		t.Errorf("element changes = %+v (ok %v), want one addition to sel-b", changes, ok)
	}
}

// TestPatchedSetsAsRendered: over random member changes, a set patched
// from the previous rendering has the elements a whole rendering gives.
func TestPatchedSetsAsRendered(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pool := []netip.Prefix{netip.MustParsePrefix("10.0.9.0/24"), netip.MustParsePrefix("fd00::1/128")}
	for i := range 40 {
		pool = append(pool, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i % 12), byte(i)}), 32))
	}
	prev := newRuns(nil)
	for step := range 2000 {
		var members []netip.Prefix
		for _, p := range pool {
			if r.IntN(3) == 0 && (p.IsSingleIP() || r.IntN(10) == 0) {
				members = append(members, p)
			}
		}
		if step%7 != 0 { // now and then unsorted, with a duplicate: rendered whole
			slices.SortFunc(members, comparePrefixes)
		} else if len(members) > 0 {
			members = append(members, members[0])
		}
		runs := newRuns(prev)
		got := selectorSets(&policy.Program{Sets: map[string]policy.AddrSet{"sel-x": {Members: members}}}, runs)[0].elements
		if want := addrElements(members); !slices.Equal(got, want) {
			t.Fatalf("step %d: patched %v, rendered %v", step, got, want)
		}
		prev = runs
	}
}
