package v3

import (
	"fmt"
	"strings"
	"testing"
)

func tcp() *Protocol              { p := ProtocolFromString("TCP"); return &p }
func proto(name string) *Protocol { p := ProtocolFromString(name); return &p }
func protoNum(n int) *Protocol    { p := ProtocolFromInt(n); return &p }
func rules(n int, r Rule) []Rule {
	out := make([]Rule, n)
	for i := range out {
		out[i] = r
	}
	return out
}

// TestValidateRules covers Rule and EntityRule, inside a NetworkPolicy.
func TestValidateRules(t *testing.T) {
	type N = *NetworkPolicy
	base := func() N {
		return &NetworkPolicy{ObjectMeta: ObjectMeta{Name: "allow-web", Namespace: "prod"}, Spec: NetworkPolicySpec{
			Selector: "app == 'web'",
			Ingress:  []Rule{{Action: Allow, Protocol: tcp(), Destination: EntityRule{Ports: []Port{SinglePort(80)}}}},
		}}
	}
	in0 := func(n N) *Rule { return &n.Spec.Ingress[0] }
	nets := func(k int) []string {
		out := make([]string, k)
		for i := range out {
			out[i] = fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
		}
		return out
	}
	cases := []vcase[N]{
		ok("actions", func(n N) {
			n.Spec.Egress = []Rule{{Action: Deny}, {Action: Log}, {Action: Pass}, {Action: Allow}}
			n.Spec.Types = []PolicyType{PolicyTypeIngress, PolicyTypeEgress}
		}),
		bad("action required", "spec.ingress[0].action", "is required", func(n N) { in0(n).Action = "" }),
		bad("action enum", "spec.ingress[0].action", `"allow"`, func(n N) { in0(n).Action = "allow" }),
		ok("ipVersion 6", func(n N) { in0(n).IPVersion = ptr(6) }),
		bad("ipVersion", "spec.ingress[0].ipVersion", "5", func(n N) { in0(n).IPVersion = ptr(5) }),
		ok("protocols", func(n N) {
			n.Spec.Ingress = []Rule{{Action: Allow, Protocol: proto("UDPLite")}, {Action: Allow, Protocol: protoNum(255)}, {Action: Allow, NotProtocol: proto("SCTP")}}
		}),
		bad("protocol name", "spec.ingress[0].protocol", `"tcp"`, func(n N) { in0(n).Protocol = proto("tcp") }),
		bad("protocol number 0", "spec.ingress[0].protocol", "0", func(n N) { in0(n).Protocol = protoNum(0); in0(n).Destination.Ports = nil }),
		bad("protocol number 256", "spec.ingress[0].protocol", "256", func(n N) { in0(n).Protocol = protoNum(256); in0(n).Destination.Ports = nil }),
		bad("notProtocol", "spec.ingress[0].notProtocol", `"GRE"`, func(n N) { in0(n).NotProtocol = proto("GRE") }),
		ok("icmp", func(n N) {
			n.Spec.Ingress = []Rule{
				{Action: Allow, Protocol: proto("ICMP"), IPVersion: ptr(4), ICMP: &ICMPFields{Type: ptr(8), Code: ptr(0)}},
				{Action: Allow, Protocol: protoNum(58), IPVersion: ptr(6), NotICMP: &ICMPFields{Type: ptr(254), Code: ptr(255)}},
			}
		}),
		bad("icmp without protocol", "spec.ingress[0].icmp", "requires protocol ICMP", func(n N) { in0(n).ICMP = &ICMPFields{Type: ptr(8)} }),
		bad("notICMP without protocol", "spec.ingress[0].notICMP", "requires protocol ICMP", func(n N) { in0(n).NotICMP = &ICMPFields{Type: ptr(8)} }),
		bad("icmp type 255", "spec.ingress[0].icmp.type", "255", func(n N) { *in0(n) = Rule{Action: Allow, Protocol: proto("ICMP"), ICMP: &ICMPFields{Type: ptr(255)}} }),
		bad("icmp code 256", "spec.ingress[0].icmp.code", "256", func(n N) {
			*in0(n) = Rule{Action: Allow, Protocol: proto("ICMP"), ICMP: &ICMPFields{Type: ptr(3), Code: ptr(256)}}
		}),
		bad("icmp code without type", "spec.ingress[0].notICMP.code", "1", func(n N) { *in0(n) = Rule{Action: Allow, Protocol: proto("ICMP"), NotICMP: &ICMPFields{Code: ptr(1)}} }),
		bad("ICMP with ipVersion 6", "spec.ingress[0].protocol", `"ICMP"`, func(n N) { *in0(n) = Rule{Action: Allow, Protocol: proto("ICMP"), IPVersion: ptr(6)} }),
		bad("ICMPv6 with ipVersion 4", "spec.ingress[0].notProtocol", `"58"`, func(n N) { *in0(n) = Rule{Action: Allow, NotProtocol: protoNum(58), IPVersion: ptr(4)} }),
		ok("ports with UDP, SCTP, 6, 17, 132", func(n N) {
			p := []Port{SinglePort(53), PortRange(1000, 2000), NamedPort("dns-tcp")}
			n.Spec.Ingress = []Rule{
				{Action: Allow, Protocol: proto("UDP"), Source: EntityRule{Ports: p}},
				{Action: Allow, Protocol: proto("SCTP"), Destination: EntityRule{NotPorts: p}},
				{Action: Allow, Protocol: protoNum(6), Destination: EntityRule{Ports: p}},
				{Action: Allow, Protocol: protoNum(17), Destination: EntityRule{Ports: p}},
				{Action: Allow, Protocol: protoNum(132), Destination: EntityRule{Ports: p}},
			}
		}),
		bad("ports without protocol", "spec.ingress[0].destination.ports", "require protocol", func(n N) { in0(n).Protocol = nil }),
		bad("ports with ICMP", "spec.ingress[0].source.notPorts", "require protocol", func(n N) {
			*in0(n) = Rule{Action: Allow, Protocol: proto("ICMP"), Source: EntityRule{NotPorts: []Port{SinglePort(1)}}}
		}),
		bad("ports with notProtocol only", "spec.ingress[0].destination.ports", "require protocol", func(n N) { in0(n).Protocol, in0(n).NotProtocol = nil, tcp() }),
		bad("port range order", "spec.ingress[0].destination.ports[1]", `"90:80"`, func(n N) { in0(n).Destination.Ports = []Port{SinglePort(1), PortRange(90, 80)} }),
		bad("port 0", "spec.ingress[0].destination.ports[0]", `"0"`, func(n N) { in0(n).Destination.Ports = []Port{SinglePort(0)} }),
		bad("port name", "spec.ingress[0].destination.notPorts[0]", `"HTTP"`, func(n N) { in0(n).Destination.NotPorts = []Port{NamedPort("HTTP")} }),
		bad("port name digits only", "spec.ingress[0].destination.ports[0]", `"80a-"`, func(n N) { in0(n).Destination.Ports = []Port{NamedPort("80a-")} }),
		bad("port name too long", "spec.ingress[0].destination.ports[0]", `"abcdefghijklmnop"`, func(n N) { in0(n).Destination.Ports = []Port{NamedPort("abcdefghijklmnop")} }),
		bad("port name without letter", "spec.ingress[0].destination.ports[0]", `"12-34"`, func(n N) { in0(n).Destination.Ports = []Port{NamedPort("12-34")} }),
		bad("net with zone", "spec.ingress[0].source.nets[0]", `"fe80::1%eth0"`, func(n N) { in0(n).Source.Nets = []string{"fe80::1%eth0"} }),
		ok("50 ports", func(n N) { in0(n).Destination.Ports = make([]Port, 50); fillPorts(in0(n).Destination.Ports) }),
		bad("51 ports", "spec.ingress[0].destination.ports", "has 51", func(n N) { in0(n).Destination.Ports = make([]Port, 51); fillPorts(in0(n).Destination.Ports) }),
		ok("nets", func(n N) {
			in0(n).Source = EntityRule{Nets: []string{"10.0.0.0/8", "192.168.1.1"}, NotNets: []string{"10.1.0.0/16"}}
			in0(n).Destination.Nets, in0(n).Destination.NotNets = []string{"172.16.0.0/12"}, []string{"172.16.1.1/32"}
		}),
		ok("256 nets", func(n N) { in0(n).Source.Nets = nets(256) }),
		bad("257 nets", "spec.ingress[0].source.nets", "has 257", func(n N) { in0(n).Source.Nets = nets(257) }),
		bad("net not masked", "spec.ingress[0].source.nets[0]", "did you mean 10.0.0.0/8?", func(n N) { in0(n).Source.Nets = []string{"10.1.2.3/8"} }),
		bad("net garbage", "spec.ingress[0].destination.notNets[0]", `"any"`, func(n N) { in0(n).Destination.NotNets = []string{"any"} }),
		bad("mixed families", "spec.ingress[0]", "mixes IPv4 and IPv6", func(n N) { in0(n).Source.Nets, in0(n).Destination.Nets = []string{"10.0.0.0/8"}, []string{"fd00::/8"} }),
		bad("net vs ipVersion", "spec.ingress[0].source.notNets[0]", `"fd00::/8"`, func(n N) { in0(n).IPVersion, in0(n).Source.NotNets = ptr(4), []string{"fd00::/8"} }),
		ok("selectors", func(n N) {
			in0(n).Source = EntityRule{Selector: "role == 'fe'", NotSelector: "has(test)", NamespaceSelector: "global()"}
		}),
		bad("selector syntax", "spec.ingress[0].source.selector", `"role = 'fe'"`, func(n N) { in0(n).Source.Selector = "role = 'fe'" }),
		bad("selector global", "spec.ingress[0].source.selector", `"global()"`, func(n N) { in0(n).Source.Selector = "global()" }),
		bad("notSelector global", "spec.ingress[0].destination.notSelector", `"global()"`, func(n N) { in0(n).Destination.NotSelector = "global()" }),
		bad("namespaceSelector syntax", "spec.ingress[0].source.namespaceSelector", `"all("`, func(n N) { in0(n).Source.NamespaceSelector = "all(" }),
		bad("selector too long", "spec.ingress[0].source.selector", "at most 1024", func(n N) { in0(n).Source.Selector = "has(" + strings.Repeat("a", 1021) + ")" }),
		ok("service accounts", func(n N) {
			in0(n).Source.ServiceAccounts = &ServiceAccountMatch{Names: []string{"api"}, Selector: "team == 'a'"}
		}),
		bad("service account selector", "spec.ingress[0].source.serviceAccounts.selector", `"team =="`, func(n N) { in0(n).Source.ServiceAccounts = &ServiceAccountMatch{Selector: "team =="} }),
		bad("service account name", "spec.ingress[0].source.serviceAccounts.names[0]", `"API"`, func(n N) { in0(n).Source.ServiceAccounts = &ServiceAccountMatch{Names: []string{"API"}} }),
		ok("services", func(n N) {
			n.Spec.Egress = []Rule{{Action: Allow, Destination: EntityRule{Services: &ServiceMatch{Name: "kubernetes", Namespace: "default"}}}}
			in0(n).Source.Services = &ServiceMatch{Name: "frontend"}
			n.Spec.Types = []PolicyType{PolicyTypeIngress, PolicyTypeEgress}
		}),
		bad("service name required", "spec.ingress[0].source.services.name", "is required", func(n N) { in0(n).Source.Services = &ServiceMatch{Namespace: "x"} }),
		bad("service namespace", "spec.ingress[0].source.services.namespace", `"X"`, func(n N) { in0(n).Source.Services = &ServiceMatch{Name: "a", Namespace: "X"} }),
		bad("services with selector", "spec.ingress[0].source.selector", "cannot be combined with services", func(n N) {
			in0(n).Source = EntityRule{Services: &ServiceMatch{Name: "a"}, Selector: "all()"}
		}),
		bad("services with notSelector", "spec.ingress[0].source.notSelector", "services", func(n N) {
			in0(n).Source = EntityRule{Services: &ServiceMatch{Name: "a"}, NotSelector: "all()"}
		}),
		bad("services with nets", "spec.ingress[0].source.nets", "services", func(n N) {
			in0(n).Source = EntityRule{Services: &ServiceMatch{Name: "a"}, Nets: []string{"10.0.0.0/8"}}
		}),
		bad("services with notNets", "spec.ingress[0].source.notNets", "services", func(n N) {
			in0(n).Source = EntityRule{Services: &ServiceMatch{Name: "a"}, NotNets: []string{"10.0.0.0/8"}}
		}),
		bad("services with namespaceSelector", "spec.ingress[0].source.namespaceSelector", "services", func(n N) {
			in0(n).Source = EntityRule{Services: &ServiceMatch{Name: "a"}, NamespaceSelector: "all()"}
		}),
		bad("services with serviceAccounts", "spec.ingress[0].source.serviceAccounts", "services", func(n N) {
			in0(n).Source = EntityRule{Services: &ServiceMatch{Name: "a"}, ServiceAccounts: &ServiceAccountMatch{Names: []string{"x"}}}
		}),
		bad("destination services with ports", "spec.ingress[0].destination.ports", "destination services", func(n N) {
			in0(n).Destination.Services = &ServiceMatch{Name: "a"}
		}),
		ok("http", func(n N) {
			in0(n).HTTP = &HTTPMatch{Methods: []string{"GET", "PUT"}, Paths: []HTTPPath{{Exact: "/a"}, {Prefix: "/b/"}}}
		}),
		bad("http on Deny", "spec.ingress[0].http", "only allowed on Allow", func(n N) { in0(n).Action = Deny; in0(n).HTTP = &HTTPMatch{} }),
		bad("http with UDP", "spec.ingress[0].protocol", `"UDP"`, func(n N) { in0(n).Protocol = proto("UDP"); in0(n).HTTP = &HTTPMatch{} }),
		bad("http duplicate methods", "spec.ingress[0].http.methods", `"GET" "GET"`, func(n N) { in0(n).HTTP = &HTTPMatch{Methods: []string{"GET", "GET"}} }),
		bad("http too many methods", "spec.ingress[0].http.methods", "at most 20", func(n N) {
			in0(n).HTTP = &HTTPMatch{Methods: make([]string, 21)}
			for i := range in0(n).HTTP.Methods {
				in0(n).HTTP.Methods[i] = strings.Repeat("M", i+1)
			}
		}),
		bad("http too many paths", "spec.ingress[0].http.paths", "at most 20", func(n N) {
			in0(n).HTTP = &HTTPMatch{Paths: make([]HTTPPath, 21)}
			for i := range in0(n).HTTP.Paths {
				in0(n).HTTP.Paths[i] = HTTPPath{Exact: "/"}
			}
		}),
		bad("http path too long", "spec.ingress[0].http.paths[0]", "at most 1024", func(n N) {
			in0(n).HTTP = &HTTPMatch{Paths: []HTTPPath{{Prefix: "/" + strings.Repeat("a", 1024)}}}
		}),
		bad("http path both", "spec.ingress[0].http.paths[0]", `"/a/b"`, func(n N) { in0(n).HTTP = &HTTPMatch{Paths: []HTTPPath{{Exact: "/a", Prefix: "/b"}}} }),
		bad("http path neither", "spec.ingress[0].http.paths[0]", "exact or prefix", func(n N) { in0(n).HTTP = &HTTPMatch{Paths: []HTTPPath{{}}} }),
		bad("http path form", "spec.ingress[0].http.paths[1]", `"/a?b"`, func(n N) { in0(n).HTTP = &HTTPMatch{Paths: []HTTPPath{{Exact: "/"}, {Prefix: "/a?b"}}} }),
		bad("http path relative", "spec.ingress[0].http.paths[0]", `"a"`, func(n N) { in0(n).HTTP = &HTTPMatch{Paths: []HTTPPath{{Exact: "a"}}} }),
		ok("rule metadata", func(n N) { in0(n).Metadata = &RuleMetadata{Annotations: map[string]string{"note": "x"}} }),
		bad("rule metadata key", "spec.ingress[0].metadata.annotations", `"-x"`, func(n N) { in0(n).Metadata = &RuleMetadata{Annotations: map[string]string{"-x": "y"}} }),
		ok("1024 rules", func(n N) { n.Spec.Ingress = rules(1024, Rule{Action: Allow}) }),
		bad("1025 rules", "spec.ingress", "has 1025", func(n N) { n.Spec.Ingress = rules(1025, Rule{Action: Allow}) }),
		bad("1025 egress rules", "spec.egress", "has 1025", func(n N) { n.Spec.Egress = rules(1025, Rule{Action: Allow}) }),
	}
	runCases(t, base, cases)
}

