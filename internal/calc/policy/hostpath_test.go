package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

var (
	hostIP   = netip.MustParseAddr("10.9.0.1")
	outsider = netip.MustParseAddr("203.0.113.5")
	blocked  = netip.MustParseAddr("198.51.100.7")
)

// hostInput is baseInput with host endpoints on n1: eth0 by name, and the
// all-interfaces endpoint, and the policies given.
func hostInput(t *testing.T, policies ...string) Input {
	in := baseInput(t)
	in.HostEndpoints = []*v3.HostEndpoint{
		obj[v3.HostEndpoint](t, `{metadata: {name: n1-eth0, labels: {role: edge}}, spec: {node: n1, interfaceName: eth0, expectedIPs: [10.9.0.1]}}`),
		obj[v3.HostEndpoint](t, `{metadata: {name: n1-all, labels: {role: any}}, spec: {node: n1, interfaceName: "*"}}`),
	}
	for _, doc := range policies {
		in.GlobalNetworkPolicies = append(in.GlobalNetworkPolicies, obj[v3.GlobalNetworkPolicy](t, doc))
	}
	return in
}

// pathTrace renders every decision of a path: "stage:endpoint/direction[steps]".
func pathTrace(v Verdict) string {
	var parts []string
	for _, d := range v.Path {
		var steps []string
		for _, s := range d.Steps {
			steps = append(steps, fmt.Sprintf("%s/%d:%s", s.Policy, s.Rule, s.Action))
		}
		parts = append(parts, fmt.Sprintf("%s:%s/%s[%s]", d.Stage, d.Endpoint, d.Direction, strings.Join(steps, " ")))
	}
	return strings.Join(parts, " ")
}

type pathCheck struct {
	pkt      Packet
	in, out  string // host endpoint keys ("" none)
	allow    bool
	trace    string // "" = not checked
	describe string
}

func runPaths(t *testing.T, in Input, checks []pathCheck) {
	t.Helper()
	m := Build(in)
	if len(m.Problems) > 0 {
		t.Fatalf("problems: %v", m.Problems)
	}
	hep := func(key string) *Entity {
		for _, e := range m.Entities {
			if e.Kind == HostEndpoint && e.Key == key {
				return e
			}
		}
		return nil
	}
	for _, c := range checks {
		v := m.EvaluatePath(c.pkt, Path{In: hep(c.in), Out: hep(c.out)})
		if v.Allowed != c.allow {
			t.Errorf("%s: allowed = %v, want %v (%s)", c.describe, v.Allowed, c.allow, pathTrace(v))
		}
		if c.trace != "" && pathTrace(v) != c.trace {
			t.Errorf("%s: trace\n got %s\nwant %s", c.describe, pathTrace(v), c.trace)
		}
	}
}

