package policy

import (
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

func wep(ns, name, node, addr string, labels map[string]string, profiles ...string) *v3.WorkloadEndpoint {
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	w.Spec = v3.WorkloadEndpointSpec{Node: node, Orchestrator: "k8s", IPNetworks: []string{addr + "/32"}, Profiles: profiles,
		InterfaceName: "cali-" + name}
	return w
}

func mustSel(t *testing.T, text string, sc scope) *EntitySelector {
	t.Helper()
	s, err := newEntitySelector("test", text, sc, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestIndexMembers: the members of selectors follow endpoints as they
// come, are relabelled, change address and go, and as a profile's
// labelsToApply change; a set that did not change keeps its slice.
func TestIndexMembers(t *testing.T) {
	x := NewIndex("n1")
	db, web := mustSel(t, "app == 'db'", scope{}), mustSel(t, "app == 'web'", scope{})
	prod := mustSel(t, "", scope{nsSel: "env == 'prod'"})
	x.PutWorkload(wep("a", "w1", "n1", "10.0.0.1", map[string]string{"app": "db"}))
	x.PutWorkload(wep("a", "w2", "n2", "10.0.0.2", map[string]string{"app": "web"}, "kns.a"))
	type step struct {
		name          string
		change        func()
		db, web, prod []netip.Prefix
	}
	for _, s := range []step{
		{"start", func() {}, prefixes("10.0.0.1/32"), prefixes("10.0.0.2/32"), nil},
		{"relabel w2 to db", func() { x.PutWorkload(wep("a", "w2", "n2", "10.0.0.2", map[string]string{"app": "db"}, "kns.a")) },
			prefixes("10.0.0.1/32", "10.0.0.2/32"), nil, nil},
		{"readdress w2", func() { x.PutWorkload(wep("a", "w2", "n2", "10.0.0.9", map[string]string{"app": "db"}, "kns.a")) },
			prefixes("10.0.0.1/32", "10.0.0.9/32"), nil, nil},
		{"namespace labelled prod", func() { x.PutProfile("kns.a", map[string]string{"pcns.env": "prod"}) },
			prefixes("10.0.0.1/32", "10.0.0.9/32"), nil, prefixes("10.0.0.9/32")},
		{"delete w1", func() { x.DeleteWorkload("a", "w1") }, prefixes("10.0.0.9/32"), nil, prefixes("10.0.0.9/32")},
		{"network set", func() {
			x.PutGlobalNetworkSet(&v3.GlobalNetworkSet{ObjectMeta: v3.ObjectMeta{Name: "ext", Labels: map[string]string{"app": "web"}},
				Spec: v3.GlobalNetworkSetSpec{Nets: []string{"192.0.2.0/24"}}})
		}, prefixes("10.0.0.9/32"), prefixes("192.0.2.0/24"), prefixes("10.0.0.9/32")},
		{"profile gone", func() { x.DeleteProfile("kns.a") }, prefixes("10.0.0.9/32"), prefixes("192.0.2.0/24"), nil},
	} {
		dbBefore, _ := x.Members(db)
		s.change()
		for _, c := range []struct {
			sel  *EntitySelector
			want []netip.Prefix
		}{{db, s.db}, {web, s.web}, {prod, s.prod}} {
			if got, _ := x.Members(c.sel); !slices.Equal(got, c.want) {
				t.Errorf("%s: members of %s = %v, want %v", s.name, c.sel.Key, got, c.want)
			}
		}
		if dbAfter, _ := x.Members(db); slices.Equal(dbBefore, dbAfter) && len(dbAfter) > 0 && &dbBefore[0] != &dbAfter[0] {
			t.Errorf("%s: the unchanged set of %s was built again", s.name, db.Key)
		}
	}
	if got := x.Local(); len(got) != 0 {
		t.Errorf("Local() = %v after w1 went, want none", got)
	}
}

// TestIndexSweep: a selector no Compile used since the last Sweep is
// forgotten; one used again is evaluated afresh.
func TestIndexSweep(t *testing.T) {
	x := NewIndex("n1")
	db := mustSel(t, "app == 'db'", scope{})
	x.PutWorkload(wep("a", "w1", "n1", "10.0.0.1", map[string]string{"app": "db"}))
	x.Members(db)
	x.Sweep()
	x.Sweep()
	if len(x.sels) != 0 || len(x.selByKV) != 0 {
		t.Fatalf("unused selector kept: %v %v", x.sels, x.selByKV)
	}
	x.PutWorkload(wep("a", "w2", "n1", "10.0.0.2", map[string]string{"app": "db"}))
	if got, _ := x.Members(db); !slices.Equal(got, prefixes("10.0.0.1/32", "10.0.0.2/32")) {
		t.Errorf("members after a sweep = %v", got)
	}
}

// TestIndexAgreesWithBuild: over random sequences of endpoint, network
// set and profile changes, a Program compiled with the Index (fed the
// changes one by one, policies changing too) is the Program compiled from
// the whole input, set by set and chain by chain.
func TestIndexAgreesWithBuild(t *testing.T) {
	for seed := range 300 {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		w := newRandomWorld(r)
		x := NewIndex("n1")
		b := NewBuilder()
		for step := range 40 {
			w.step(r, x)
			in := w.input()
			got := Compile(b.BuildIndexed(in, x), "n1")
			want := Compile(Build(in), "n1")
			normalise(&want)
			normalise(&got)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d step %d (%s): indexed program differs:\n got %+v\nwant %+v", seed, step, w.last, got, want)
			}
		}
	}
}

func normalise(p *Program) {
	for id, s := range p.Sets {
		slices.SortFunc(s.Members, comparePrefix)
		s.Members = slices.Compact(s.Members)
		if len(s.Members) == 0 {
			s.Members = nil
		}
		p.Sets[id] = s
	}
	for id, ps := range p.NamedPorts {
		slices.SortFunc(ps, func(a, b AddrPort) int { return a.Addr.Compare(b.Addr)*4 + int(a.Port) - int(b.Port) })
		ps = slices.Compact(ps)
		if len(ps) == 0 {
			ps = nil
		}
		p.NamedPorts[id] = ps
	}
	p.chainOf = nil
}

// randomWorld is a small cluster: endpoints on two nodes, network sets,
// profiles with labelsToApply, and policies whose rules select them.
type randomWorld struct {
	weps     map[string]*v3.WorkloadEndpoint
	compact  map[string]Workload // endpoints put in the compact form instead
	sets     map[string]*v3.GlobalNetworkSet
	profiles map[string]*v3.Profile
	gnps     map[string]*v3.GlobalNetworkPolicy
	last     string
}

var (
	rwApps = []string{"a", "b", "c"}
	rwSels = []string{"app == 'a'", "app == 'b'", "app in {'a', 'c'}", "has(app)", "app != 'a'", "all()", "tier == 'x'",
		"app == 'a' && tier == 'x'", "!has(tier)", "app starts with 'c'"}
	rwNsSels = []string{"", "", "env == 'prod'", "has(env)"}
)

func newRandomWorld(r *rand.Rand) *randomWorld {
	return &randomWorld{weps: map[string]*v3.WorkloadEndpoint{}, compact: map[string]Workload{}, sets: map[string]*v3.GlobalNetworkSet{},
		profiles: map[string]*v3.Profile{}, gnps: map[string]*v3.GlobalNetworkPolicy{}}
}

func randomLabels(r *rand.Rand) map[string]string {
	l := map[string]string{}
	if r.IntN(5) > 0 {
		l["app"] = rwApps[r.IntN(len(rwApps))]
	}
	if r.IntN(3) == 0 {
		l["tier"] = "x"
	}
	return l
}

// step makes one random change, to the world and to x.
func (w *randomWorld) step(r *rand.Rand, x *Index) {
	i := r.IntN(6)
	switch op := r.IntN(10); {
	case op < 4:
		name, ns := fmt.Sprintf("w%d", i), []string{"ns1", "ns2"}[i%2]
		e := wep(ns, name, []string{"n1", "n2"}[r.IntN(2)], fmt.Sprintf("10.0.%d.%d", r.IntN(2), i+1), randomLabels(r), "kns."+ns)
		if r.IntN(4) == 0 {
			e.Spec.Ports = []v3.WorkloadEndpointPort{{Name: "http", Protocol: v3.ProtocolFromString("TCP"), Port: 80 + r.IntN(2)}}
		}
		delete(w.weps, ns+"/"+name)
		delete(w.compact, ns+"/"+name)
		if r.IntN(2) == 0 {
			c := compactOf(e)
			w.compact[ns+"/"+name], w.last = c, "put compact "+name
			x.PutCompactWorkload(c)
			return
		}
		w.weps[ns+"/"+name], w.last = e, "put "+name
		x.PutWorkload(e)
	case op < 5:
		name, ns := fmt.Sprintf("w%d", i), []string{"ns1", "ns2"}[i%2]
		delete(w.weps, ns+"/"+name)
		delete(w.compact, ns+"/"+name)
		w.last = "delete " + name
		if r.IntN(2) == 0 {
			x.DeleteWorkload(ns, name)
		} else {
			x.DeleteWorkloadKey(ns + "/" + name)
		}
	case op < 6:
		s := &v3.GlobalNetworkSet{ObjectMeta: v3.ObjectMeta{Name: fmt.Sprintf("s%d", i%2), Labels: randomLabels(r)}}
		s.Spec.Nets = []string{fmt.Sprintf("192.0.%d.0/24", r.IntN(3))}
		w.sets[s.Name], w.last = s, "put set "+s.Name
		x.PutGlobalNetworkSet(s)
	case op < 7:
		name := []string{"kns.ns1", "kns.ns2"}[i%2]
		p := &v3.Profile{ObjectMeta: v3.ObjectMeta{Name: name}}
		if r.IntN(3) > 0 {
			p.Spec.LabelsToApply = map[string]string{"pcns.env": []string{"prod", "dev"}[r.IntN(2)]}
		}
		w.profiles[name], w.last = p, "profile "+name
		x.PutProfile(name, p.Spec.LabelsToApply)
	default:
		w.putPolicy(r, i%3)
	}
}

func (w *randomWorld) putPolicy(r *rand.Rand, i int) {
	g := &v3.GlobalNetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: fmt.Sprintf("p%d", i)}}
	g.Spec.Selector = rwSels[r.IntN(len(rwSels))]
	for range 1 + r.IntN(3) {
		rule := v3.Rule{Action: v3.Allow, Source: v3.EntityRule{Selector: rwSels[r.IntN(len(rwSels))],
			NamespaceSelector: rwNsSels[r.IntN(len(rwNsSels))]}}
		if r.IntN(3) == 0 {
			tcp := v3.ProtocolFromString("TCP")
			rule.Protocol = &tcp
			rule.Destination.Ports = []v3.Port{{PortName: "http"}}
		}
		g.Spec.Ingress = append(g.Spec.Ingress, rule)
	}
	w.gnps[g.Name], w.last = g, "policy "+g.Name
}

