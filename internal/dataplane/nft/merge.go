package nft

import (
	"fmt"
	"net/netip"
	"slices"

	"sigs.k8s.io/knftables"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
)

// Merging makes policy O(1) per packet where Calico's model allows it. In
// a tier, a run of consecutive policies whose rules only Allow, on nothing
// but protocol, addresses and port numbers, decides the same whatever the
// order of its rules: allowed when any rule matches, on to the next policy
// otherwise. Such a run is a few set lookups (one per key shape, see
// shapeOf) instead of a jump per policy and a rule per rule.

// mergeChunk bounds the policies one merged run holds. An interval set is
// re-indexed whole when it changes, and a run whose membership changes is
// new sets written whole; chunks keep that cost small, for a few cheap
// hash lookups more per new connection (a thousand policies: 32 chunks).
const mergeChunk = 32

// mergedKey is the packet's key in a merged set.
const mergedKey = "meta l4proto . ip saddr . ip daddr . th sport . th dport"

const mergedType = "inet_proto . ipv4_addr . ipv4_addr . inet_service . inet_service"

// mergeable reports whether every rule of l can join a merged set.
func mergeable(l policy.RuleList) bool {
	if len(l.Rules) == 0 {
		return false
	}
	for _, r := range l.Rules {
		if r.Action != v3.Allow || r.IPVersion == 6 || r.NotProtocol != 0 || r.ICMP != nil || r.NotICMP != nil ||
			!simpleSide(r.Src) || !simpleSide(r.Dst) {
			return false
		}
	}
	return true
}

func simpleSide(s policy.Side) bool {
	if s.Sel != nil || s.NotSel != nil || len(s.NotNets) > 0 || len(s.NotPorts) > 0 {
		return false
	}
	for _, n := range s.Nets {
		if !n.Addr().Is4() {
			return false
		}
	}
	return !slices.ContainsFunc(s.Ports, func(p policy.PortMatch) bool { return p.Name != "" })
}

// mergedElements are the set elements of a run of rule lists: every
// combination of each rule's protocol, nets and ports, with "any" as the
// whole range, split by key shape (see split): keys of exact and masked
// fields go to hash sets, one per shape; the rest ("" shape) to the
// interval set.
func mergedElements(lists []policy.RuleList) map[string][]string {
	out := map[string][]string{}
	var split []splitElement
	for _, l := range lists {
		for _, r := range l.Rules {
			proto := "0-255"
			if r.Protocol != 0 {
				proto = protoName(r.Protocol)
			}
			for _, src := range netsOrAny(r.Src.Nets) {
				for _, dst := range netsOrAny(r.Dst.Nets) {
					for _, sp := range portsOrAny(r.Src.Ports) {
						for _, dp := range portsOrAny(r.Dst.Ports) {
							split = append(split, splitParts([]string{proto, src, dst, sp, dp}))
						}
					}
				}
			}
		}
	}
	addSplit(out, split)
	for shape, els := range out {
		slices.Sort(els)
		out[shape] = slices.Compact(els)
	}
	return out
}

// Pipapo, the kernel's concatenated interval set, costs a lookup time in
// proportion to all its elements (a 10k-element set, or 32 sets of 320,
// cost a new connection as much as the rest of its path together), while
// a hash set's lookup is constant. So an element whose fields are each
// exact (a protocol, a /32, one port) or "any" goes to a hash set keyed by
// its exact fields only, one set per such shape; a lookup per shape
// replaces the scan. Only the rest (prefixes, port ranges) stays in the
// interval set.

// keyFields are the packet's fields in a merged key, in order, with the
// element's "any" text for each and its type.
var keyFields = []struct{ expr, any, typ string }{
	{"meta l4proto", "0-255", "inet_proto"},
	{"ip saddr", "0.0.0.0/0", "ipv4_addr"},
	{"ip daddr", "0.0.0.0/0", "ipv4_addr"},
	{"th sport", "0-65535", "inet_service"},
	{"th dport", "0-65535", "inet_service"},
}

func netsOrAny(ns []netip.Prefix) []string {
	if len(ns) == 0 {
		return []string{"0.0.0.0/0"}
	}
	var out []string
	for _, n := range ns {
		out = append(out, n.Masked().String())
	}
	return out
}

func portsOrAny(ps []policy.PortMatch) []string {
	if len(ps) == 0 {
		return []string{"0-65535"}
	}
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d-%d", p.Min, p.Max))
	}
	return out
}