func fillPorts(p []Port) {
	for i := range p {
		p[i] = SinglePort(uint16(i + 1))
	}
}

func TestValidateNetworkPolicy(t *testing.T) {
	type N = *NetworkPolicy
	base := func() N {
		return &NetworkPolicy{ObjectMeta: ObjectMeta{Name: "np", Namespace: "prod"}, Spec: NetworkPolicySpec{Selector: "app == 'web'"}}
	}
	runCases(t, base, []vcase[N]{
		ok("order and tier", func(n N) { n.Spec.Order, n.Spec.Tier = ptr(100.5), "security" }),
		bad("tier name", "spec.tier", `"Security"`, func(n N) { n.Spec.Tier = "Security" }),
		bad("tier required", "spec.tier", "is required", func(n N) { n.Spec.Tier = "" }),
		ok("selector all()", func(n N) { n.Spec.Selector = "all()" }),
		bad("selector syntax", "spec.selector", `"app in {"`, func(n N) { n.Spec.Selector = "app in {" }),
		bad("selector global", "spec.selector", `"global()"`, func(n N) { n.Spec.Selector = "global()" }),
		bad("selector too long", "spec.selector", "at most 1024", func(n N) { n.Spec.Selector = "has(" + strings.Repeat("a", 1100) + ")" }),
		ok("serviceAccountSelector", func(n N) { n.Spec.ServiceAccountSelector = "role == 'x'" }),
		bad("serviceAccountSelector", "spec.serviceAccountSelector", `"role =="`, func(n N) { n.Spec.ServiceAccountSelector = "role ==" }),
		ok("types both", func(n N) { n.Spec.Types = []PolicyType{PolicyTypeEgress, PolicyTypeIngress} }),
		bad("types enum", "spec.types[0]", `"ingress"`, func(n N) { n.Spec.Types = []PolicyType{"ingress"} }),
		bad("types duplicate", "spec.types", `"Ingress" "Ingress"`, func(n N) { n.Spec.Types = []PolicyType{PolicyTypeIngress, PolicyTypeIngress} }),
		bad("types required", "spec.types", "is required", func(n N) { n.Spec.Types = nil }),
		ok("performance hints", func(n N) { n.Spec.PerformanceHints = []PolicyPerformanceHint{PerfHintAssumeNeededOnEveryNode} }),
		bad("performance hint enum", "spec.performanceHints[0]", `"Fast"`, func(n N) { n.Spec.PerformanceHints = []PolicyPerformanceHint{"Fast"} }),
		bad("performance hint twice", "spec.performanceHints", "twice", func(n N) {
			n.Spec.PerformanceHints = []PolicyPerformanceHint{PerfHintAssumeNeededOnEveryNode, PerfHintAssumeNeededOnEveryNode}
		}),
	})
}

