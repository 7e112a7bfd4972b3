package policy

import (
	"net/netip"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/conventions"
)

// HostEndpointOn is the host endpoint of node that covers interface
// iface: the one named for it, else the node's all-interfaces endpoint
// (interfaceName "*"), which covers every interface but workloads' and
// the loopback (the host talking to itself crosses no host interface);
// nil when none does (and for no interface: "").
func (m *Model) HostEndpointOn(node, iface string) *Entity {
	if iface == "" {
		return nil
	}
	var wildcard *Entity
	for _, e := range m.Entities {
		if e.Kind != HostEndpoint || e.Node != node {
			continue
		}
		switch e.Interface {
		case iface:
			return e
		case AllInterfaces:
			if wildcard == nil {
				wildcard = e
			}
		}
	}
	if strings.HasPrefix(iface, conventions.HostIfPrefix) || iface == "lo" {
		return nil
	}
	return wildcard
}

// Path is how a packet crosses one node, as host endpoint policy sees it:
// the host endpoints it arrives through (In) and leaves by (Out); nil on a
// side where it comes from, or goes to, a workload or the host's own
// processes.
type Path struct {
	In, Out *Entity
	// Failsafes are the node's failsafe ports (nil: Calico's defaults).
	Failsafes *Failsafes
}

// EvaluatePath decides p on its way through a node along path. With no
// host endpoint on the path it is Evaluate. Otherwise, in the order the
// kernel meets them: In's untracked, then preDNAT stages (an Allow there
// skips In's later stages); the sending workload's egress; In's Normal
// stage (to the host) or Forward stage (forwarded); the receiving
// workload's ingress; Out's untracked stage, then its Normal stage (from
// the host) or its Forward stage (forwarded). Everything met must allow. Failsafe
// ports come before every host endpoint stage (see Failsafes).
func (m *Model) EvaluatePath(p Packet, path Path) Verdict {
	if path.In == nil && path.Out == nil {
		return m.Evaluate(p)
	}
	fs := DefaultFailsafes()
	if path.Failsafes != nil {
		fs = *path.Failsafes
	}
	var srcWL, dstWL *Entity
	if path.In == nil {
		srcWL = m.workloadAt(p.Src)
	}
	if path.Out == nil {
		dstWL = m.workloadAt(p.Dst)
	}
	toHost := path.In != nil && path.Out == nil && dstWL == nil
	fromHost := path.Out != nil && path.In == nil && srcWL == nil
	v := Verdict{Allowed: true}
	ok := true
	if path.In != nil {
		ok = m.hostIn(&v, path.In, p, toHost, fs)
	}
	if ok && srcWL != nil {
		d := m.Decide(srcWL, Egress, p)
		v.Egress, ok = &d, v.add(d)
	}
	if ok && dstWL != nil {
		d := m.Decide(dstWL, Ingress, p)
		v.Ingress, ok = &d, v.add(d)
	}
	if ok && path.Out != nil {
		m.hostOut(&v, path.Out, p, fromHost, fs)
	}
	return v
}

// hostIn runs the stages of the host endpoint a packet arrives through;
// ok is false when one dropped it.
func (m *Model) hostIn(v *Verdict, hep *Entity, p Packet, toHost bool, fs Failsafes) (ok bool) {
	for _, s := range []Stage{Untracked, PreDNAT} {
		if (s == Untracked && fs.untrackedIn(p)) || (s == PreDNAT && fs.Inbound(p)) {
			continue // failsafe: the stage is skipped
		}
		dec, decided := m.decideStage(hep, s, Ingress, p)
		if !decided {
			continue
		}
		return v.add(dec)
	}
	if toHost && fs.Inbound(p) {
		return v.add(failsafeDecision(hep, Ingress))
	}
	s := Forward
	if toHost {
		s = Normal
	}
	dec, _ := m.decideStage(hep, s, Ingress, p)
	return v.add(dec)
}

// hostOut runs the stages of the host endpoint a packet leaves by: from
// the host, untracked then normal; forwarded, untracked then forward (an
// untracked Allow skips the later stage either way).
func (m *Model) hostOut(v *Verdict, hep *Entity, p Packet, fromHost bool, fs Failsafes) {
	if !fromHost {
		if dec, decided := m.decideStage(hep, Untracked, Egress, p); decided {
			v.add(dec)
			return
		}
		dec, _ := m.decideStage(hep, Forward, Egress, p)
		v.add(dec)
		return
	}
	if !fs.untrackedOut(p) {
		if dec, decided := m.decideStage(hep, Untracked, Egress, p); decided {
			v.add(dec)
			return
		}
	}
	if fs.Outbound(p) {
		v.add(failsafeDecision(hep, Egress))
		return
	}
	dec, _ := m.decideStage(hep, Normal, Egress, p)
	v.add(dec)
}

// failsafeDecision is a host endpoint's normal stage allowing a packet on
// a failsafe port, before any policy.
func failsafeDecision(hep *Entity, d Direction) Decision {
	return Decision{Endpoint: hep.Key, Direction: d, Stage: Normal, Allowed: true, Failsafe: true,
		Steps: []Step{{Rule: -1, Action: v3.Allow}}}
}

// add records a decision on the path; ok is false when it dropped.
func (v *Verdict) add(d Decision) (ok bool) {
	v.Path = append(v.Path, d)
	if !d.Allowed {
		v.Allowed = false
	}
	return v.Allowed
}

// workloadAt is the workload endpoint holding address a, or nil.
func (m *Model) workloadAt(a netip.Addr) *Entity {
	for _, e := range m.byAddr[a] {
		if e.Kind == WorkloadEndpoint {
			return e
		}
	}
	return nil
}

// HostEndpointAt is the host endpoint holding address a (one named for an
// interface before the all-interfaces one, then by key), or nil.
func (m *Model) HostEndpointAt(a netip.Addr) *Entity {
	var wildcard *Entity
	for _, e := range m.byAddr[a] {
		switch {
		case e.Kind != HostEndpoint:
		case e.Interface != AllInterfaces:
			return e
		case wildcard == nil:
			wildcard = e
		}
	}
	return wildcard
}

// PathBetween is the path, as far as addresses tell it, of a packet from
// src to dst: a host endpoint's address as the source is the host sending
// out of that endpoint (Out), as the destination the host receiving
// through it (In). A host talking to itself, or to or from a workload of
// its own, crosses no host endpoint on that side (a workload reaching its
// own host meets defaultEndpointToHostAction instead: ToOwnHost).
func (m *Model) PathBetween(src, dst netip.Addr) Path {
	out, in := m.HostEndpointAt(src), m.HostEndpointAt(dst)
	if out != nil && in != nil && out.Node == in.Node {
		return Path{}
	}
	if wl := m.workloadAt(dst); out != nil && wl != nil && wl.Node == out.Node {
		out = nil
	}
	if wl := m.workloadAt(src); in != nil && wl != nil && wl.Node == in.Node {
		in = nil
	}
	return Path{In: in, Out: out}
}

// ToOwnHost reports whether a packet from src to dst goes from a workload
// to an address of a host endpoint of the workload's own node.
func (m *Model) ToOwnHost(src, dst netip.Addr) bool {
	wl, hep := m.workloadAt(src), m.HostEndpointAt(dst)
	return wl != nil && hep != nil && wl.Node == hep.Node
}