// endpointChain evaluates tiers in order (runs of mergeable policies as
// one set lookup), then profiles, then drops. New merged sets go to sets.
func endpointChain(p *policy.Program, c policy.EndpointChain, sets *runs) []string {
	rules := []string{clearMarks}
	for _, t := range c.Tiers {
		for i := 0; i < len(t.Policies); {
			j := i
			for j < len(t.Policies) && j-i < mergeChunk && sets.mergeable(p.Rules[t.Policies[j]]) {
				j++
			}
			if j-i >= 1 && ruleCount(p, t.Policies[i:j]) > 1 {
				for _, l := range mergedSets(p, t.Policies[i:j], sets) {
					rules = append(rules, ifUndecided+" "+l.key+" @"+l.set+" "+action(v3.Allow))
				}
				i = j
				continue
			}
			rules = append(rules, ifUndecided+" jump "+t.Policies[i], ifAccepted+" return")
			i++
		}
		if t.DefaultAction != string(v3.Pass) && endOfTier(c.Stage) {
			rules = append(rules, fmt.Sprintf("meta mark & 0x%x == 0 drop", markPass))
		}
		rules = append(rules, clearPass)
	}
	if c.Stage != policy.Normal {
		// Forward: what no tier decided is allowed; untracked and preDNAT:
		// left undecided for the next stage. Either way, back to the hook.
		return rules
	}
	for _, id := range c.Profiles {
		rules = append(rules, "jump "+id, ifAccepted+" return")
	}
	return append(rules, "drop")
}

// endOfTier reports whether a tier's default action applies in chains of
// stage s: not in the untracked and preDNAT stages, which leave what they
// do not decide to the stages after them.
func endOfTier(s policy.Stage) bool { return s == policy.Normal || s == policy.Forward }

func ruleCount(p *policy.Program, ids []string) int {
	n := 0
	for _, id := range ids {
		n += len(p.Rules[id].Rules)
	}
	return n
}

// runs are the merged sets of one rendering. A set whose rule lists have
// the same digests as in the previous rendering keeps its elements, so a
// change elsewhere does not rebuild every merged set's elements (with
// 10k rules, most of a rendering's work).
type runs struct {
	sets    map[string]setDef
	lookups map[string][]lookup // by run name
	keys    map[string]string   // digests of each run's rule lists
	prev    *runs
	// canMerge remembers mergeable's answers by rule list digest.
	canMerge map[string]bool
	// selSets and portSets are the selector and named-port sets as
	// rendered, with the members they were rendered from (see
	// selectorSets).
	selSets  map[string]renderedSet
	portSets map[string]renderedPorts
	// ruleText is the rule lists rendered (ruleChain), by digest: a list
	// whose digest is the same as one rendering back keeps its rules' text.
	ruleText map[string][]string
}

type renderedSet struct {
	members  []netip.Prefix // sorted by address, then length (as an Index gives them)
	elements []string
	single   bool // every IPv4 member is a single address
	ordered  bool // members are sorted and each is there once
}

type renderedPorts struct {
	members  []policy.AddrPort
	elements []string
}

// patchSet renders set id's members from the previous rendering: the
// same when they are the same slice, else, when the set held and gets
// only single addresses, the previous elements with the members that left
// taken out and those that came put in (a walk of the sorted lists, no
// formatting or sorting of the set); ok is false when it must be rendered
// whole.
func (r *runs) patchSet(id string, members []netip.Prefix) (renderedSet, bool) {
	if r.prev == nil {
		return renderedSet{}, false
	}
	c, ok := r.prev.selSets[id]
	switch {
	case !ok:
		return c, false
	case sameSlice(c.members, members):
		return c, true
	case !c.single || !c.ordered || !ordered(members):
		return c, false
	}
	var add, del []string
	i, j := 0, 0
	for i < len(c.members) || j < len(members) {
		switch d := compareAt(c.members, i, members, j); {
		case d < 0:
			if a := c.members[i]; a.Addr().Is4() {
				del = append(del, a.String())
			}
			i++
		case d > 0:
			if a := members[j]; a.Addr().Is4() {
				if !a.IsSingleIP() {
					return c, false
				}
				add = append(add, a.String())
			}
			j++
		default:
			i, j = i+1, j+1
		}
	}
	slices.Sort(add)
	slices.Sort(del)
	return renderedSet{members: members, elements: patchSorted(c.elements, add, del), single: true, ordered: true}, true
}

// ordered says whether ps is sorted with no prefix twice (as an Index
// gives members), which patchSet's walk needs.
func ordered(ps []netip.Prefix) bool {
	for i := 1; i < len(ps); i++ {
		if comparePrefixes(ps[i-1], ps[i]) >= 0 {
			return false
		}
	}
	return true
}

