package cni

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

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
//
// The CIDRs are also kept in <state_dir>/podcidrs, so that the next
// command need not wait for the Node: an ADD runs host-local on the kept
// CIDRs while it reads the Node, and if the Node's differ (it was
// registered again with others) releases that address and allocates
// from the Node's. A DEL releases by container ID, whatever the range, so
// the kept CIDRs serve it without a read.
type podCIDRIPAM struct {
	inner IPAM
	conf  *NetConf
	open  func(ctx context.Context) (*client.Client, error)
}

var nodeKind, _ = v3.LookupKind("Node")

// podCIDRFile keeps the CIDRs of one node.
type podCIDRFile struct {
	Node     string   `json:"node"`
	PodCIDRs []string `json:"podCIDRs"`
}

func (p podCIDRIPAM) file() string { return filepath.Join(p.conf.stateDir(), "podcidrs") }

// kept returns the CIDRs kept for node, nil if none.
func (p podCIDRIPAM) kept(node string) []string {
	var f podCIDRFile
	b, err := os.ReadFile(p.file())
	if err != nil || json.Unmarshal(b, &f) != nil || f.Node != node {
		return nil
	}
	return f.PodCIDRs
}

// keep writes the file (best effort: without it, the next command reads
// the Node first).
func (p podCIDRIPAM) keep(node string, cidrs []string) {
	b, _ := json.Marshal(podCIDRFile{Node: node, PodCIDRs: cidrs})
	tmp := p.file() + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, p.file())
	}
}

// read returns the Node's pod CIDRs.
func (p podCIDRIPAM) read(ctx context.Context, node string) ([]string, error) {
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
	return cidrs, nil
}

// swap returns stdin with the Node's CIDRs, read now.
func (p podCIDRIPAM) swap(ctx context.Context, stdin []byte) ([]byte, error) {
	node, err := p.conf.NodeName()
	if err != nil {
		return nil, err
	}
	cidrs, err := p.read(ctx, node)
	if err != nil {
		return nil, err
	}
	p.keep(node, cidrs)
	out, _, err := swapPodCIDRs(stdin, cidrs)
	return out, err
}

func (p podCIDRIPAM) Add(ctx context.Context, stdin []byte) (*current.Result, error) {
	node, err := p.conf.NodeName()
	if err != nil {
		return nil, err
	}
	kept := p.kept(node)
	if kept == nil {
		conf, err := p.swap(ctx, stdin)
		if err != nil {
			return nil, err
		}
		return p.inner.Add(ctx, conf)
	}
	conf, _, err := swapPodCIDRs(stdin, kept)
	if err != nil {
		return nil, err
	}
	type read struct {
		cidrs []string
		err   error
	}
	fresh := make(chan read, 1)
	go func() {
		cidrs, err := p.read(ctx, node)
		fresh <- read{cidrs, err}
	}()
	res, addErr := p.inner.Add(ctx, conf)
	f := <-fresh
	if f.err == nil && slices.Equal(f.cidrs, kept) {
		return res, addErr
	}
	if addErr == nil {
		_ = p.inner.Del(ctx, conf) // from the wrong range, or unverified
	}
	if f.err != nil {
		return nil, f.err
	}
	p.keep(node, f.cidrs)
	conf, _, err = swapPodCIDRs(stdin, f.cidrs)
	if err != nil {
		return nil, err
	}
	return p.inner.Add(ctx, conf)
}

func (p podCIDRIPAM) Del(ctx context.Context, stdin []byte) error {
	node, err := p.conf.NodeName()
	if err != nil {
		return err
	}
	if kept := p.kept(node); kept != nil {
		conf, _, err := swapPodCIDRs(stdin, kept)
		if err != nil {
			return err
		}
		return p.inner.Del(ctx, conf)
	}
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