func TestValidateGlobalNetworkPolicy(t *testing.T) {
	type G = *GlobalNetworkPolicy
	base := func() G {
		return &GlobalNetworkPolicy{ObjectMeta: ObjectMeta{Name: "gnp"}, Spec: GlobalNetworkPolicySpec{Selector: "has(host)"}}
	}
	allow := []Rule{{Action: Allow}}
	runCases(t, base, []vcase[G]{
		ok("namespaceSelector", func(g G) { g.Spec.NamespaceSelector = "team == 'a'" }),
		bad("namespaceSelector syntax", "spec.namespaceSelector", `"team"`, func(g G) { g.Spec.NamespaceSelector = "team" }),
		bad("namespaceSelector global", "spec.namespaceSelector", `"global()"`, func(g G) { g.Spec.NamespaceSelector = "global()" }),
		bad("selector global", "spec.selector", `"global()"`, func(g G) { g.Spec.Selector = "global()" }),
		bad("rules validated", "spec.egress[0].action", `"Accept"`, func(g G) { g.Spec.Egress = []Rule{{Action: "Accept"}} }),
		ok("doNotTrack", func(g G) { g.Spec.DoNotTrack, g.Spec.ApplyOnForward = true, true }),
		ok("preDNAT", func(g G) { g.Spec.PreDNAT, g.Spec.ApplyOnForward, g.Spec.Ingress = true, true, allow }),
		bad("doNotTrack and preDNAT", "spec.preDNAT", "doNotTrack", func(g G) { g.Spec.DoNotTrack, g.Spec.PreDNAT, g.Spec.ApplyOnForward = true, true, true }),
		bad("doNotTrack needs applyOnForward", "spec.applyOnForward", "false", func(g G) { g.Spec.DoNotTrack = true }),
		bad("preDNAT needs applyOnForward", "spec.applyOnForward", "false", func(g G) { g.Spec.PreDNAT = true }),
		bad("preDNAT egress rules", "spec.egress", "has 1", func(g G) {
			g.Spec.PreDNAT, g.Spec.ApplyOnForward, g.Spec.Egress, g.Spec.Types = true, true, allow, []PolicyType{PolicyTypeIngress}
		}),
		bad("preDNAT egress type", "spec.types[1]", `"Egress"`, func(g G) {
			g.Spec.PreDNAT, g.Spec.ApplyOnForward, g.Spec.Types = true, true, []PolicyType{PolicyTypeIngress, PolicyTypeEgress}
		}),
		ok("name is a subdomain", func(g G) { g.Name = "allow.dns" }),
	})
}

