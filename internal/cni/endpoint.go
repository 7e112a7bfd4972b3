package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
)

// Labels Calico puts on every WorkloadEndpoint.
const (
	LabelNamespace    = "projectcalico.org/namespace"
	LabelOrchestrator = "projectcalico.org/orchestrator"
)

var (
	wepKind, _     = v3.LookupKind("WorkloadEndpoint")
	profileKind, _ = v3.LookupKind("Profile")
)

// endpoint is the WorkloadEndpoint of an attachment, as Calico writes it
// (calico-anchor.md §3.2).
func endpoint(w Workload, node, hostIf string, mac net.HardwareAddr, addrs []netip.Prefix, profiles []string) *v3.WorkloadEndpoint {
	wep := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{
		Name:      w.WEPName(node),
		Namespace: w.Namespace,
		Labels:    map[string]string{LabelNamespace: w.Namespace, LabelOrchestrator: w.Orchestrator},
	}}
	s := &wep.Spec
	s.Orchestrator, s.Node, s.ContainerID, s.Pod, s.Endpoint = w.Orchestrator, node, w.ContainerID, w.Pod, w.Endpoint
	for _, a := range addrs {
		s.IPNetworks = append(s.IPNetworks, a.String())
	}
	s.Profiles = profiles
	s.InterfaceName = hostIf
	s.MAC = mac.String()
	return wep
}

// profiles are the endpoint's profiles: the network's own profile, as
// Calico does without a policy type. With policy type k8s Calico uses the
// namespace's profile (and the service account's, which needs the pod from
// the Kubernetes API, which comes with the Kubernetes integration).
func (c *NetConf) profiles(w Workload) []string {
	if (c.Policy.Type == "k8s" || c.kdd()) && w.Orchestrator == OrchestratorK8s {
		return []string{"kns." + w.Namespace}
	}
	return []string{c.Name}
}

// networkProfile is the profile Calico creates for a network: members
// (endpoints with the label named after the network) may talk to each
// other, everything may leave.
func networkProfile(name string) *v3.Profile {
	p := &v3.Profile{ObjectMeta: v3.ObjectMeta{Name: name}}
	p.Spec.Ingress = []v3.Rule{{Action: v3.Allow, Source: v3.EntityRule{Selector: "has(" + name + ")"}}}
	p.Spec.Egress = []v3.Rule{{Action: v3.Allow}}
	p.Spec.LabelsToApply = map[string]string{name: ""}
	return p
}

// ensureProfile creates the network's profile unless it exists. It is not
// needed with policy type k8s, whose profiles the Kubernetes controllers
// own.
func (c *NetConf) ensureProfile(ctx context.Context, cl *client.Client) error {
	if c.Policy.Type == "k8s" || c.kdd() { // in KDD, profiles are the namespaces'
		return nil
	}
	_, err := cl.Create(ctx, networkProfile(c.Name))
	if err != nil && !errors.Is(err, datastore.ErrAlreadyExists) {
		return fmt.Errorf("create profile %s: %w", c.Name, err)
	}
	return nil
}

// warmUp is what ADD does with the datastore as soon as it is connected,
// while the interfaces are set up: create the network's profile (etcd),
// or read the Pod the endpoint is written into (Kubernetes datastore), so
// that writing it later is one request.
func (p *Plugin) warmUp(a *attachment) func(context.Context, *client.Client) error {
	return func(ctx context.Context, cl *client.Client) error {
		s := cl.Store()
		if k, ok := s.(keepOpen); ok {
			s = k.Store
		}
		pf, ok := s.(interface {
			Prefetch(ctx context.Context, key string) error
		})
		if !ok {
			return errors.Join(cl.Init(ctx), p.Conf.ensureProfile(ctx, cl))
		}
		// One after the other: the first request opens the connection
		// (TLS), which the second then reuses.
		if err := cl.Init(ctx); err != nil {
			return err
		}
		return errors.Join(pf.Prefetch(ctx, datastore.ResourceKey("workloadendpoints", a.w.Namespace, a.w.WEPName(a.node))),
			p.Conf.ensureProfile(ctx, cl))
	}
}

// writeEndpoint creates the endpoint, or replaces one of the same name (a
// pod's new sandbox, or what an interrupted ADD left). created tells
// whether it is new, and so whether a rollback may delete it.
func writeEndpoint(ctx context.Context, cl *client.Client, wep *v3.WorkloadEndpoint) (created bool, err error) {
	_, err = cl.Create(ctx, wep)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, datastore.ErrAlreadyExists) {
		return false, fmt.Errorf("create WorkloadEndpoint %s/%s: %w", wep.Namespace, wep.Name, err)
	}
	wep.ResourceVersion = ""
	if _, err := cl.Apply(ctx, wep); err != nil {
		return false, fmt.Errorf("replace WorkloadEndpoint %s/%s: %w", wep.Namespace, wep.Name, err)
	}
	return false, nil
}

// getEndpoint reads an endpoint; nil without error when there is none.
func getEndpoint(ctx context.Context, cl *client.Client, namespace, name string) (*v3.WorkloadEndpoint, error) {
	r, err := cl.Get(ctx, wepKind, namespace, name)
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read WorkloadEndpoint %s/%s: %w", namespace, name, err)
	}
	return r.(*v3.WorkloadEndpoint), nil
}

// deleteEndpoint deletes the endpoint if it belongs to containerID, with
// the revision it was read at as precondition, retrying when it changed in
// between. An endpoint of another container (a DEL for an old sandbox of a
// pod that has a new one) is kept; a missing one is success.
func deleteEndpoint(ctx context.Context, cl *client.Client, namespace, name, containerID string) (deleted bool, err error) {
	for range 5 {
		wep, err := getEndpoint(ctx, cl, namespace, name)
		if err != nil || wep == nil {
			return false, err
		}
		if wep.Spec.ContainerID != "" && wep.Spec.ContainerID != containerID {
			return false, nil
		}
		_, err = cl.Delete(ctx, wepKind, namespace, name, wep.ResourceVersion)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, datastore.ErrNotFound):
			return false, nil
		case !errors.Is(err, datastore.ErrConflict):
			return false, fmt.Errorf("delete WorkloadEndpoint %s/%s: %w", namespace, name, err)
		}
	}
	return false, fmt.Errorf("delete WorkloadEndpoint %s/%s: it kept changing", namespace, name)
}
