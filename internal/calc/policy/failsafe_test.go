package policy

import (
	"fmt"
	"net/netip"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

func TestFailsafesFrom(t *testing.T) {
	def := DefaultFailsafes()
	list := func(ps ...v3.ProtoPort) *[]v3.ProtoPort { return &ps }
	for _, c := range []struct {
		in, out  *[]v3.ProtoPort
		want     string
		describe string
	}{
		{nil, nil, fmt.Sprint(def.In, def.Out), "not set: Calico's defaults"},
		{list(), nil, fmt.Sprint([]ProtoPort{}, def.Out), "empty in (Felix's none): no inbound failsafe"},
		{nil, list(), fmt.Sprint(def.In, []ProtoPort{}), "empty out: no outbound failsafe"},
		{list(v3.ProtoPort{Port: 22}, v3.ProtoPort{Protocol: "UDP", Port: 53, Net: "10.0.0.0/8"}), list(v3.ProtoPort{Protocol: "sctp", Port: 9, Net: "192.0.2.7"}),
			"[{tcp 22 invalid Prefix} {udp 53 10.0.0.0/8}] [{sctp 9 192.0.2.7/32}]", "protocol defaults to tcp, upper case read, a bare address is a /32"},
		{list(v3.ProtoPort{Protocol: "icmp", Port: 1}, v3.ProtoPort{Port: 70000}, v3.ProtoPort{Port: 22, Net: "fd00::/8"}, v3.ProtoPort{Port: 23, Net: "bad"}), nil,
			fmt.Sprint([]ProtoPort{}, def.Out), "what validation refuses, and IPv6 nets, are left out"},
	} {
		f := FailsafesFrom(c.in, c.out)
		if got := fmt.Sprint(f.In, f.Out); got != c.want {
			t.Errorf("%s: got %s, want %s", c.describe, got, c.want)
		}
	}
}

// A deny-all host endpoint policy in every stage never closes the
// failsafe ports: the node keeps its SSH and its datastore.
func TestFailsafesBeforeHostPolicy(t *testing.T) {
	in := hostInput(t,
		`{metadata: {name: deny-all}, spec: {selector: role == 'edge', types: [Ingress, Egress]}}`,
		`{metadata: {name: deny-untracked}, spec: {selector: role == 'edge', doNotTrack: true, applyOnForward: true, ingress: [{action: Deny}], egress: [{action: Deny}]}}`,
		`{metadata: {name: deny-prednat}, spec: {selector: role == 'edge', preDNAT: true, applyOnForward: true, ingress: [{action: Deny}]}}`,
	)
	m := Build(in)
	eth0 := m.HostEndpointOn("n1", "eth0")
	udp := func(src, dst netip.Addr, sport, dport uint16) Packet {
		return Packet{Src: src, Dst: dst, Protocol: ProtoUDP, SrcPort: sport, DstPort: dport}
	}
	custom := FailsafesFrom(&[]v3.ProtoPort{{Port: 22, Net: "203.0.113.0/24"}}, &[]v3.ProtoPort{})
	none := FailsafesFrom(&[]v3.ProtoPort{}, &[]v3.ProtoPort{})
	for _, c := range []struct {
		pkt      Packet
		in, out  bool // through eth0
		fs       *Failsafes
		allow    bool
		trace    string
		describe string
	}{
		{tcp(outsider, hostIP, 22), true, false, nil, true, "normal:n1-eth0/ingress[/-1:Allow]", "SSH to the host: failsafe, before every stage"},
		{tcp(outsider, hostIP, 2379), true, false, nil, true, "", "the datastore's port to the host"},
		{udp(outsider, hostIP, 40000, 68), true, false, nil, true, "", "DHCP to the host"},
		{tcp(outsider, hostIP, 8080), true, false, nil, false, "untracked:n1-eth0/ingress[deny-untracked/0:Deny]", "another port: the untracked deny"},
		{tcp(hostIP, outsider, 2379), false, true, nil, true, "normal:n1-eth0/egress[/-1:Allow]", "from the host to a datastore"},
		{udp(hostIP, outsider, 40000, 53), false, true, nil, true, "", "DNS from the host"},
		{tcp(hostIP, outsider, 22), false, true, nil, false, "", "SSH out is not a default outbound failsafe"},
		{udp(outsider, hostIP, 53, 40000), true, false, nil, false, "preDNAT:n1-eth0/ingress[deny-prednat/0:Deny]",
			"a DNS answer skips the untracked stage (it is left to conntrack), not the preDNAT one"},
		{tcp(outsider, web, 22), true, false, nil, true, "forward:n1-eth0/ingress[/-1:Allow] normal:a/web/ingress[kns.a/0:Allow]",
			"forwarded to a workload on 22: skips untracked and preDNAT; the forward stage has no failsafe (and no policy here)"},
		{tcp(outsider, hostIP, 22), true, false, &custom, true, "", "custom: SSH from the allowed net"},
		{tcp(blocked, hostIP, 22), true, false, &custom, false, "", "custom: SSH from elsewhere"},
		{tcp(outsider, hostIP, 2379), true, false, &custom, false, "", "custom: the default ports are gone"},
		{tcp(outsider, hostIP, 22), true, false, &none, false, "", "none: SSH is closed by the untracked deny"},
		{tcp(hostIP, outsider, 2379), false, true, &none, false, "", "none: the datastore too"},
	} {
		path := Path{Failsafes: c.fs}
		if c.in {
			path.In = eth0
		}
		if c.out {
			path.Out = eth0
		}
		v := m.EvaluatePath(c.pkt, path)
		if v.Allowed != c.allow {
			t.Errorf("%s: allowed = %v, want %v (%s)", c.describe, v.Allowed, c.allow, pathTrace(v))
		}
		if c.trace != "" && pathTrace(v) != c.trace {
			t.Errorf("%s: trace\n got %s\nwant %s", c.describe, pathTrace(v), c.trace)
		}
	}
}

func TestParseFailsafes(t *testing.T) {
	for in, want := range map[string]string{
		"none":                           "[]",
		" NONE ":                         "[]",
		"":                               "[]",
		"22, udp:68,tcp:179":             "[{tcp 22 invalid Prefix} {udp 68 invalid Prefix} {tcp 179 invalid Prefix}]",
		"tcp:10.0.0.0/8:22,10.1.2.3:443": "[{tcp 22 10.0.0.0/8} {tcp 443 10.1.2.3/32}]",
		"SCTP:9":                         "[{sctp 9 invalid Prefix}]",
		"icmp:8":                         `error: entry "icmp:8": net "icmp": want an IPv4 CIDR`,
		"tcp:70000":                      `error: entry "tcp:70000": port "70000": want a number from 0 to 65535`,
		"tcp:a:b:c":                      `error: entry "tcp:a:b:c": want [protocol:][net:]port (protocol tcp, udp or sctp)`,
	} {
		ps, err := ParseFailsafes(in)
		got := fmt.Sprint(ps)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != want {
			t.Errorf("ParseFailsafes(%q) = %s, want %s", in, got, want)
		}
	}
}
