package nft

import (
	"fmt"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/simcluster"
)

// BenchmarkPolicyChangeAtScale is the agent's work for one change on the
// simulated cluster of BenchmarkScalePolicy (bench/), without the kernel:
// the policy compiled for the node and the table rendered and compared
// with the last (what the Owner then writes is the element delta). Each
// change is timed both ways in the same run: "full" as the agent did
// before the Index (the whole input built, every selector evaluated over
// every endpoint, every set rendered), "indexed" as it does now (the
// Index fed the change; only the touched sets rendered).
//
//	go test -run '^$' -bench PolicyChangeAtScale -benchtime 20x ./internal/dataplane/nft/
func BenchmarkPolicyChangeAtScale(b *testing.B) {
	for _, n := range []int{20_000, 100_000} {
		for _, mode := range []string{"full", "indexed"} {
			for _, change := range []string{"port", "selector", "label", "add"} {
				b.Run(fmt.Sprintf("%d/%s/%s", n, change, mode), func(b *testing.B) {
					w := newScaleWorld(b, n, mode == "indexed")
					b.ResetTimer()
					for i := 0; b.Loop(); i++ {
						w.change(change, i)
						w.sync(b)
					}
				})
			}
		}
	}
}

// scaleWorld is a simulated cluster as one agent holds it.
type scaleWorld struct {
	spec    simcluster.Spec
	in      policy.Input
	x       *policy.Index  // nil: full builds
	pos     map[string]int // full builds: where each endpoint is in the input
	b       *policy.Builder
	runs    *runs
	content content
}

const scaleBenchNode = "bench"

func newScaleWorld(b *testing.B, n int, indexed bool) *scaleWorld {
	w := &scaleWorld{spec: simcluster.Spec{Nodes: n / 20, EndpointsPerNode: 20}, b: policy.NewBuilder(), pos: map[string]int{}}
	w.spec.Defaults()
	if indexed {
		w.x = policy.NewIndex(scaleBenchNode)
	}
	local := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: "bench-k8s-polpod-eth0", Namespace: "default", Labels: map[string]string{"app": "bench"}}}
	local.Spec = v3.WorkloadEndpointSpec{Orchestrator: "k8s", Node: scaleBenchNode, Pod: "polpod", Endpoint: "eth0",
		IPNetworks: []string{"172.31.200.1/32"}, InterfaceName: "cali0123456789a"}
	w.putEndpoint(local)
	for i := range w.spec.Nodes {
		for j := range w.spec.EndpointsPerNode {
			w.putEndpoint(w.spec.Endpoint(i, j, w.spec.EndpointAddr(i, j)))
		}
	}
	for p := range 10 {
		w.in.GlobalNetworkPolicies = append(w.in.GlobalNetworkPolicies, scaleGNP(p, 1000+10*p))
	}
	w.sync(b)
	return w
}

// putEndpoint adds or replaces an endpoint in the input (and the Index).
func (w *scaleWorld) putEndpoint(e *v3.WorkloadEndpoint) {
	if w.x != nil {
		w.x.PutWorkload(e)
		return
	}
	key := e.Namespace + "/" + e.Name
	if i, ok := w.pos[key]; ok {
		w.in.WorkloadEndpoints[i] = e
		return
	}
	w.pos[key] = len(w.in.WorkloadEndpoints)
	w.in.WorkloadEndpoints = append(w.in.WorkloadEndpoints, e)
}

func scaleGNP(p, port0 int) *v3.GlobalNetworkPolicy {
	tcp := v3.ProtocolFromString("TCP")
	g := &v3.GlobalNetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: fmt.Sprintf("scale-pol-%02d", p)}}
	order := float64(p + 1)
	g.Spec.Order, g.Spec.Selector, g.Spec.Types = &order, "app == 'bench'", []v3.PolicyType{v3.PolicyTypeIngress}
	for r := range 10 {
		g.Spec.Ingress = append(g.Spec.Ingress, v3.Rule{Action: v3.Allow, Protocol: &tcp,
			Source:      v3.EntityRule{Selector: fmt.Sprintf("app == 'app%d'", r)},
			Destination: v3.EntityRule{Ports: []v3.Port{v3.SinglePort(uint16(port0 + r))}}})
	}
	return g
}

// change makes change i of a kind: a policy's port, a policy's rule
// selector (new each time), a remote endpoint
// moved between app0 and app5, a new remote endpoint labelled app5.
func (w *scaleWorld) change(kind string, i int) {
	node := i % w.spec.Nodes
	switch kind {
	case "port":
		g := scaleGNP(i%10, 1000+10*(i%10))
		g.Spec.Ingress[0].Destination.Ports = []v3.Port{v3.SinglePort(uint16(30000 + i%1000))}
		w.in.GlobalNetworkPolicies[i%10] = g
	case "selector": // a selector no rule had: evaluated over the cluster once
		g := scaleGNP(i%10, 1000+10*(i%10))
		g.Spec.Ingress[0].Source.Selector = fmt.Sprintf("app == 'app0' && bench != '%d'", i)
		w.in.GlobalNetworkPolicies[i%10] = g
	case "label":
		e := w.spec.Endpoint(node, 0, w.spec.EndpointAddr(node, 0))
		if i/w.spec.Nodes%2 == 0 {
			e.Labels["app"] = "app5"
		}
		w.putEndpoint(e)
	case "add":
		pod := w.spec.EndpointsPerNode + i/w.spec.Nodes
		e := w.spec.Endpoint(node, pod, w.spec.EndpointAddr(node, pod))
		e.Labels["app"] = "app5"
		w.putEndpoint(e)
	}
}

// sync compiles the node's program and renders the table, comparing it
// with the last as the Owner does before a write.
func (w *scaleWorld) sync(b *testing.B) {
	var m *policy.Model
	if w.x != nil {
		m = w.b.BuildIndexed(w.in, w.x)
	} else {
		m = w.b.Build(w.in)
	}
	prog := policy.Compile(m, scaleBenchNode)
	r := newRuns(w.runs)
	c, err := render(Wanted{NAT: natWant(), Policy: &prog}, r)
	if err != nil {
		b.Fatal(err)
	}
	if w.content.def != "" && !equal(w.content, c) && c.def == w.content.def {
		if _, ok := directChanges(w.content, c); !ok {
			b.Fatal("an element change that cannot be written directly")
		}
	}
	w.runs, w.content = r, c
}