func (w *randomWorld) input() Input {
	var in Input
	for _, k := range slices.Sorted(mapsKeys(w.weps)) {
		in.WorkloadEndpoints = append(in.WorkloadEndpoints, w.weps[k])
	}
	for _, k := range slices.Sorted(mapsKeys(w.compact)) {
		in.Workloads = append(in.Workloads, w.compact[k])
	}
	for _, k := range slices.Sorted(mapsKeys(w.sets)) {
		in.GlobalNetworkSets = append(in.GlobalNetworkSets, w.sets[k])
	}
	for _, k := range slices.Sorted(mapsKeys(w.profiles)) {
		in.Profiles = append(in.Profiles, w.profiles[k])
	}
	for _, k := range slices.Sorted(mapsKeys(w.gnps)) {
		in.GlobalNetworkPolicies = append(in.GlobalNetworkPolicies, w.gnps[k])
	}
	return in
}

func mapsKeys[V any](m map[string]V) iter.Seq[string] { return maps.Keys(m) }

// testWorkload is a Workload as the node agent keeps other nodes'.
type testWorkload struct{ info WorkloadInfo }

func (w *testWorkload) WorkloadInfo() WorkloadInfo { return w.info }

// compactOf is e in the compact form, its Shared value the same for
// endpoints whose attributes other than node, interface and nets are.
func compactOf(e *v3.WorkloadEndpoint) *testWorkload {
	wi := WorkloadInfo{Key: e.Namespace + "/" + e.Name, Namespace: e.Namespace, Name: e.Name, Node: e.Spec.Node,
		Interface: e.Spec.InterfaceName, Orchestrator: e.Spec.Orchestrator, ServiceAccount: e.Spec.ServiceAccountName,
		Pod: e.Spec.Pod, Labels: e.Labels, Nets: nets(e.Spec.IPNetworks), Profiles: e.Spec.Profiles, Ports: e.Spec.Ports}
	wi.Shared = fmt.Sprint(e.Namespace, e.Labels, e.Spec.Orchestrator, e.Spec.ServiceAccountName, e.Spec.Pod,
		e.Spec.Profiles, e.Spec.Ports)
	return &testWorkload{wi}
}

