package lab

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/lab/topo"
)

// policyAllows says, from the same policy model tortie-node enforces,
// whether a ping from one pod address to another should get through.
// With agents on every node (expect all), pairs policy denies are not
// expected to connect; otherwise, or when the datastore cannot be read,
// every pair is.
func (l *Lab) policyAllows(ctx context.Context, expect string) func(from, to string) bool {
	all := func(string, string) bool { return true }
	if expect != ExpectAll {
		return all
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := l.Store(ctx)
	if err != nil {
		return all
	}
	c := client.New(s)
	defer c.Close()
	rs, err := c.ListKinds(ctx, policy.Kinds...)
	if err != nil {
		return all
	}
	knps, err := kdd.ListKubernetesNetworkPolicies(ctx, s)
	if err != nil {
		return all
	}
	rs = append(rs, knps...)
	m := policy.Build(policy.FromResources(rs))
	return func(from, to string) bool {
		src, err1 := netip.ParseAddr(from)
		dst, err2 := netip.ParseAddr(to)
		if err1 != nil || err2 != nil {
			return true
		}
		return m.Evaluate(policy.Packet{Src: src, Dst: dst, Protocol: policy.ProtoICMP, ICMPType: 8}).Allowed
	}
}

// labelEndpoint gives the pod's WorkloadEndpoint the pod's labels, as the
// orchestrator does in etcd mode (the CNI plugin knows only the pod's
// name). Calico's own labels on the endpoint stay.
func (l *Lab) labelEndpoint(ctx context.Context, p topo.Pod, containerID string) error {
	if len(p.Labels) == 0 || l.rec.snapshot().CNI != topo.CNITortie || l.kube() {
		return nil // other plugins write no endpoints; in KDD they are the Pods
	}
	s, err := l.Store(ctx)
	if err != nil {
		return err
	}
	c := client.New(s)
	defer c.Close()
	kind, _ := v3.LookupKind("WorkloadEndpoint")
	weps, _, err := c.List(ctx, kind, p.Namespace)
	if err != nil {
		return err
	}
	for _, r := range weps {
		w := r.(*v3.WorkloadEndpoint)
		if w.Spec.ContainerID != containerID {
			continue
		}
		if w.Labels == nil {
			w.Labels = map[string]string{}
		}
		for k, v := range p.Labels {
			w.Labels[k] = v
		}
		if _, err := c.Update(ctx, w); err != nil {
			return fmt.Errorf("label the endpoint of pod %s: %w", p.Key(), err)
		}
		return nil
	}
	return fmt.Errorf("pod %s: no workload endpoint with container %s", p.Key(), containerID)
}
