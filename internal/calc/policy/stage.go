package policy

import v3 "github.com/tortienet/tortie/api/v3"

// Stage is where on a packet's way through the node a set of policies
// applies. Workload endpoints only have the Normal stage; host endpoints
// have all four (reference §3.3 and Calico's summary of host endpoint
// policies):
//
//   - Untracked: GlobalNetworkPolicies with doNotTrack, before connection
//     tracking, in both directions: ingress on traffic arriving through
//     the endpoint, egress on traffic leaving by it, from the host or
//     forwarded (a workload's, or another host interface's). Allow lets
//     the packet through without a conntrack entry and skips the
//     endpoint's later stages (arriving: preDNAT, normal and forward;
//     leaving: normal or forward); Deny drops; no decision carries on (no
//     end-of-tier drop, no profiles).
//     Host endpoints with interfaceName "*" have no untracked stage.
//   - PreDNAT: GlobalNetworkPolicies with preDNAT, ingress only, before
//     DNAT, on traffic to the host and traffic forwarded through it. Allow
//     skips the host endpoint's Normal and Forward stages (not a workload's
//     own policy); Deny drops; no decision carries on.
//   - Normal: traffic to and from the host's own processes: tiers with
//     their end-of-tier action, then the profiles, then drop.
//   - Forward: policies with applyOnForward, on traffic forwarded through
//     the host endpoint's interface (to or from a workload, or to another
//     host interface): tiers with their end-of-tier action, no profiles;
//     allowed when no such policy selects the endpoint.
type Stage int

// Stages, in the order a packet arriving at the node meets them.
const (
	Normal Stage = iota
	Forward
	PreDNAT
	Untracked
)

func (s Stage) String() string {
	switch s {
	case Forward:
		return "forward"
	case PreDNAT:
		return "preDNAT"
	case Untracked:
		return "untracked"
	}
	return "normal"
}

// in reports whether policy p belongs to stage s.
func (p *Policy) in(s Stage) bool {
	switch s {
	case Untracked:
		return p.DoNotTrack
	case PreDNAT:
		return p.PreDNAT
	case Forward:
		return p.ApplyOnForward && !p.PreDNAT && !p.DoNotTrack
	}
	return !p.PreDNAT && !p.DoNotTrack
}

// hasStage reports whether e has stage s at all.
func (e *Entity) hasStage(s Stage) bool {
	switch {
	case s == Normal:
		return e.Kind != NetworkSet
	case e.Kind != HostEndpoint:
		return false
	case s == Untracked:
		return e.Interface != AllInterfaces
	}
	return true
}

// AllInterfaces is the interfaceName of a host endpoint that stands for
// every host interface of its node (but not workload interfaces).
const AllInterfaces = "*"

// final reports whether a stage's evaluation always decides: Normal and
// Forward do (drop, or allow); Untracked and PreDNAT may leave the packet
// undecided for the next stage.
func (s Stage) final() bool { return s == Normal || s == Forward }

// decideStage runs p through e's policies of stage s in direction d.
// decided is false when an Untracked or PreDNAT stage left it to the next.
func (m *Model) decideStage(e *Entity, s Stage, d Direction, p Packet) (dec Decision, decided bool) {
	dec = Decision{Endpoint: e.Key, Direction: d, Stage: s}
	tiers := m.ForStage(e, s, d)
	for _, tp := range tiers {
		if done := m.decideTier(&dec, tp, d, p, s.final()); done {
			return dec, true
		}
	}
	switch s {
	case Normal:
		return m.decideProfiles(dec, e, d, p), true
	case Forward:
		// No applyOnForward policy, or every tier passed: forwarded
		// traffic is allowed.
		dec.Allowed = true
		dec.Steps = append(dec.Steps, Step{Rule: -1, Action: v3.Allow})
		return dec, true
	}
	return dec, false
}