func TestValidateTier(t *testing.T) {
	type T = *Tier
	runCases(t, func() T { return &Tier{ObjectMeta: ObjectMeta{Name: "security"}, Spec: TierSpec{Order: ptr(100.0)}} }, []vcase[T]{
		ok("Pass", func(tr T) { a := Pass; tr.Spec.DefaultAction = &a }),
		ok("no order", func(tr T) { tr.Spec.Order = nil }),
		bad("defaultAction enum", "spec.defaultAction", `"Allow"`, func(tr T) { a := Allow; tr.Spec.DefaultAction = &a }),
		bad("defaultAction required", "spec.defaultAction", "is required", func(tr T) { tr.Spec.DefaultAction = nil }),
		bad("default tier order", "spec.order", "100: must be 1000000", func(tr T) { tr.Name = "default" }),
		bad("default tier action", "spec.defaultAction", `"Pass"`, func(tr T) { a := Pass; tr.Name, tr.Spec.Order, tr.Spec.DefaultAction = "default", ptr(1e6), &a }),
		bad("kube-admin order", "spec.order", "must be 1000", func(tr T) { a := Pass; tr.Name, tr.Spec.DefaultAction = "kube-admin", &a }),
		bad("kube-baseline action", "spec.defaultAction", `"Deny"`, func(tr T) { tr.Name, tr.Spec.Order = "kube-baseline", ptr(1e7) }),
	})
}

