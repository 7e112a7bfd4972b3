package lab

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/lab/topo"
)

// Status is what `lab status` shows: the lab as the kernel and the
// datastore see it now, not only as it was planned.
type Status struct {
	Name      string `json:"name"`
	Phase     string `json:"phase"`
	Error     string `json:"error,omitempty"`
	Underlay  string `json:"underlay"`
	CNI       string `json:"cni"`
	Datastore string `json:"datastore"`
	// DatastoreErr says why the datastore could not be read.
	DatastoreErr string            `json:"datastoreError,omitempty"`
	Pool         string            `json:"pool"`
	Subnets      []SubnetStatus    `json:"subnets"`
	Outside      *OutsideStatus    `json:"outside,omitempty"`
	Nodes        []HostStatus      `json:"nodes"`
	Routers      []HostStatus      `json:"routers,omitempty"`
	Pods         []PodStatus       `json:"pods"`
	Processes    []ProcessStatus   `json:"processes"`
	Sessions     []SessionStatus   `json:"sessions,omitempty"`
	Blocks       []BlockStatus     `json:"blocks,omitempty"`
	Missing      []string          `json:"missing,omitempty"` // namespaces that should exist but do not
	Links        map[string][]Link `json:"-"`
}

// SubnetStatus is one underlay subnet.
type SubnetStatus struct {
	Name    string `json:"name"`
	CIDR    string `json:"cidr"`
	Gateway string `json:"gateway"`
	MTU     int    `json:"mtu"`
}

// OutsideStatus is the network beyond the gateway.
type OutsideStatus struct {
	Address string `json:"address"` // the "internet host"
	CIDR    string `json:"cidr"`    // the link between underlay and outside
	Gateway string `json:"gateway"` // the underlay's address on it
}

// HostStatus is a node or a router.
type HostStatus struct {
	Name       string        `json:"name"`
	Kind       string        `json:"kind,omitempty"` // routers: bird2, frr, none
	Netns      string        `json:"netns"`
	Interfaces []IfaceStatus `json:"interfaces"`
	// Agent is the node agent's state: "running", "exited", "not built".
	Agent string `json:"agent,omitempty"`
	// From the Node resource, once an agent wrote it.
	NodeIP   string   `json:"nodeIP,omitempty"`
	TunnelIP string   `json:"tunnelIP,omitempty"`
	Blocks   []string `json:"blocks,omitempty"`
}

// IfaceStatus is an underlay interface of a host.
type IfaceStatus struct {
	Name   string   `json:"name"`
	Subnet string   `json:"subnet"`
	Addrs  []string `json:"addrs"`
	Up     bool     `json:"up"`
	MTU    int      `json:"mtu"`
}

