package autodetect

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// Verdict is what happened to one candidate interface or address.
type Verdict string

// Verdicts of a Step.
const (
	Chosen     Verdict = "chosen"      // this address won
	Rejected   Verdict = "rejected"    // ruled out, for Reason
	Passed     Verdict = "passed"      // the interface passed the name filter; its addresses follow
	NotReached Verdict = "not-reached" // not examined because an earlier candidate won
	Info       Verdict = "info"        // a fact the decision used (a resolved name, a kernel route)
)

// Step is one line of the reasoning: a verdict on an interface (Address
// zero) or on one of its addresses.
type Step struct {
	Interface string       `json:"interface,omitempty"`
	Address   netip.Prefix `json:"address,omitzero"`
	Verdict   Verdict      `json:"verdict"`
	Reason    string       `json:"reason"`
}

// Origin says where a Result's address came from.
type Origin string

// Origins of a Result.
const (
	Autodetected Origin = "autodetected" // found by the method
	Explicit     Origin = "explicit"     // given in IP / IP6
	Kept         Origin = "kept"         // the Node's existing address, left as it is
	NoAddress    Origin = "none"         // no address of this family
)

// Result is an address decision and the reasoning behind it.
type Result struct {
	Family Family `json:"family"`
	// Method is the autodetection method in IP_AUTODETECTION_METHOD
	// syntax; empty when nothing was autodetected.
	Method string `json:"method,omitempty"`
	Origin Origin `json:"origin"`
	// Address is the chosen address with its interface's prefix length
	// (10.0.2.5/24), as Node.spec.bgp.ipv4Address holds it; zero when
	// Origin is NoAddress or detection failed.
	Address netip.Prefix `json:"address,omitzero"`
	// Interface holds Address; empty when the address is on no local
	// interface (an explicit or kept address) or nothing was chosen.
	Interface string `json:"interface,omitempty"`
	// Rule is the method's rule in one sentence.
	Rule string `json:"rule,omitempty"`
	// Steps are every interface and address considered, in the order the
	// method considered them.
	Steps []Step `json:"steps"`
	// Summary says why the address won, or why there is none.
	Summary string `json:"summary"`
}

func (r *Result) step(ifname string, addr netip.Prefix, v Verdict, format string, args ...any) {
	r.Steps = append(r.Steps, Step{Interface: ifname, Address: addr, Verdict: v, Reason: fmt.Sprintf(format, args...)})
}

// WriteText prints the reasoning and the outcome for people: the method
// and its rule, one line per interface with its addresses indented below
// it, then the result.
func (r Result) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Method != "" {
		fmt.Fprintf(&b, "%v autodetection method: %s\n", r.Family, r.Method)
	}
	if r.Rule != "" {
		fmt.Fprintf(&b, "rule: %s\n", r.Rule)
	}
	for _, s := range r.Steps {
		switch {
		case s.Address.IsValid():
			fmt.Fprintf(&b, "    %-28s %s: %s\n", s.Address, s.Verdict, s.Reason)
		case s.Interface != "":
			fmt.Fprintf(&b, "  %-30s %s: %s\n", s.Interface, s.Verdict, s.Reason)
		default:
			fmt.Fprintf(&b, "  %s: %s\n", s.Verdict, s.Reason)
		}
	}
	switch {
	case r.Address.IsValid() && r.Interface != "":
		fmt.Fprintf(&b, "%v address: %s on %s (%s)\n", r.Family, r.Address, r.Interface, r.Origin)
	case r.Address.IsValid():
		fmt.Fprintf(&b, "%v address: %s (%s)\n", r.Family, r.Address, r.Origin)
	default:
		fmt.Fprintf(&b, "%v address: none\n", r.Family)
	}
	if r.Summary != "" {
		fmt.Fprintf(&b, "why: %s\n", r.Summary)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
