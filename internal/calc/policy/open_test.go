package policy

import (
	"fmt"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

// openEndpoints compiles in for node n1 and returns Open per interface.
func openEndpoints(t *testing.T, in Input) map[string]bool {
	t.Helper()
	m := Build(in)
	if len(m.Problems) > 0 {
		t.Fatalf("problems: %v", m.Problems)
	}
	p := Compile(m, "n1")
	got := map[string]bool{}
	for _, ep := range p.Endpoints {
		got[ep.Interface] = p.Open(ep)
	}
	return got
}

func TestOpen(t *testing.T) {
	profile := func(ns, in, out string) *v3.Profile {
		return obj[v3.Profile](t, fmt.Sprintf(`{metadata: {name: kns.%s}, spec: {ingress: %s, egress: %s}}`, ns, in, out))
	}
	for _, tc := range []struct {
		name string
		edit func(in *Input)
		want map[string]bool
	}{
		{"allow-all profiles, no policy", func(*Input) {}, map[string]bool{"caliweb": true, "calidb": true, "caliclient": true}},
		{"an empty profile first, then allow-all", func(in *Input) {
			in.WorkloadEndpoints[0].Spec.Profiles = []string{"ksa.a.api", "kns.a"}
		}, map[string]bool{"caliweb": true, "calidb": true, "caliclient": true}},
		{"policy selects db", func(in *Input) {
			in.NetworkPolicies = append(in.NetworkPolicies, obj[v3.NetworkPolicy](t,
				`{metadata: {name: iso, namespace: a}, spec: {selector: app == 'db', types: [Ingress]}}`))
		}, map[string]bool{"caliweb": true, "calidb": false, "caliclient": true}},
		{"global egress policy selects client", func(in *Input) {
			in.GlobalNetworkPolicies = append(in.GlobalNetworkPolicies, obj[v3.GlobalNetworkPolicy](t,
				`{metadata: {name: out}, spec: {selector: app == 'client', egress: [{action: Allow}]}}`))
		}, map[string]bool{"caliweb": true, "calidb": true, "caliclient": false}},
		{"profile denies first", func(in *Input) {
			in.Profiles[1] = profile("b", `[{action: Allow}]`, `[{action: Deny}, {action: Allow}]`)
		}, map[string]bool{"caliweb": true, "calidb": true, "caliclient": false}},
		{"profile allows a selector only", func(in *Input) {
			in.Profiles[1] = profile("b", `[{action: Allow, source: {selector: app == 'web'}}]`, `[{action: Allow}]`)
		}, map[string]bool{"caliweb": true, "calidb": true, "caliclient": false}},
		{"profile allows TCP only", func(in *Input) {
			in.Profiles[1] = profile("b", `[{action: Allow}]`, `[{action: Allow, protocol: TCP}]`)
		}, map[string]bool{"caliweb": true, "calidb": true, "caliclient": false}},
		{"an IPv4-only deny does not close IPv6", func(in *Input) {
			in.Profiles[1] = profile("b", `[{action: Deny, ipVersion: 4}, {action: Allow}]`, `[{action: Allow}]`)
		}, map[string]bool{"caliweb": true, "calidb": true, "caliclient": true}},
		{"no profile", func(in *Input) {
			in.WorkloadEndpoints[1].Spec.Profiles = nil
		}, map[string]bool{"caliweb": true, "calidb": false, "caliclient": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput(t)
			tc.edit(&in)
			got := openEndpoints(t, in)
			for iface, want := range tc.want {
				if got[iface] != want {
					t.Errorf("Open(%s) = %v, want %v (all: %v)", iface, got[iface], want, got)
				}
			}
		})
	}
}
