package calc

import (
	"bytes"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
)

// Endpoint is what the calculation keeps of a WorkloadEndpoint, and the
// only copy the node agent keeps of another node's: what routing reads
// (node, addresses; interface and MAC for this node's own) and what
// policy reads (name, labels, the attributes in Attrs). It is small
// (72 bytes and its addresses) because most of it is shared: endpoints
// alike (the replicas of a workload) can share one Labels map and one
// Attrs, and the Engine never changes either; what few endpoints have
// (an interface, a MAC, ipNetworks other than IPv4 /32s) is apart.
// Policy reads it through WorkloadInfo (policy.Workload).
type Endpoint struct {
	Node string
	// Addrs are the IPv4 addresses of ipNetworks, in order.
	Addrs []netip.Addr
	// ID is "<namespace>/<name>" (the node agent's key of the endpoint
	// in the Engine, and policy's).
	ID string
	// Attrs are the labels and the rest of what policy reads (nil:
	// none); shared.
	Attrs *EndpointAttrs
	more  *endpointMore // nil: none of it
}

// endpointMore is what an Endpoint seldom has (another node's endpoint
// has no interface nor MAC here, and its ipNetworks are mostly one IPv4
// /32).
type endpointMore struct {
	iface string
	mac   net.HardwareAddr // nil: none, or not a MAC
	// nets are ipNetworks as prefixes when they are not all IPv4 /32s
	// (Addrs say it all otherwise): policy reads them.
	nets []netip.Prefix
}

func (e *Endpoint) extra() *endpointMore {
	if e.more == nil {
		e.more = &endpointMore{}
	}
	return e.more
}

// Interface is the endpoint's interface ("": none).
func (e *Endpoint) Interface() string {
	if e.more == nil {
		return ""
	}
	return e.more.iface
}

// MAC is the endpoint's MAC (nil: none, or not a MAC); read-only.
func (e *Endpoint) MAC() net.HardwareAddr {
	if e.more == nil {
		return nil
	}
	return e.more.mac
}

// SetLocal sets the interface and MAC (while the endpoint is being made).
func (e *Endpoint) SetLocal(iface string, mac net.HardwareAddr) {
	if iface != "" || mac != nil || e.more != nil {
		m := e.extra()
		m.iface, m.mac = iface, mac
	}
}

func (e *Endpoint) nets() []netip.Prefix {
	if e.more == nil {
		return nil
	}
	return e.more.nets
}

// EndpointAttrs are the attributes of an Endpoint that many endpoints
// share: read-only once made.
type EndpointAttrs struct {
	// Labels feed the label index; the Engine does not change them.
	Labels         map[string]string
	Namespace      string
	Orchestrator   string
	ServiceAccount string
	Pod            string // set only when not shared: see EndpointOf
	Profiles       []string
	Ports          []v3.WorkloadEndpointPort
}

// Equal says whether two attribute sets are the same.
func (a *EndpointAttrs) Equal(b *EndpointAttrs) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return maps.Equal(a.Labels, b.Labels) && a.Namespace == b.Namespace && a.Orchestrator == b.Orchestrator && a.ServiceAccount == b.ServiceAccount &&
		a.Pod == b.Pod && slices.Equal(a.Profiles, b.Profiles) && slices.Equal(a.Ports, b.Ports)
}

// EndpointOf is the Endpoint of a WorkloadEndpoint, with attributes of
// its own (the pod name among them; nothing shared).
func EndpointOf(w *v3.WorkloadEndpoint) Endpoint {
	ep := Endpoint{Node: w.Spec.Node, ID: w.Namespace + "/" + w.Name,
		Attrs: &EndpointAttrs{Labels: w.Labels, Namespace: w.Namespace, Orchestrator: w.Spec.Orchestrator, ServiceAccount: w.Spec.ServiceAccountName,
			Pod: w.Spec.Pod, Profiles: w.Spec.Profiles, Ports: w.Spec.Ports}}
	mac, err := net.ParseMAC(w.Spec.MAC)
	if err != nil {
		mac = nil
	}
	ep.SetLocal(w.Spec.InterfaceName, mac)
	for _, n := range w.Spec.IPNetworks {
		ep.AddNet(n)
	}
	return ep
}

