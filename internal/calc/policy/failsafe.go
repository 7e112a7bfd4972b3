package policy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
)

// Failsafes are Felix's failsafe ports: traffic a host endpoint's policy
// can never close, so that a bad policy does not cut a node off its SSH,
// BGP, datastore and API server. They apply before any host endpoint
// policy (reference §2.3 Failsafes, §6.5):
//
//   - In (failsafeInboundHostPorts): to the host through a host endpoint,
//     matched on protocol and destination port, and on the source address
//     when the entry has a net. Such a packet skips the untracked and
//     preDNAT stages and is allowed by the normal stage.
//   - Out (failsafeOutboundHostPorts): from the host out of a host
//     endpoint, matched on protocol, destination port and, with a net,
//     the destination address: skips the untracked stage, allowed by the
//     normal stage.
//   - Before connection tracking (the untracked stage) the answers are let
//     through too: a packet in with a source port of Out, or out with a
//     source port of In, skips the untracked stage (and is then left to
//     conntrack and the normal stage).
//
// Forwarded traffic has no failsafe.
type Failsafes struct {
	In, Out []ProtoPort
}

// ProtoPort is a failsafe entry: protocol name ("tcp", "udp", "sctp"),
// port, and the peer's network (invalid: any peer).
type ProtoPort struct {
	Protocol string
	Port     uint16
	Net      netip.Prefix
}

func pp(proto string, ports ...uint16) []ProtoPort {
	var out []ProtoPort
	for _, p := range ports {
		out = append(out, ProtoPort{Protocol: proto, Port: p})
	}
	return out
}

// DefaultFailsafes are Calico's defaults: in, TCP 22, 179, 2379, 2380,
// 5473, 6443, 6666, 6667 and UDP 68; out, the same TCP ports but SSH, and
// UDP 53 and 67.
func DefaultFailsafes() Failsafes {
	return Failsafes{
		In:  append(pp("tcp", 22, 179, 2379, 2380, 5473, 6443, 6666, 6667), pp("udp", 68)...),
		Out: append(pp("tcp", 179, 2379, 2380, 5473, 6443, 6666, 6667), pp("udp", 53, 67)...),
	}
}

// FailsafesFrom reads FelixConfiguration's failsafeInboundHostPorts and
// failsafeOutboundHostPorts as Felix does: a list that is not set (nil)
// keeps Calico's default, an empty one (Felix's "none") means no failsafe
// port in that direction. A protocol left empty is TCP. Entries the API
// validation refuses (an unknown protocol, a port out of range, a net
// that does not parse) are left out, and so are IPv6 nets, which the IPv4
// dataplane cannot match.
func FailsafesFrom(in, out *[]v3.ProtoPort) Failsafes {
	f := DefaultFailsafes()
	if in != nil {
		f.In = convertFailsafes(*in)
	}
	if out != nil {
		f.Out = convertFailsafes(*out)
	}
	return f
}

func convertFailsafes(ps []v3.ProtoPort) []ProtoPort {
	out := []ProtoPort{}
	for _, p := range ps {
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		if (proto != "tcp" && proto != "udp" && proto != "sctp") || p.Port < 0 || p.Port > 65535 {
			continue
		}
		e := ProtoPort{Protocol: proto, Port: uint16(p.Port)}
		if p.Net != "" {
			n, err := parseNet(p.Net)
			if err != nil || !n.Addr().Is4() {
				continue
			}
			e.Net = n
		}
		out = append(out, e)
	}
	return out
}

// parseNet reads a CIDR or a bare address (a host route).
func parseNet(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	n, err := netip.ParsePrefix(s)
	return n.Masked(), err
}

func (p ProtoPort) proto() uint8 {
	switch p.Protocol {
	case "udp":
		return ProtoUDP
	case "sctp":
		return ProtoSCTP
	}
	return ProtoTCP
}

// matches reports whether pkt is p's protocol with port (its source or
// destination port, as the caller picks) and peer within p's net.
func (p ProtoPort) matches(pkt Packet, port uint16, peer netip.Addr) bool {
	return pkt.Protocol == p.proto() && port == p.Port && (!p.Net.IsValid() || p.Net.Contains(peer))
}

func anyMatches(ps []ProtoPort, pkt Packet, port uint16, peer netip.Addr) bool {
	for _, p := range ps {
		if p.matches(pkt, port, peer) {
			return true
		}
	}
	return false
}

// Inbound reports whether pkt, arriving at the host through a host
// endpoint, is on a failsafe port.
func (f Failsafes) Inbound(pkt Packet) bool { return anyMatches(f.In, pkt, pkt.DstPort, pkt.Src) }

// Outbound reports whether pkt, leaving the host out of a host endpoint,
// is on a failsafe port.
func (f Failsafes) Outbound(pkt Packet) bool { return anyMatches(f.Out, pkt, pkt.DstPort, pkt.Dst) }

// untrackedIn reports whether pkt skips the untracked ingress stage: an
// inbound failsafe, or the answer to an outbound one.
func (f Failsafes) untrackedIn(pkt Packet) bool {
	return f.Inbound(pkt) || anyMatches(f.Out, pkt, pkt.SrcPort, pkt.Src)
}

// untrackedOut reports whether pkt skips the untracked egress stage: an
// outbound failsafe, or the answer to an inbound one.
func (f Failsafes) untrackedOut(pkt Packet) bool {
	return f.Outbound(pkt) || anyMatches(f.In, pkt, pkt.SrcPort, pkt.Dst)
}

// ParseFailsafes reads Felix's environment form of a failsafe list
// (FELIX_FAILSAFEINBOUNDHOSTPORTS, ...OUTBOUNDHOSTPORTS): "none" for no
// port, else comma-separated entries "[protocol:][net:]port" (protocol
// tcp, udp or sctp, tcp when left out; net a CIDR, any peer when left
// out). An IPv6 net, which the IPv4 dataplane cannot match, is refused.
func ParseFailsafes(s string) ([]ProtoPort, error) {
	out := []ProtoPort{}
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return out, nil
	}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parseFailsafe(entry)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", entry, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseFailsafe(entry string) (ProtoPort, error) {
	p := ProtoPort{Protocol: "tcp"}
	parts := strings.Split(entry, ":")
	if len(parts) > 1 {
		if proto := strings.ToLower(parts[0]); proto == "tcp" || proto == "udp" || proto == "sctp" {
			p.Protocol, parts = proto, parts[1:]
		}
	}
	switch len(parts) {
	case 1:
	case 2:
		n, err := parseNet(parts[0])
		if err != nil || !n.Addr().Is4() {
			return p, fmt.Errorf("net %q: want an IPv4 CIDR", parts[0])
		}
		p.Net, parts = n, parts[1:]
	default:
		return p, fmt.Errorf("want [protocol:][net:]port (protocol tcp, udp or sctp)")
	}
	port, err := strconv.ParseUint(parts[0], 10, 16)
	if err != nil {
		return p, fmt.Errorf("port %q: want a number from 0 to 65535", parts[0])
	}
	p.Port = uint16(port)
	return p, nil
}