func TestHostEndpointStages(t *testing.T) {
	in := hostInput(t,
		`{metadata: {name: edge-in}, spec: {selector: role == 'edge', ingress: [{action: Allow, protocol: TCP, destination: {ports: [8080]}}], egress: [{action: Allow, protocol: UDP}]}}`,
		`{metadata: {name: edge-fwd}, spec: {selector: role == 'edge', applyOnForward: true, types: [Ingress], ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]}}`,
		`{metadata: {name: edge-prednat}, spec: {order: 1, selector: role == 'edge', preDNAT: true, applyOnForward: true, ingress: [
		   {action: Deny, source: {nets: [198.51.100.0/24]}},
		   {action: Allow, protocol: TCP, source: {nets: [203.0.113.0/24]}, destination: {ports: [9090, 81]}}]}}`,
		`{metadata: {name: edge-untracked}, spec: {order: 1, selector: role == 'edge', doNotTrack: true, applyOnForward: true,
		   ingress: [{action: Allow, protocol: UDP, destination: {ports: [53]}}], egress: [{action: Allow, protocol: UDP, source: {ports: [53]}}]}}`,
	)
	udp := func(src, dst netip.Addr, sport, dport uint16) Packet {
		return Packet{Src: src, Dst: dst, Protocol: ProtoUDP, SrcPort: sport, DstPort: dport}
	}
	runPaths(t, in, []pathCheck{
		{pkt: tcp(outsider, hostIP, 8080), in: "n1-eth0", allow: true, describe: "to the host, allowed by normal policy",
			trace: "normal:n1-eth0/ingress[edge-in/0:Allow]"},
		{pkt: tcp(outsider, hostIP, 2222), in: "n1-eth0", allow: false, describe: "to the host, nothing allows: end of tier",
			trace: "normal:n1-eth0/ingress[/-1:Deny]"},
		{pkt: tcp(outsider, web, 8080), in: "n1-eth0", allow: false, describe: "forwarded to a workload: applyOnForward policy decides, not edge-in",
			trace: "forward:n1-eth0/ingress[/-1:Deny]"},
		{pkt: tcp(outsider, web, 80), in: "n1-eth0", allow: true, describe: "forwarded, allowed by the applyOnForward policy, then the workload's own",
			trace: "forward:n1-eth0/ingress[edge-fwd/0:Allow] normal:a/web/ingress[kns.a/0:Allow]"},
		{pkt: tcp(blocked, hostIP, 8080), in: "n1-eth0", allow: false, describe: "preDNAT deny, before normal policy",
			trace: "preDNAT:n1-eth0/ingress[edge-prednat/0:Deny]"},
		{pkt: tcp(outsider, hostIP, 9090), in: "n1-eth0", allow: true, describe: "preDNAT allow skips normal policy",
			trace: "preDNAT:n1-eth0/ingress[edge-prednat/1:Allow]"},
		{pkt: tcp(outsider, web, 81), in: "n1-eth0", allow: true, describe: "preDNAT allow skips the forward stage, not the workload's policy",
			trace: "preDNAT:n1-eth0/ingress[edge-prednat/1:Allow] normal:a/web/ingress[kns.a/0:Allow]"},
		{pkt: udp(outsider, hostIP, 40000, 53), in: "n1-eth0", allow: true, describe: "untracked allow skips every later stage",
			trace: "untracked:n1-eth0/ingress[edge-untracked/0:Allow]"},
		{pkt: udp(hostIP, outsider, 53, 40000), out: "n1-eth0", allow: true, describe: "untracked egress from the host",
			trace: "untracked:n1-eth0/egress[edge-untracked/0:Allow]"},
		{pkt: tcp(hostIP, outsider, 443), out: "n1-eth0", allow: false, describe: "from the host: normal egress, end of tier",
			trace: "normal:n1-eth0/egress[/-1:Deny]"},
		{pkt: tcp(web, outsider, 443), out: "n1-eth0", allow: true, describe: "a workload forwarded out: no applyOnForward egress policy, allowed",
			trace: "normal:a/web/egress[kns.a/0:Allow] forward:n1-eth0/egress[/-1:Allow]"},
	})
}

func TestAllInterfacesHostEndpoint(t *testing.T) {
	in := hostInput(t,
		`{metadata: {name: any-in}, spec: {selector: role == 'any', ingress: [{action: Allow, protocol: TCP, destination: {ports: [443]}}]}}`,
		`{metadata: {name: any-untracked}, spec: {selector: role == 'any', doNotTrack: true, applyOnForward: true, ingress: [{action: Deny}]}}`,
	)
	m := Build(in)
	for iface, want := range map[string]string{"": "", "eth0": "n1-eth0", "eth1": "n1-all", "bond0": "n1-all", "caliweb": "", "lo": ""} {
		got := ""
		if e := m.HostEndpointOn("n1", iface); e != nil {
			got = e.Key
		}
		if got != want {
			t.Errorf("HostEndpointOn(n1, %s) = %q, want %q", iface, got, want)
		}
	}
	if e := m.HostEndpointOn("n2", "eth1"); e != nil {
		t.Errorf("a host endpoint of n1 covers n2's eth1")
	}
	all := m.HostEndpointOn("n1", "eth1")
	if tp := m.ForStage(all, Untracked, Ingress); tp != nil {
		t.Errorf("an all-interfaces host endpoint has untracked policy: %v", tp)
	}
	runPaths(t, in, []pathCheck{
		{pkt: tcp(outsider, hostIP, 443), in: "n1-all", allow: true, describe: "all-interfaces: normal policy",
			trace: "normal:n1-all/ingress[any-in/0:Allow]"},
		{pkt: tcp(outsider, hostIP, 80), in: "n1-all", allow: false, describe: "all-interfaces: default deny"},
		{pkt: tcp(outsider, web, 80), in: "n1-all", allow: true, describe: "all-interfaces: forwarded traffic untouched without applyOnForward"},
	})
}