// PodStatus is a pod.
type PodStatus struct {
	Key    string            `json:"key"`
	Node   string            `json:"node"`
	Netns  string            `json:"netns"`
	IPs    []string          `json:"ips"`
	HostIf string            `json:"hostIf,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Error  string            `json:"error,omitempty"`
}

// ProcessStatus is a process the lab started.
type ProcessStatus struct {
	Role    string `json:"role"`
	Netns   string `json:"netns"`
	Pid     int    `json:"pid"`
	Running bool   `json:"running"`
	Log     string `json:"log"`
}

// BlockStatus is an IPAM block in the datastore.
type BlockStatus struct {
	CIDR     string `json:"cidr"`
	Affinity string `json:"affinity,omitempty"`
	InUse    int    `json:"inUse"`
	Size     int    `json:"size"`
}

// SessionStatus is a BGP session as a node's agent reports it (`tortiectl
// node status` on that node): Peer is the peer's lab name and address.
type SessionStatus struct {
	Node, Peer, Type, State string
}

// Status reads the lab's namespaces and datastore. Parts that cannot be
// read are reported in the result, not as an error.
func (l *Lab) Status(ctx context.Context) (*Status, error) {
	st := l.rec.snapshot()
	t := l.top
	s := &Status{Name: st.Name, Phase: st.Phase, Error: st.Error, Underlay: t.Underlay, CNI: st.CNI,
		Datastore: st.Datastore, Pool: t.Pool.Prefix.String()}
	inv, err := readInventory(l.Members())
	if err != nil {
		return nil, err
	}
	s.Links = inv
	for _, m := range l.Members() {
		if _, ok := inv[m.Netns]; !ok {
			s.Missing = append(s.Missing, m.Netns)
		}
	}
	for _, sn := range t.Subnets {
		s.Subnets = append(s.Subnets, SubnetStatus{sn.Name, sn.Prefix.String(), sn.GatewayIP.String(), sn.MTU})
	}
	if o := t.Outside; o != nil {
		s.Outside = &OutsideStatus{Address: o.Host.String(), CIDR: o.Prefix.String(), Gateway: o.Gateway().String()}
	}
	agents := map[string]string{}
	for _, p := range st.Processes {
		s.Processes = append(s.Processes, ProcessStatus{p.Role, p.Netns, p.Pid, alive(p), p.Log})
		if node, ok := strings.CutPrefix(p.Role, agentBinary+"/"); ok {
			agents[node] = map[bool]string{true: "running", false: "exited"}[alive(p)]
		}
	}
	for _, n := range t.Nodes {
		h := hostStatus(inv, n.Name, l.nodeNS(n.Name), n.Interfaces)
		h.Agent = agents[n.Name]
		if h.Agent == "" {
			h.Agent = "not built"
		}
		s.Nodes = append(s.Nodes, h)
	}
	for _, r := range t.Routers {
		h := hostStatus(inv, r.Name, l.routerNS(r.Name), r.Interfaces)
		h.Kind = r.Kind
		s.Routers = append(s.Routers, h)
	}
	s.Pods = l.podStatus(inv, st.Pods)
	l.readDatastore(ctx, s)
	s.Sessions = l.bgpSessions(ctx, agents)
	return s, nil
}

func hostStatus(inv inventory, name, netns string, ifaces []topo.Interface) HostStatus {
	h := HostStatus{Name: name, Netns: netns}
	for _, ifc := range ifaces {
		is := IfaceStatus{Name: ifc.Name, Subnet: ifc.Subnet}
		if lk, ok := inv.link(netns, ifc.Name); ok {
			is.Up, is.MTU = lk.Up, lk.MTU
			for _, a := range lk.Addrs {
				is.Addrs = append(is.Addrs, a.String())
			}
		}
		h.Interfaces = append(h.Interfaces, is)
	}
	return h
}

// podStatus reports each pod's addresses as its eth0 holds them now.
func (l *Lab) podStatus(inv inventory, recs []PodRecord) []PodStatus {
	byKey := map[string]PodRecord{}
	for _, r := range recs {
		byKey[r.Key] = r
	}
	var out []PodStatus
	for _, p := range l.top.Pods {
		r := byKey[p.Key()]
		ps := PodStatus{Key: p.Key(), Node: p.Node, Netns: l.podNS(p), HostIf: r.HostIf, Labels: p.Labels, Error: r.Error}
		if lk, ok := inv.link(ps.Netns, podIfName); ok {
			for _, a := range lk.Addrs {
				ps.IPs = append(ps.IPs, a.String())
			}
		} else if _, made := byKey[p.Key()]; !made {
			ps.Error = "not created"
		}
		out = append(out, ps)
	}
	return out
}

// readDatastore adds Node resources and IPAM blocks to s.
func (l *Lab) readDatastore(ctx context.Context, s *Status) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	store, err := l.Store(ctx)
	if err != nil {
		s.DatastoreErr = err.Error()
		return
	}
	defer store.Close()
	nodes, _, err := store.List(ctx, datastore.ResourceListPrefix("nodes", ""))
	if err != nil {
		s.DatastoreErr = err.Error()
		return
	}
	byName := map[string]*HostStatus{}
	for i := range s.Nodes {
		byName[s.Nodes[i].Name] = &s.Nodes[i]
	}
	for _, kv := range nodes {
		var n v3.Node
		if json.Unmarshal(kv.Value, &n) != nil || n.Spec.BGP == nil {
			continue
		}
		if h := byName[n.Name]; h != nil {
			h.NodeIP, h.TunnelIP = n.Spec.BGP.IPv4Address, n.Spec.BGP.IPv4IPIPTunnelAddr
			if h.TunnelIP == "" {
				h.TunnelIP = n.Spec.IPv4VXLANTunnelAddr
			}
		}
	}
	blocks, _, err := store.List(ctx, ipamBlockPrefix)
	if err != nil {
		s.DatastoreErr = err.Error()
		return
	}
	for _, kv := range blocks {
		b, ok := parseBlock(kv.Value)
		if !ok {
			continue
		}
		s.Blocks = append(s.Blocks, b)
		if node, ok := strings.CutPrefix(b.Affinity, "host:"); ok && byName[node] != nil {
			byName[node].Blocks = append(byName[node].Blocks, b.CIDR)
		}
	}
	byAddr := func(a, b string) int {
		pa, _ := netip.ParsePrefix(a)
		pb, _ := netip.ParsePrefix(b)
		return pa.Addr().Compare(pb.Addr())
	}
	slices.SortFunc(s.Blocks, func(a, b BlockStatus) int { return byAddr(a.CIDR, b.CIDR) })
	for i := range s.Nodes {
		slices.SortFunc(s.Nodes[i].Blocks, byAddr)
	}
}

// ipamBlockPrefix is where Calico keeps IPv4 blocks (calico-reference §5.1).
const ipamBlockPrefix = "/calico/ipam/v2/assignment/ipv4/block/"

// parseBlock reads the parts of a Calico AllocationBlock that status shows.
func parseBlock(data []byte) (BlockStatus, bool) {
	var b struct {
		CIDR        string  `json:"cidr"`
		Affinity    *string `json:"affinity"`
		Allocations []*int  `json:"allocations"`
	}
	if json.Unmarshal(data, &b) != nil || b.CIDR == "" {
		return BlockStatus{}, false
	}
	bs := BlockStatus{CIDR: b.CIDR, Size: len(b.Allocations)}
	if b.Affinity != nil {
		bs.Affinity = *b.Affinity
	}
	for _, a := range b.Allocations {
		if a != nil {
			bs.InUse++
		}
	}
	return bs, true
}
