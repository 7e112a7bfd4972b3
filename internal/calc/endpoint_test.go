package calc

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
)

// TestEndpointForPolicy: policy builds the same entity from an Endpoint
// (through policy.Workload) as from the WorkloadEndpoint it was made of.
func TestEndpointForPolicy(t *testing.T) {
	g := gen{r: rand.New(rand.NewPCG(11, 1))}
	pr := &v3.Profile{ObjectMeta: v3.ObjectMeta{Name: "kns.ns"}, Spec: v3.ProfileSpec{LabelsToApply: map[string]string{"team": "x"}}}
	for i := range 500 {
		_, w := g.endpoint()
		w.Spec.Profiles = []string{"kns.ns", "ksa.ns.default"}[:g.r.IntN(3)]
		w.Spec.ServiceAccountName, w.Spec.Orchestrator, w.Spec.Pod = g.pick("", "sa"), g.pick("", "k8s"), g.pick("", "pod")
		if g.r.IntN(2) == 0 {
			w.Spec.Ports = []v3.WorkloadEndpointPort{{Name: "http", Protocol: v3.ProtocolFromString("TCP"), Port: 80}}
		}
		w.Spec.IPNetworks = append(w.Spec.IPNetworks, g.pick("10.0.0.1", "10.1.0.0/24", "10.0.0.9/32"))
		ep := EndpointOf(w)
		a := policy.NewBuilder().Build(policy.Input{Profiles: []*v3.Profile{pr}, WorkloadEndpoints: []*v3.WorkloadEndpoint{w}})
		b := policy.NewBuilder().Build(policy.Input{Profiles: []*v3.Profile{pr}, Workloads: []policy.Workload{&ep, &ep}})
		if len(a.Entities) != 1 || len(b.Entities) != 2 || !reflect.DeepEqual(a.Entities[0], b.Entities[0]) ||
			!reflect.DeepEqual(a.Entities[0], b.Entities[1]) {
			t.Fatalf("%d: %+v\nfrom the WorkloadEndpoint: %+v\nfrom the Endpoint: %+v", i, w, a.Entities[0], b.Entities)
		}
	}
}

// sharedAttrs are attributes the property test's endpoints share, as the
// node agent's decoder shares them: endpoints of equal labels and
// attributes get one *EndpointAttrs.
var sharedAttrs = map[string]*EndpointAttrs{}

// shared is ep with its attributes shared (see sharedAttrs).
func shared(ep Endpoint) Endpoint {
	if ep.Attrs == nil {
		return ep
	}
	k := fmt.Sprintf("%v %+v", slices.Sorted(maps.Keys(ep.Attrs.Labels)), *ep.Attrs)
	if a := sharedAttrs[k]; a != nil && a.Equal(ep.Attrs) {
		ep.Attrs = a
	} else {
		sharedAttrs[k] = ep.Attrs
	}
	return ep
}