// Host endpoint flags do nothing to workloads: preDNAT and untracked
// policies that select one are not among its policies.
func TestHostStagesSkipWorkloads(t *testing.T) {
	in := hostInput(t,
		`{metadata: {name: wl-prednat}, spec: {selector: app == 'web', preDNAT: true, applyOnForward: true, ingress: [{action: Deny}]}}`,
		`{metadata: {name: wl-untracked}, spec: {selector: app == 'web', doNotTrack: true, applyOnForward: true, ingress: [{action: Deny}]}}`,
	)
	run(t, in, []check{{tcp(db, web, 80), true, "egress[/kns.a/0:Allow] ingress[/kns.a/0:Allow]"}})
}

func TestHostFlagCombinationsRefused(t *testing.T) {
	for doc, want := range map[string]string{
		`{metadata: {name: both}, spec: {selector: all(), preDNAT: true, doNotTrack: true, applyOnForward: true, ingress: [{action: Deny}]}}`: "spec.preDNAT = true: cannot be combined with doNotTrack",
		`{metadata: {name: nofwd}, spec: {selector: all(), doNotTrack: true, ingress: [{action: Deny}]}}`:                                     "spec.applyOnForward = false",
		`{metadata: {name: out}, spec: {selector: all(), preDNAT: true, applyOnForward: true, types: [Egress]}}`:                              "preDNAT policy cannot apply to Egress",
	} {
		m := Build(hostInput(t, doc))
		if len(m.Problems) != 1 || !strings.Contains(m.Problems[0], want) {
			t.Errorf("problems = %q, want one with %q", m.Problems, want)
		}
	}
}

// A staged deny-all is reported, not enforced: Evaluate and the program
// are what they are without it; Preview shows what it would do, and a
// staged Delete what deleting a policy would.
func TestStagedPoliciesAreNotEnforced(t *testing.T) {
	in := baseInput(t)
	in.NetworkPolicies = []*v3.NetworkPolicy{obj[v3.NetworkPolicy](t, `
metadata: {name: web-in, namespace: a}
spec: {selector: app == 'web', ingress: [{action: Allow, protocol: TCP, destination: {ports: [8080]}}]}`)}
	before := Build(in)
	in.StagedGlobalNetworkPolicies = []*v3.StagedGlobalNetworkPolicy{obj[v3.StagedGlobalNetworkPolicy](t, `
metadata: {name: deny-all}
spec: {selector: all(), types: [Ingress, Egress]}`)}
	in.StagedNetworkPolicies = []*v3.StagedNetworkPolicy{obj[v3.StagedNetworkPolicy](t, `
metadata: {name: web-in, namespace: a}
spec: {stagedAction: Delete}`)}
	m := Build(in)
	if len(m.Problems) > 0 || len(m.Staged) != 2 {
		t.Fatalf("problems %v, staged %d", m.Problems, len(m.Staged))
	}
	for _, pkt := range []Packet{tcp(client, web, 8080), tcp(client, web, 22), tcp(web, db, 5432), ping(db, client)} {
		if got, want := m.Evaluate(pkt), before.Evaluate(pkt); got.Allowed != want.Allowed || trace(got) != trace(want) {
			t.Errorf("%v→%v: staged policies changed the verdict: %s, was %s", pkt.Src, pkt.Dst, trace(got), trace(want))
		}
	}
	got, want := Compile(m, "n1"), Compile(before, "n1")
	if fmt.Sprint(got.Chains, got.Rules, got.Endpoints) != fmt.Sprint(want.Chains, want.Rules, want.Endpoints) {
		t.Errorf("staged policies changed the program")
	}
	pv := m.Preview()
	if v := pv.Evaluate(tcp(client, web, 8080)); v.Allowed || trace(v) != "egress[default//-1:Deny]" {
		t.Errorf("preview: %s, want the staged deny-all's end of tier", trace(v))
	}
	in.StagedGlobalNetworkPolicies = nil
	if v := Build(in).Preview().Evaluate(tcp(client, web, 22)); !v.Allowed {
		t.Errorf("preview of deleting web-in: %s, want web's profile to allow", trace(v))
	}
}