func TestValidateProfile(t *testing.T) {
	type P = *Profile
	runCases(t, func() P {
		return &Profile{ObjectMeta: ObjectMeta{Name: "kns.prod"}, Spec: ProfileSpec{
			Ingress: []Rule{{Action: Allow, Source: EntityRule{Selector: "has(ca-net)"}}}, Egress: []Rule{{Action: Allow}},
		}}
	}, []vcase[P]{
		ok("labelsToApply", func(p P) {
			p.Spec.LabelsToApply = map[string]string{"pcns.projectcalico.org/name": "prod", "ca-net": ""}
		}),
		bad("labelsToApply key", "spec.labelsToApply", `"bad key"`, func(p P) { p.Spec.LabelsToApply = map[string]string{"bad key": ""} }),
		bad("labelsToApply value", "spec.labelsToApply[k]", `"-v"`, func(p P) { p.Spec.LabelsToApply = map[string]string{"k": "-v"} }),
		bad("ingress rule", "spec.ingress[0].source.selector", `"has("`, func(p P) { p.Spec.Ingress[0].Source.Selector = "has(" }),
		bad("egress rule", "spec.egress[0].action", "is required", func(p P) { p.Spec.Egress[0].Action = "" }),
		bad("pass in a profile", "spec.egress[0].action", "Pass is not allowed in a Profile", func(p P) { p.Spec.Egress[0].Action = Pass }),
	})
}