// TestIndexCompactShares: compact workloads of one Shared value share
// their effective labels in the Index, and the Index forgets the Shared
// value when the last of them goes.
func TestIndexCompactShares(t *testing.T) {
	x := NewIndex("n1")
	w1 := compactOf(wep("a", "w1", "n2", "10.0.0.1", map[string]string{"app": "db"}, "kns.a"))
	w2 := compactOf(wep("a", "w2", "n2", "10.0.0.2", map[string]string{"app": "db"}, "kns.a"))
	x.PutCompactWorkload(w1)
	x.PutCompactWorkload(w2)
	e1, e2 := x.entities["a/w1"].e, x.entities["a/w2"].e
	e1.Labels["probe"] = "x"
	if e2.Labels["probe"] != "x" || len(x.shared) != 1 {
		t.Errorf("replicas do not share their labels (%d shared values)", len(x.shared))
	}
	delete(e1.Labels, "probe")
	x.PutProfile("kns.a", map[string]string{"pcns.env": "prod"})
	if got, _ := x.Members(mustSel(t, "", scope{nsSel: "env == 'prod'"})); !slices.Equal(got, prefixes("10.0.0.1/32", "10.0.0.2/32")) {
		t.Errorf("members after the profile changed = %v", got)
	}
	x.DeleteWorkloadKey("a/w1")
	x.DeleteWorkload("a", "w2")
	if len(x.shared) != 0 || len(x.entities) != 0 {
		t.Errorf("kept after the last went: %d shared values, %d entities", len(x.shared), len(x.entities))
	}
}
