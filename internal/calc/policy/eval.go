package policy

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
)

// IP protocol numbers the model needs by name.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

// Packet is the first packet of a connection, as policy sees it.
type Packet struct {
	Src, Dst         netip.Addr
	Protocol         uint8
	SrcPort, DstPort uint16 // TCP, UDP and SCTP
	ICMPType         int    // ICMP and ICMPv6
	ICMPCode         int
}

func (p Packet) hasPorts() bool {
	return p.Protocol == ProtoTCP || p.Protocol == ProtoUDP || p.Protocol == ProtoSCTP
}

// Direction is ingress (to an endpoint) or egress (from it).
type Direction int

// Directions.
const (
	Ingress Direction = iota
	Egress
)

func (d Direction) String() string {
	if d == Ingress {
		return "ingress"
	}
	return "egress"
}

// TierPolicies is one tier of an endpoint's policy in one direction.
type TierPolicies struct {
	Tier     Tier
	Policies []*Policy
}

// For lists, in evaluation order, the tiers that have Normal-stage
// policies of direction d selecting e, each with those policies in order.
func (m *Model) For(e *Entity, d Direction) []TierPolicies { return m.ForStage(e, Normal, d) }

// ForStage is For for the policies of stage s (nil when e has no such
// stage: only host endpoints have stages besides Normal, and preDNAT
// policies have no egress).
func (m *Model) ForStage(e *Entity, s Stage, d Direction) []TierPolicies {
	if !e.hasStage(s) || (s == PreDNAT && d == Egress) {
		return nil
	}
	key := signature(e, s, d)
	if tp, ok := m.forCache[key]; ok {
		return tp
	}
	tp := m.forUncached(e, s, d)
	if m.forCache != nil {
		m.forCache[key] = tp
	}
	return tp
}

// signature is everything ForStage's answer depends on besides the model.
func signature(e *Entity, s Stage, d Direction) string {
	return strconv.Itoa(int(d)) + "/" + strconv.Itoa(int(s)) + "/" + e.sig
}

// withSig gives e its signature: kind, namespace, service account and
// labels, what selectors see of it (computed once, entities being
// immutable once built).
func withSig(e *Entity) *Entity {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%s/%s", e.Kind, e.Namespace, e.ServiceAccount)
	for _, k := range slices.Sorted(maps.Keys(e.Labels)) {
		fmt.Fprintf(&b, "\x00%s=%s", k, e.Labels[k])
	}
	e.sig = b.String()
	return e
}

func (m *Model) forUncached(e *Entity, s Stage, d Direction) []TierPolicies {
	var out []TierPolicies
	for _, t := range m.Tiers {
		var ps []*Policy
		for _, p := range m.Policies {
			if p.Tier == t.Name && p.has(d) && p.in(s) && p.applies.Matches(e) {
				ps = append(ps, p)
			}
		}
		if len(ps) > 0 {
			out = append(out, TierPolicies{Tier: t, Policies: ps})
		}
	}
	return out
}

func (p *Policy) has(d Direction) bool {
	if d == Ingress {
		return p.Ingress
	}
	return p.Egress
}

func (p *Policy) rules(d Direction) []Rule {
	if d == Ingress {
		return p.InRules
	}
	return p.OutRules
}

func (p *Profile) rules(d Direction) []Rule {
	if d == Ingress {
		return p.InRules
	}
	return p.OutRules
}

// Step is one thing that happened to a packet on its way through an
// endpoint's policy.
type Step struct {
	Tier   string // "" for profiles and the final drop
	Policy string // the policy or profile; "" for a tier's default action or the final drop
	Rule   int    // the rule's index; -1 for a tier's default action or the final drop
	Action v3.Action
}

// Decision is what an endpoint's policy in one direction did with a packet.
type Decision struct {
	Endpoint  string
	Direction Direction
	Stage     Stage
	Allowed   bool
	// Failsafe is set when a failsafe port allowed the packet before any
	// policy of a host endpoint's normal stage (see Failsafes).
	Failsafe bool
	// Steps are the rules that matched (Log and Pass among them) and what
	// decided, in order.
	Steps []Step
}

// Decide runs packet p through e's Normal-stage policy in direction d.
func (m *Model) Decide(e *Entity, d Direction, p Packet) Decision {
	dec, _ := m.decideStage(e, Normal, d, p)
	return dec
}

// decideProfiles runs e's profiles in order, then drops.
func (m *Model) decideProfiles(dec Decision, e *Entity, d Direction, p Packet) Decision {
	for _, name := range e.Profiles {
		prof := m.Profiles[name]
		if prof == nil {
			continue
		}
		for i, r := range prof.rules(d) {
			if !m.matches(r, p) {
				continue
			}
			dec.Steps = append(dec.Steps, Step{Policy: name, Rule: i, Action: r.Action})
			if r.Action == v3.Allow || r.Action == v3.Deny {
				dec.Allowed = r.Action == v3.Allow
				return dec
			}
		}
	}
	dec.Steps = append(dec.Steps, Step{Rule: -1, Action: v3.Deny})
	return dec
}

// decideTier runs one tier; done is true when it decided. endOfTier says
// whether the tier's default action applies when no rule decided (it does
// not in the Untracked and PreDNAT stages).
func (m *Model) decideTier(dec *Decision, tp TierPolicies, d Direction, p Packet, endOfTier bool) (done bool) {
	for _, pol := range tp.Policies {
		for i, r := range pol.rules(d) {
			if !m.matches(r, p) {
				continue
			}
			dec.Steps = append(dec.Steps, Step{Tier: tp.Tier.Name, Policy: pol.Name, Rule: i, Action: r.Action})
			switch r.Action {
			case v3.Allow, v3.Deny:
				dec.Allowed = r.Action == v3.Allow
				return true
			case v3.Pass:
				return false
			}
		}
	}
	if !endOfTier {
		return false
	}
	dec.Steps = append(dec.Steps, Step{Tier: tp.Tier.Name, Rule: -1, Action: tp.Tier.DefaultAction})
	return tp.Tier.DefaultAction != v3.Pass
}

// Verdict is what policy does with a packet between two addresses.
type Verdict struct {
	Allowed bool
	// Egress is the sender's decision and Ingress the receiver's; nil when
	// that side is not an endpoint.
	Egress, Ingress *Decision
	// Path is every decision in order, host endpoints' among them
	// (EvaluatePath only).
	Path []Decision
}

// Evaluate decides p: the sender's egress policy when the source is an
// endpoint, then the receiver's ingress policy when the destination is
// one. Both must allow.
func (m *Model) Evaluate(p Packet) Verdict {
	v := Verdict{Allowed: true}
	if src := m.Endpoint(p.Src); src != nil {
		d := m.Decide(src, Egress, p)
		v.Egress, v.Allowed = &d, d.Allowed
	}
	if !v.Allowed {
		return v
	}
	if dst := m.Endpoint(p.Dst); dst != nil {
		d := m.Decide(dst, Ingress, p)
		v.Ingress, v.Allowed = &d, d.Allowed
	}
	return v
}

// Endpoint is the endpoint holding address a (the first by key when
// several claim it), or nil.
func (m *Model) Endpoint(a netip.Addr) *Entity {
	if es := m.byAddr[a]; len(es) > 0 {
		return es[0]
	}
	return nil
}
