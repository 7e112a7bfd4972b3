package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	v3 "github.com/tortienet/tortie/api/v3"
)

func obj[T any](t *testing.T, doc string) *T {
	t.Helper()
	o := new(T)
	if err := yaml.UnmarshalStrict([]byte(doc), o); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if r, ok := any(o).(v3.Resource); ok {
		v3.Default(r)
	}
	return o
}

// The cluster: namespaces a (team x) and b (team y), each with a profile
// allowing everything, as Kubernetes' kns profiles do.
func baseInput(t *testing.T) Input {
	prof := func(ns, team string) *v3.Profile {
		return obj[v3.Profile](t, fmt.Sprintf(`
metadata: {name: kns.%s}
spec:
  ingress: [{action: Allow}]
  egress: [{action: Allow}]
  labelsToApply: {pcns.team: '%s', pcns.projectcalico.org/name: '%s'}`, ns, team, ns))
	}
	wep := func(ns, name, ip, labels, sa, ports string) *v3.WorkloadEndpoint {
		return obj[v3.WorkloadEndpoint](t, fmt.Sprintf(`
metadata: {name: %s, namespace: %s, labels: {%s}}
spec: {node: n1, orchestrator: k8s, pod: %s, endpoint: eth0, interfaceName: cali%s, ipNetworks: [%s/32],
       profiles: [kns.%s], serviceAccountName: %s, ports: [%s]}`, name, ns, labels, name, name, ip, ns, sa, ports))
	}
	return Input{
		Profiles: []*v3.Profile{prof("a", "x"), prof("b", "y"),
			obj[v3.Profile](t, `{metadata: {name: ksa.a.api}, spec: {labelsToApply: {pcsa.role: api}}}`)},
		WorkloadEndpoints: []*v3.WorkloadEndpoint{
			wep("a", "web", "10.0.0.1", "app: web", "api", "{name: http, protocol: TCP, port: 8080}"),
			wep("a", "db", "10.0.0.2", "app: db", "default", ""),
			wep("b", "client", "10.0.1.1", "app: client", "default", ""),
		},
		NetworkSets:       []*v3.NetworkSet{obj[v3.NetworkSet](t, `{metadata: {name: office, namespace: a, labels: {kind: office}}, spec: {nets: [192.168.9.0/24]}}`)},
		GlobalNetworkSets: []*v3.GlobalNetworkSet{obj[v3.GlobalNetworkSet](t, `{metadata: {name: dns, labels: {kind: dns}}, spec: {nets: [8.8.8.8]}}`)},
	}
}

var (
	web    = netip.MustParseAddr("10.0.0.1")
	db     = netip.MustParseAddr("10.0.0.2")
	client = netip.MustParseAddr("10.0.1.1")
	office = netip.MustParseAddr("192.168.9.7")
	google = netip.MustParseAddr("8.8.8.8")
)

func tcp(src, dst netip.Addr, port uint16) Packet {
	return Packet{Src: src, Dst: dst, Protocol: ProtoTCP, SrcPort: 40000, DstPort: port}
}

func ping(src, dst netip.Addr) Packet {
	return Packet{Src: src, Dst: dst, Protocol: ProtoICMP, ICMPType: 8}
}

// trace renders a verdict's steps compactly: "egress[...] ingress[...]".
func trace(v Verdict) string {
	var parts []string
	for _, d := range []*Decision{v.Egress, v.Ingress} {
		if d == nil {
			continue
		}
		var steps []string
		for _, s := range d.Steps {
			steps = append(steps, fmt.Sprintf("%s/%s/%d:%s", s.Tier, s.Policy, s.Rule, s.Action))
		}
		parts = append(parts, d.Direction.String()+"["+strings.Join(steps, " ")+"]")
	}
	return strings.Join(parts, " ")
}

type check struct {
	pkt   Packet
	allow bool
	trace string // "" = not checked
}

func run(t *testing.T, in Input, checks []check) {
	t.Helper()
	m := Build(in)
	if len(m.Problems) > 0 {
		t.Fatalf("problems: %v", m.Problems)
	}
	for i, c := range checks {
		v := m.Evaluate(c.pkt)
		if v.Allowed != c.allow {
			t.Errorf("check %d %v→%v: allowed = %v, want %v (%s)", i, c.pkt.Src, c.pkt.Dst, v.Allowed, c.allow, trace(v))
		}
		if c.trace != "" && trace(v) != c.trace {
			t.Errorf("check %d %v→%v: trace\n got %s\nwant %s", i, c.pkt.Src, c.pkt.Dst, trace(v), c.trace)
		}
	}
}
