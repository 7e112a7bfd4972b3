package policy

import (
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

func TestNoPolicyProfilesDecide(t *testing.T) {
	run(t, baseInput(t), []check{
		{tcp(client, web, 80), true, "egress[/kns.b/0:Allow] ingress[/kns.a/0:Allow]"},
		{ping(web, google), true, "egress[/kns.a/0:Allow]"},
	})
}

func TestNoProfileDrops(t *testing.T) {
	in := baseInput(t)
	in.WorkloadEndpoints[1].Spec.Profiles = nil
	run(t, in, []check{{tcp(client, db, 5432), false, "egress[/kns.b/0:Allow] ingress[//-1:Deny]"}})
}

func TestEndOfTierDeny(t *testing.T) {
	in := baseInput(t)
	in.NetworkPolicies = []*v3.NetworkPolicy{obj[v3.NetworkPolicy](t, `
metadata: {name: web-in, namespace: a}
spec:
  selector: app == 'web'
  ingress: [{action: Allow, protocol: TCP, source: {selector: app == 'db'}, destination: {ports: [8080]}}]`)}
	run(t, in, []check{
		{tcp(db, web, 8080), true, "egress[/kns.a/0:Allow] ingress[default/a/web-in/0:Allow]"},
		{tcp(db, web, 22), false, "egress[/kns.a/0:Allow] ingress[default//-1:Deny]"},
		// The rule's selector is scoped to namespace a: b's client is not app==db there.
		{tcp(client, web, 8080), false, ""},
		// The policy only has ingress: web's egress is still the profile's.
		{tcp(web, client, 443), true, "egress[/kns.a/0:Allow] ingress[/kns.b/0:Allow]"},
		// db is not selected: open.
		{tcp(client, db, 5432), true, ""},
	})
}

func TestNamespaceSelectorAndNetworkSets(t *testing.T) {
	in := baseInput(t)
	in.NetworkPolicies = []*v3.NetworkPolicy{obj[v3.NetworkPolicy](t, `
metadata: {name: web-in, namespace: a}
spec:
  selector: app == 'web'
  ingress:
  - {action: Allow, source: {namespaceSelector: team == 'y', selector: app == 'client'}}
  - {action: Allow, source: {selector: kind == 'office'}}
  - {action: Allow, source: {selector: kind == 'dns'}}`)}
	run(t, in, []check{
		{tcp(client, web, 1), true, "egress[/kns.b/0:Allow] ingress[default/a/web-in/0:Allow]"},
		{tcp(office, web, 1), true, "ingress[default/a/web-in/1:Allow]"},
		// The global set is outside namespace a, so the scoped selector misses it.
		{tcp(google, web, 1), false, "ingress[default//-1:Deny]"},
	})
	in.NetworkPolicies[0].Spec.Ingress[2].Source.NamespaceSelector = "global()"
	run(t, in, []check{{tcp(google, web, 1), true, "ingress[default/a/web-in/2:Allow]"}})
}

func TestPassAcrossTiersAndTierOrder(t *testing.T) {
	in := baseInput(t)
	in.Tiers = []*v3.Tier{
		obj[v3.Tier](t, `{metadata: {name: security}, spec: {order: 100}}`),
		obj[v3.Tier](t, `{metadata: {name: platform}, spec: {order: 200, defaultAction: Pass}}`),
	}
	in.GlobalNetworkPolicies = []*v3.GlobalNetworkPolicy{
		obj[v3.GlobalNetworkPolicy](t, `
metadata: {name: security.quarantine}
spec: {tier: security, order: 1, selector: all(), types: [Ingress],
       ingress: [{action: Deny, source: {nets: [192.168.9.0/24]}}, {action: Pass}]}`),
		obj[v3.GlobalNetworkPolicy](t, `
metadata: {name: platform.log}
spec: {tier: platform, selector: all(), types: [Ingress], ingress: [{action: Log}]}`),
		obj[v3.GlobalNetworkPolicy](t, `
metadata: {name: default.deny-db}
spec: {selector: app == 'db', types: [Ingress], ingress: [{action: Deny, protocol: TCP}]}`),
	}
	run(t, in, []check{
		{tcp(office, web, 80), false, "ingress[security/security.quarantine/0:Deny]"},
		// Pass in security, Log and then the platform tier's Pass; web has no
		// default-tier policy: its profile decides.
		{tcp(db, web, 80), true, "egress[/kns.a/0:Allow] ingress[security/security.quarantine/1:Pass platform/platform.log/0:Log platform//-1:Pass /kns.a/0:Allow]"},
		{tcp(web, db, 5432), false, "egress[/kns.a/0:Allow] ingress[security/security.quarantine/1:Pass platform/platform.log/0:Log platform//-1:Pass default/default.deny-db/0:Deny]"},
		// UDP passes every tier's rules; db's default tier ends in a deny.
		{Packet{Src: web, Dst: db, Protocol: ProtoUDP, DstPort: 53}, false, ""},
	})
}

func TestOrderTiesByName(t *testing.T) {
	in := baseInput(t)
	in.GlobalNetworkPolicies = []*v3.GlobalNetworkPolicy{
		obj[v3.GlobalNetworkPolicy](t, `{metadata: {name: b-allow}, spec: {order: 10, selector: app == 'db', ingress: [{action: Allow}]}}`),
		obj[v3.GlobalNetworkPolicy](t, `{metadata: {name: a-deny}, spec: {order: 10, selector: app == 'db', ingress: [{action: Deny}]}}`),
		obj[v3.GlobalNetworkPolicy](t, `{metadata: {name: 0-unordered}, spec: {selector: app == 'db', ingress: [{action: Allow}]}}`),
	}
	run(t, in, []check{{tcp(web, db, 1), false, "egress[/kns.a/0:Allow] ingress[default/a-deny/0:Deny]"}})
}

func TestTypesInference(t *testing.T) {
	in := baseInput(t)
	in.NetworkPolicies = []*v3.NetworkPolicy{obj[v3.NetworkPolicy](t, `
metadata: {name: web-out, namespace: a}
spec: {selector: app == 'web', egress: [{action: Allow, protocol: UDP, destination: {ports: [53]}}]}`)}
	run(t, in, []check{
		{Packet{Src: web, Dst: google, Protocol: ProtoUDP, DstPort: 53}, true, "egress[default/a/web-out/0:Allow]"},
		{tcp(web, google, 443), false, "egress[default//-1:Deny]"},
		// Ingress is not among the inferred types: the profile still decides.
		{tcp(db, web, 1), true, ""},
	})
	// Both types with no egress rules: all egress denied.
	in.NetworkPolicies[0].Spec.Types = []v3.PolicyType{v3.PolicyTypeIngress, v3.PolicyTypeEgress}
	in.NetworkPolicies[0].Spec.Egress = nil
	run(t, in, []check{{Packet{Src: web, Dst: google, Protocol: ProtoUDP, DstPort: 53}, false, ""}, {tcp(db, web, 1), false, ""}})
}

func TestNamedPortsAndServiceAccounts(t *testing.T) {
	in := baseInput(t)
	in.WorkloadEndpoints[0].Spec.Profiles = append(in.WorkloadEndpoints[0].Spec.Profiles, "ksa.a.api")
	in.GlobalNetworkPolicies = []*v3.GlobalNetworkPolicy{obj[v3.GlobalNetworkPolicy](t, `
metadata: {name: http}
spec:
  selector: has(app)
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: TCP, destination: {ports: [http]}}
  - {action: Allow, protocol: TCP, source: {serviceAccounts: {selector: role == 'api'}}}`)}
	run(t, in, []check{
		{tcp(client, web, 8080), true, "egress[/kns.b/0:Allow] ingress[default/http/0:Allow]"},
		{tcp(client, web, 80), false, ""},
		// db has no port named http.
		{tcp(client, db, 8080), false, ""},
		// web's service account carries role=api through its ksa profile.
		{tcp(web, db, 5432), true, "egress[/kns.a/0:Allow] ingress[default/http/1:Allow]"},
	})
}

func TestNegationsICMPAndIPVersion(t *testing.T) {
	in := baseInput(t)
	in.GlobalNetworkPolicies = []*v3.GlobalNetworkPolicy{obj[v3.GlobalNetworkPolicy](t, `
metadata: {name: mixed}
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - {action: Deny, source: {notSelector: app == 'web', notNets: [192.168.0.0/16]}}
  - {action: Allow, protocol: ICMP, icmp: {type: 8}, ipVersion: 4}
  - {action: Allow, protocol: TCP, destination: {notPorts: ["1:1024"]}}`)}
	run(t, in, []check{
		{tcp(client, db, 5432), false, "egress[/kns.b/0:Allow] ingress[default/mixed/0:Deny]"},
		{ping(web, db), true, "egress[/kns.a/0:Allow] ingress[default/mixed/1:Allow]"},
		{Packet{Src: web, Dst: db, Protocol: ProtoICMP, ICMPType: 0}, false, ""},
		{tcp(web, db, 5432), true, ""},
		{tcp(web, db, 22), false, ""},
		{tcp(office, db, 5432), true, ""},
	})
}

func TestBadPoliciesAreLeftOutAndNamed(t *testing.T) {
	in := baseInput(t)
	in.GlobalNetworkPolicies = []*v3.GlobalNetworkPolicy{obj[v3.GlobalNetworkPolicy](t, `{metadata: {name: broken}, spec: {selector: "app ==", ingress: [{action: Deny}]}}`)}
	in.Profiles = append(in.Profiles, obj[v3.Profile](t, `{metadata: {name: passing}, spec: {ingress: [{action: Pass}]}}`))
	m := Build(in)
	if len(m.Problems) != 2 || !strings.Contains(m.Problems[0], `Profile passing`) || !strings.Contains(m.Problems[1], `GlobalNetworkPolicy broken: spec.selector = "app =="`) {
		t.Fatalf("problems = %q", m.Problems)
	}
	if len(m.Policies) != 0 {
		t.Errorf("a policy that does not compile was kept")
	}
}

// Calico's etcd-mode network profile: members carry the network's name as
// a label with an empty value, and may talk to each other.
func TestNetworkProfileEmptyLabel(t *testing.T) {
	in := baseInput(t)
	in.Profiles = append(in.Profiles, obj[v3.Profile](t, `
metadata: {name: net1}
spec: {ingress: [{action: Allow, source: {selector: has(net1)}}], egress: [{action: Allow}], labelsToApply: {net1: ""}}`))
	for _, w := range in.WorkloadEndpoints {
		w.Spec.Profiles = []string{"net1"}
	}
	run(t, in, []check{
		{tcp(web, client, 1), true, "egress[/net1/0:Allow] ingress[/net1/0:Allow]"},
		{tcp(office, client, 1), false, "ingress[//-1:Deny]"},
	})
}