// Untracked egress policy applies to traffic forwarded out of the host
// endpoint too: a Deny drops it, an Allow skips the endpoint's forward
// stage (not the workload's own policy).
func TestUntrackedEgressOnForwarded(t *testing.T) {
	in := hostInput(t,
		`{metadata: {name: edge-fwd-out}, spec: {selector: role == 'edge', applyOnForward: true, types: [Egress]}}`,
		`{metadata: {name: edge-untracked-out}, spec: {order: 1, selector: role == 'edge', doNotTrack: true, applyOnForward: true, egress: [
		   {action: Deny, destination: {nets: [198.51.100.0/24]}},
		   {action: Allow, protocol: TCP, destination: {ports: [443]}}]}}`,
	)
	runPaths(t, in, []pathCheck{
		{pkt: tcp(web, blocked, 80), out: "n1-eth0", allow: false, describe: "a workload forwarded out: the untracked deny",
			trace: "normal:a/web/egress[kns.a/0:Allow] untracked:n1-eth0/egress[edge-untracked-out/0:Deny]"},
		{pkt: tcp(web, outsider, 443), out: "n1-eth0", allow: true, describe: "an untracked allow skips the forward stage's deny",
			trace: "normal:a/web/egress[kns.a/0:Allow] untracked:n1-eth0/egress[edge-untracked-out/1:Allow]"},
		{pkt: tcp(web, outsider, 80), out: "n1-eth0", allow: false, describe: "undecided by untracked policy: the forward stage's end of tier",
			trace: "normal:a/web/egress[kns.a/0:Allow] forward:n1-eth0/egress[/-1:Deny]"},
		{pkt: tcp(outsider, blocked, 443), in: "n1-all", out: "n1-eth0", allow: false, describe: "host interface to host interface: the leaving endpoint's untracked deny"},
		{pkt: tcp(hostIP, blocked, 2379), out: "n1-eth0", allow: true, describe: "from the host: a failsafe port skips the untracked stage"},
	})
}

func TestPathBetween(t *testing.T) {
	in := hostInput(t)
	in.HostEndpoints = append(in.HostEndpoints,
		obj[v3.HostEndpoint](t, `{metadata: {name: n1-eth1}, spec: {node: n1, interfaceName: eth1, expectedIPs: [10.8.0.1]}}`),
		obj[v3.HostEndpoint](t, `{metadata: {name: n2-eth0}, spec: {node: n2, interfaceName: eth0, expectedIPs: [10.9.0.2]}}`))
	m := Build(in)
	key := func(e *Entity) string {
		if e == nil {
			return "-"
		}
		return e.Key
	}
	n1eth1, n2 := netip.MustParseAddr("10.8.0.1"), netip.MustParseAddr("10.9.0.2")
	for _, c := range []struct {
		src, dst netip.Addr
		want     string
		ownHost  bool
	}{
		{outsider, hostIP, "in n1-eth0 out -", false},
		{hostIP, outsider, "in - out n1-eth0", false},
		{hostIP, n2, "in n2-eth0 out n1-eth0", false},
		{hostIP, n1eth1, "in - out -", false}, // the host to itself
		{web, hostIP, "in - out -", true},     // a workload of n1 to its own host
		{hostIP, web, "in - out -", false},    // n1 to its own workload
		{web, n2, "in n2-eth0 out -", false},  // a workload to another host
		{outsider, web, "in - out -", false},  // addresses do not tell
	} {
		p := m.PathBetween(c.src, c.dst)
		if got := "in " + key(p.In) + " out " + key(p.Out); got != c.want {
			t.Errorf("%v → %v: %s, want %s", c.src, c.dst, got, c.want)
		}
		if got := m.ToOwnHost(c.src, c.dst); got != c.ownHost {
			t.Errorf("%v → %v: ToOwnHost = %v", c.src, c.dst, got)
		}
	}
}
