package simcluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/ipam"
)

// Pool is the cluster's IPPool: VXLAN Always, natOutgoing, every node.
func (s *Spec) Pool() *v3.IPPool {
	p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: s.PoolName()}}
	p.Spec.CIDR, p.Spec.BlockSize, p.Spec.NodeSelector = s.PoolCIDR.String(), s.BlockSize, "all()"
	p.Spec.VXLANMode, p.Spec.IPIPMode, p.Spec.NATOutgoing = v3.EncapAlways, v3.EncapNever, true
	return p
}

// Node is node i as calico-node registers it, with its VXLAN tunnel
// address and MAC.
func (s *Spec) Node(i int) *v3.Node {
	name := s.NodeName(i)
	n := &v3.Node{ObjectMeta: v3.ObjectMeta{Name: name, Labels: map[string]string{
		"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}}}
	n.Spec.BGP = &v3.NodeBGPSpec{IPv4Address: s.NodeAddr(i).String()}
	n.Spec.IPv4VXLANTunnelAddr = s.TunnelAddr(i).String()
	n.Spec.VXLANTunnelMACAddr = s.VTEPMAC(i).String()
	n.Spec.OrchRefs = []v3.OrchRef{{Orchestrator: "k8s", NodeName: name}}
	return n
}

// PodName is the name of node i's pod j.
func (s *Spec) PodName(i, j int) string { return fmt.Sprintf("%sp%03d", s.NodeName(i), j) }

// ContainerID is the container of node i's pod j: 64 hex digits, as
// containerd's, unique to the cluster's prefix.
func (s *Spec) ContainerID(i, j int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d/%d", s.Prefix, i, j))
	return hex.EncodeToString(sum[:])
}

// Handle is the IPAM handle of node i's pod j, as the CNI plugin names it.
func (s *Spec) Handle(i, j int) string { return "k8s-pod-network." + s.ContainerID(i, j) }

// Endpoint is the WorkloadEndpoint of node i's pod j with address addr,
// as the CNI plugin writes it.
func (s *Spec) Endpoint(i, j int, addr netip.Addr) *v3.WorkloadEndpoint {
	node, pod, ns := s.NodeName(i), s.PodName(i, j), s.Namespace()
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{
		Name:      node + "-k8s-" + pod + "-eth0",
		Namespace: ns,
		Labels: map[string]string{"projectcalico.org/namespace": ns, "projectcalico.org/orchestrator": "k8s",
			"projectcalico.org/serviceaccount": "default", "app": fmt.Sprintf("app%d", j%10)},
	}}
	w.Spec = v3.WorkloadEndpointSpec{Orchestrator: "k8s", Node: node, ContainerID: s.ContainerID(i, j), Pod: pod,
		Endpoint: "eth0", ServiceAccountName: "default", IPNetworks: []string{netip.PrefixFrom(addr, 32).String()},
		Profiles: []string{"kns." + ns, "ksa." + ns + ".default"}, InterfaceName: fmt.Sprintf("cali%05x%06x", i&0xfffff, j&0xffffff),
		MAC: fmt.Sprintf("0e:%02x:%02x:%02x:%02x:%02x", byte(i>>16), byte(i>>8), byte(i), byte(j>>8), byte(j))}
	return w
}

// PodAttrs are the allocation attributes of node i's pod j.
func (s *Spec) PodAttrs(i, j int, now time.Time) map[string]string {
	return map[string]string{ipam.AttrNode: s.NodeName(i), ipam.AttrNamespace: s.Namespace(), ipam.AttrPod: s.PodName(i, j),
		ipam.AttrTimestamp: now.UTC().String()}
}

// NodeBlock is node i's block with its tunnel address and every
// endpoint's address allocated.
func (s *Spec) NodeBlock(i int, now time.Time) (*ipam.Block, error) {
	name := s.NodeName(i)
	b := ipam.NewAffineBlock(s.Block(i), name, now)
	err := b.Assign(s.TunnelAddr(i), ipam.TunnelHandle(ipam.TypeVXLANTunnel, name),
		map[string]string{ipam.AttrNode: name, ipam.AttrType: ipam.TypeVXLANTunnel})
	for j := 0; j < s.EndpointsPerNode && err == nil; j++ {
		err = b.Assign(s.EndpointAddr(i, j), s.Handle(i, j), s.PodAttrs(i, j, now))
	}
	if err != nil {
		return nil, fmt.Errorf("node %s's block %s: %w", name, s.Block(i), err)
	}
	return b, nil
}