// compareAt compares a[i] with b[j], an exhausted side last.
func compareAt(a []netip.Prefix, i int, b []netip.Prefix, j int) int {
	switch {
	case i == len(a):
		return 1
	case j == len(b):
		return -1
	}
	return comparePrefixes(a[i], b[j])
}

func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// patchSorted is sorted els without del and with add (both sorted), as a
// new slice.
func patchSorted(els, add, del []string) []string {
	out := make([]string, 0, len(els)+len(add)-len(del))
	j, k := 0, 0
	for _, e := range els {
		for k < len(del) && del[k] < e {
			k++
		}
		if k < len(del) && del[k] == e {
			continue
		}
		for j < len(add) && add[j] < e {
			out = append(out, add[j])
			j++
		}
		if j < len(add) && add[j] == e {
			j++
		}
		out = append(out, e)
	}
	return append(out, add[j:]...)
}

func (r *runs) cachedPorts(id string, members []policy.AddrPort) ([]string, bool) {
	if r.prev == nil {
		return nil, false
	}
	c, ok := r.prev.portSets[id]
	return c.elements, ok && sameSlice(c.members, members)
}

// sameSlice says whether a and b are the same slice (not merely equal):
// an Index never changes the members it gave out, so the same slice has
// the same content.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func newRuns(prev *runs) *runs {
	r := &runs{sets: map[string]setDef{}, lookups: map[string][]lookup{}, keys: map[string]string{}, prev: prev, canMerge: map[string]bool{},
		selSets: map[string]renderedSet{}, portSets: map[string]renderedPorts{}, ruleText: map[string][]string{}}
	if prev != nil {
		prev.prev = nil // one rendering back is enough
		r.canMerge = prev.canMerge
		if len(r.canMerge) > 4*len(prev.keys)*mergeChunk+1024 {
			r.canMerge = map[string]bool{} // forget policies long gone
		}
	}
	return r
}

// ruleChain is ruleChain(l), kept by l's digest from one rendering to the
// next (a program's rules are never changed in place).
func (r *runs) ruleChain(l policy.RuleList) []string {
	if l.Digest == "" {
		return ruleChain(l)
	}
	text, ok := r.ruleText[l.Digest]
	if !ok && r.prev != nil {
		text, ok = r.prev.ruleText[l.Digest]
	}
	if !ok {
		text = ruleChain(l)
	}
	r.ruleText[l.Digest] = text
	return text
}

// mergeable is mergeable(l), remembered by l's digest.
func (r *runs) mergeable(l policy.RuleList) bool {
	if l.Digest == "" {
		return mergeable(l)
	}
	ok, seen := r.canMerge[l.Digest]
	if !seen {
		ok = mergeable(l)
		r.canMerge[l.Digest] = ok
	}
	return ok
}

// lookup is one set lookup of a merged run: the packet's key and the set.
type lookup struct{ key, set string }

// mergedSets adds (once) the sets of a run of policies and returns their
// lookups, hash sets first.
func mergedSets(p *policy.Program, ids []string, r *runs) []lookup {
	name := policy.ID("run-", ids...)
	if _, ok := r.lookups[name]; !ok {
		r.lookups[name] = r.addRun(p, ids, name)
	}
	return r.lookups[name]
}

func (r *runs) addRun(p *policy.Program, ids []string, name string) []lookup {
	lists := make([]policy.RuleList, 0, len(ids))
	key := ""
	for _, id := range ids {
		l := p.Rules[id]
		lists = append(lists, l)
		if l.Digest == "" {
			key = "" // a hand-made program: no reuse
			break
		}
		key += l.Digest + " "
	}
	r.keys[name] = key
	if prev := r.prev; key != "" && prev != nil && prev.keys[name] == key {
		for _, l := range prev.lookups[name] {
			r.sets[l.set] = prev.sets[l.set]
		}
		return prev.lookups[name]
	}
	var out []lookup
	byShape := mergedElements(lists)
	for _, shape := range sortedKeys(byShape) {
		if shape == "" {
			continue
		}
		k, typ := shapeKey(shape)
		set := name + "-" + shape
		r.sets[set] = setDef{name: set, typ: typ, elements: byShape[shape]}
		out = append(out, lookup{k, set})
	}
	if els := byShape[""]; len(els) > 0 {
		r.sets[name] = setDef{name: name, typ: mergedType, flags: []knftables.SetFlag{knftables.IntervalFlag}, elements: els}
		out = append(out, lookup{mergedKey, name})
	}
	return out
}