// AddNet adds one entry of ipNetworks (while the endpoint is being
// made): its address to Addrs when it is a CIDR (IPv4 or IPv6), and to
// the networks kept apart (as policy reads it, policy.ParseNet) unless
// every entry so far is an IPv4 /32. An entry that does not parse is
// skipped.
func (e *Endpoint) AddNet(s string) {
	n, err := policy.ParseNet(s)
	p, perr := netip.ParsePrefix(s)
	routable := perr == nil
	if routable {
		e.Addrs = append(e.Addrs, p.Addr())
	}
	if e.nets() == nil && routable && p.Addr().Is4() && p.Bits() == 32 {
		return
	}
	m := e.extra()
	if m.nets == nil {
		known := e.Addrs
		if routable {
			known = known[:len(known)-1]
		}
		m.nets = make([]netip.Prefix, 0, len(known)+1)
		for _, a := range known {
			m.nets = append(m.nets, netip.PrefixFrom(a, 32))
		}
	}
	if err == nil {
		m.nets = append(m.nets, n)
	}
}

// Name is the endpoint's name (ID without the namespace).
func (e *Endpoint) Name() string { return e.ID[strings.LastIndexByte(e.ID, '/')+1:] }

// Labels are the endpoint's labels (read-only).
func (e *Endpoint) Labels() map[string]string {
	if e.Attrs == nil {
		return nil
	}
	return e.Attrs.Labels
}

// Networks are the endpoint's ipNetworks as prefixes (fresh).
func (e *Endpoint) Networks() []netip.Prefix {
	if n := e.nets(); n != nil {
		return slices.Clone(n)
	}
	out := make([]netip.Prefix, len(e.Addrs))
	for i, a := range e.Addrs {
		out[i] = netip.PrefixFrom(a, 32)
	}
	return out
}

// Equal says whether two endpoints are the same to the calculation and
// to policy.
func (e Endpoint) Equal(o Endpoint) bool {
	return e.Node == o.Node && e.Interface() == o.Interface() && bytes.Equal(e.MAC(), o.MAC()) &&
		slices.Equal(e.Addrs, o.Addrs) && slices.Equal(e.nets(), o.nets()) &&
		e.ID == o.ID && e.Attrs.Equal(o.Attrs)
}

var _ policy.Workload = (*Endpoint)(nil)

// WorkloadInfo implements policy.Workload. The slices and the map are
// the endpoint's own (shared): read-only.
func (e *Endpoint) WorkloadInfo() policy.WorkloadInfo {
	wi := policy.WorkloadInfo{Key: e.ID, Name: e.Name(), Node: e.Node, Interface: e.Interface(), Nets: e.Networks()}
	if a := e.Attrs; a != nil {
		wi.Shared, wi.Labels = a, a.Labels
		wi.Namespace, wi.Orchestrator, wi.ServiceAccount, wi.Pod = a.Namespace, a.Orchestrator, a.ServiceAccount, a.Pod
		wi.Profiles, wi.Ports = a.Profiles, a.Ports
	}
	return wi
}

// workload is the endpoint as a WorkloadEndpoint (Snapshot's, for
// Compute).
func (e *Endpoint) workload() *v3.WorkloadEndpoint {
	w := &v3.WorkloadEndpoint{}
	w.Name, w.Labels = e.Name(), e.Labels()
	w.Spec.Node, w.Spec.InterfaceName = e.Node, e.Interface()
	if mac := e.MAC(); mac != nil {
		w.Spec.MAC = mac.String()
	}
	for _, p := range e.Networks() {
		w.Spec.IPNetworks = append(w.Spec.IPNetworks, p.String())
	}
	if a := e.Attrs; a != nil {
		w.Namespace, w.Spec.Orchestrator, w.Spec.ServiceAccountName, w.Spec.Pod = a.Namespace, a.Orchestrator, a.ServiceAccount, a.Pod
		w.Spec.Profiles, w.Spec.Ports = a.Profiles, a.Ports
	}
	return w
}
