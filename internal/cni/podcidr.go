package cni

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	current "github.com/containernetworking/cni/pkg/types/100"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
)

// The subnet values host-local cannot read and Calico's plugin replaces
// with the node's pod CIDRs (calico-reference.md §4.8).
const (
	usePodCIDR     = "usePodCidr"
	usePodCIDRIPv6 = "usePodCidrIPv6"
)

// wantsPodCIDR reports whether the ipam section names usePodCidr.
func wantsPodCIDR(stdin []byte) bool {
	_, changed, _ := swapPodCIDRs(stdin, []string{"0.0.0.0/0", "::/0"})
	return changed
}

// swapPodCIDRs replaces usePodCidr and usePodCidrIPv6 in the ipam section
// ("subnet", and each range's "subnet") by the first IPv4 and IPv6 CIDR of
// cidrs. changed is false when there was nothing to replace.
func swapPodCIDRs(stdin []byte, cidrs []string) (_ []byte, changed bool, _ error) {
	var conf map[string]any
	if err := json.Unmarshal(stdin, &conf); err != nil {
		return nil, false, err
	}
	ipam, _ := conf["ipam"].(map[string]any)
	if ipam == nil {
		return stdin, false, nil
	}
	var v4, v6 string
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		switch {
		case err != nil:
		case p.Addr().Is4() && v4 == "":
			v4 = c
		case p.Addr().Is6() && v6 == "":
			v6 = c
		}
	}
	var err error
	swap := func(m map[string]any) {
		s, _ := m["subnet"].(string)
		var with string
		switch s {
		case usePodCIDR:
			with = v4
		case usePodCIDRIPv6:
			with = v6
		default:
			return
		}
		changed = true
		if with == "" && err == nil {
			err = fmt.Errorf("ipam subnet %s: the node has no such pod CIDR (its spec.podCIDRs: %v)", s, cidrs)
		}
		m["subnet"] = with
	}
	swap(ipam)
	ranges, _ := ipam["ranges"].([]any)
	for _, rs := range ranges {
		set, _ := rs.([]any)
		for _, r := range set {
			if m, ok := r.(map[string]any); ok {
				swap(m)
			}
		}
	}
	if !changed || err != nil {
		return stdin, changed, err
	}
	out, err := json.Marshal(conf)
	return out, true, err
}

// podCIDRIPAM runs an IPAM plugin (host-local) with usePodCidr replaced
// by the Kubernetes Node's spec.podCIDRs, read through the datastore.
type podCIDRIPAM struct {
	inner IPAM
	conf  *NetConf
	open  func(ctx context.Context) (*client.Client, error)
}

var nodeKind, _ = v3.LookupKind("Node")

func (p podCIDRIPAM) swap(ctx context.Context, stdin []byte) ([]byte, error) {
	node, err := p.conf.NodeName()
	if err != nil {
		return nil, err
	}
	cl, err := p.open(ctx)
	if err != nil {
		return nil, err
	}
	r, err := cl.Get(ctx, nodeKind, "", node)
	if err != nil {
		return nil, fmt.Errorf("usePodCidr: read node %s: %w", node, err)
	}
	cidrs := r.(*v3.Node).Status.PodCIDRs
	if len(cidrs) == 0 {
		return nil, fmt.Errorf("usePodCidr: node %s has no spec.podCIDRs (the controller manager allocates them with --allocate-node-cidrs)", node)
	}
	out, _, err := swapPodCIDRs(stdin, cidrs)
	return out, err
}

func (p podCIDRIPAM) Add(ctx context.Context, stdin []byte) (*current.Result, error) {
	conf, err := p.swap(ctx, stdin)
	if err != nil {
		return nil, err
	}
	return p.inner.Add(ctx, conf)
}

func (p podCIDRIPAM) Del(ctx context.Context, stdin []byte) error {
	conf, err := p.swap(ctx, stdin)
	if err != nil {
		return err
	}
	return p.inner.Del(ctx, conf)
}

func (p podCIDRIPAM) Check(ctx context.Context, stdin []byte) error {
	conf, err := p.swap(ctx, stdin)
	if err != nil {
		return err
	}
	return p.inner.Check(ctx, conf)
}

func (p podCIDRIPAM) Status(ctx context.Context, stdin []byte) error {
	conf, err := p.swap(ctx, stdin)
	if err != nil {
		return err
	}
	return p.inner.Status(ctx, conf)
}

func (p podCIDRIPAM) GC(ctx context.Context, stdin []byte) error {
	conf, err := p.swap(ctx, stdin)
	if err != nil {
		return err
	}
	return p.inner.GC(ctx, conf)
}
