package topo

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Defaults of a topology.
const (
	DefaultName         = "lab"
	DefaultMTU          = 1500
	DefaultPodNamespace = "default"
	DefaultPoolCIDR     = "10.244.0.0/16"
	DefaultBlockSize    = 26
	DefaultOutsideCIDR  = "172.31.254.0/24"
	DefaultOutsideHost  = "198.51.100.1"
	DefaultIfName       = "eth0"

	// firstHostOffset is where automatic host addresses start in a subnet
	// (.10 in a /24), leaving room below for hand-picked ones.
	firstHostOffset = 10
)

// DefaultSubnetCIDR is the CIDR of the i-th (0-based) default subnet.
func DefaultSubnetCIDR(i int) string { return fmt.Sprintf("172.31.%d.0/24", i+1) }

// Resolve fills in defaults, parses every address, assigns host addresses
// and link names, and validates the whole topology. On error it returns a
// *ValidationError naming every bad field, and t may be partly filled in.
// Resolve is idempotent: a resolved topology resolves to itself.
func Resolve(t *Topology) error {
	var p problems
	applyDefaults(t)
	if t.Name != "" {
		p.check("name", t.Name, CheckLabName(t.Name))
	}
	switch t.CNI {
	case CNIAuto, CNITortie, CNIPtp, CNIBridge:
	default:
		p.add("cni", t.CNI, "must be one of auto, tortie, ptp, bridge")
	}
	checkDatastore(t, &p)
	resolveSubnets(t, &p)
	switch {
	case t.Underlay != UnderlayL2 && t.Underlay != UnderlayRouted:
		p.add("underlay", t.Underlay, "must be l2 or routed")
	case t.Underlay == UnderlayL2 && len(t.Subnets) > 1:
		p.add("underlay", t.Underlay, "has exactly one subnet, but %d are given; use routed", len(t.Subnets))
	}
	resolvePool(t, &p)
	resolveOutside(t, &p)
	checkOverlaps(t, &p)
	checkHostNames(t, &p)
	resolveInterfaces(t, &p)
	resolvePods(t, &p)
	return p.err()
}

func applyDefaults(t *Topology) {
	if t.Name == "" {
		t.Name = DefaultName
	}
	if t.CNI == "" {
		t.CNI = CNIAuto
	}
	if t.Datastore == "" {
		t.Datastore = DatastoreEtcd
	}
	if len(t.Subnets) == 0 {
		n := 1
		if t.Underlay == UnderlayRouted {
			n = 2
		}
		for i := range n {
			t.Subnets = append(t.Subnets, Subnet{Name: fmt.Sprintf("s%d", i+1), CIDR: DefaultSubnetCIDR(i)})
		}
	}
	if t.Underlay == "" {
		t.Underlay = UnderlayL2
		if len(t.Subnets) > 1 {
			t.Underlay = UnderlayRouted
		}
	}
	if t.Pool.CIDR == "" {
		t.Pool.CIDR = DefaultPoolCIDR
	}
	if t.Pool.BlockSize == 0 {
		t.Pool.BlockSize = DefaultBlockSize
	}
	if t.Pool.IPIPMode == "" {
		t.Pool.IPIPMode = "Never"
	}
	if t.Pool.VXLANMode == "" {
		t.Pool.VXLANMode = "Never"
	}
	if t.Pool.NATOutgoing == nil {
		yes := true
		t.Pool.NATOutgoing = &yes
	}
	if t.Outside != nil {
		if t.Outside.CIDR == "" {
			t.Outside.CIDR = DefaultOutsideCIDR
		}
		if t.Outside.Address == "" {
			t.Outside.Address = DefaultOutsideHost
		}
	}
	for i := range t.Pods {
		if t.Pods[i].Namespace == "" {
			t.Pods[i].Namespace = DefaultPodNamespace
		}
	}
	for i := range t.Routers {
		if t.Routers[i].Kind == "" {
			t.Routers[i].Kind = RouterNone
		}
	}
}

// parseNet parses an IPv4 network address with a prefix of at most /30.
func parseNet(p *problems, field, s string) (netip.Prefix, bool) {
	pfx, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		p.add(field, s, "is not a CIDR (like 172.31.1.0/24)")
	case !pfx.Addr().Is4():
		p.add(field, s, "is not IPv4; the lab's underlay is IPv4")
	case pfx != pfx.Masked():
		p.add(field, s, "has host bits set; did you mean %s?", pfx.Masked())
	default:
		return pfx, true
	}
	return netip.Prefix{}, false
}

func resolveSubnets(t *Topology, p *problems) {
	seen := map[string]bool{}
	for i := range t.Subnets {
		s := &t.Subnets[i]
		f := fmt.Sprintf("subnets[%d]", i)
		if p.check(f+".name", s.Name, checkSubnetName(s.Name)) {
			if seen[s.Name] {
				p.add(f+".name", s.Name, "is used by another subnet")
			}
			seen[s.Name] = true
		}
		if s.MTU == 0 {
			s.MTU = DefaultMTU
		}
		if s.MTU < 1280 || s.MTU > 9000 {
			p.add(f+".mtu", strconv.Itoa(s.MTU), "must be between 1280 and 9000")
		}
		pfx, ok := parseNet(p, f+".cidr", s.CIDR)
		if !ok {
			continue
		}
		if pfx.Bits() > 30 || pfx.Bits() < 16 {
			p.add(f+".cidr", s.CIDR, "must be between a /16 and a /30")
			continue
		}
		s.Prefix = pfx
		if s.CIDR6 != "" {
			s.Prefix6, _ = parseNet6(p, f+".cidr6", s.CIDR6, 64, 120)
		}
		if s.Gateway == "" {
			s.Gateway = pfx.Addr().Next().String()
		}
		gw, err := netip.ParseAddr(s.Gateway)
		if err != nil || !usableHost(pfx, gw) {
			p.add(f+".gateway", s.Gateway, "must be a host address inside %s", pfx)
			continue
		}
		s.GatewayIP = gw
	}
}

// parseNet6 parses an IPv6 network address with a prefix length in
// [minBits, maxBits].
func parseNet6(p *problems, field, s string, minBits, maxBits int) (netip.Prefix, bool) {
	pfx, err := netip.ParsePrefix(s)
	switch {
	case err != nil || !pfx.Addr().Is6() || pfx.Addr().Is4In6():
		p.add(field, s, "is not an IPv6 CIDR (like fd00:ff::/64)")
	case pfx != pfx.Masked():
		p.add(field, s, "has host bits set; did you mean %s?", pfx.Masked())
	case pfx.Bits() < minBits || pfx.Bits() > maxBits:
		p.add(field, s, "must be between a /%d and a /%d", minBits, maxBits)
	default:
		return pfx, true
	}
	return netip.Prefix{}, false
}

func checkSubnetName(name string) error {
	if len(name) > MaxSubnetName {
		return fmt.Errorf("is %d bytes long; at most %d (its bridge is %q)", len(name), MaxSubnetName, BridgeName(name))
	}
	if err := checkDNSLabel(name); err != nil {
		return err
	}
	return CheckIfName(BridgeName(name))
}

// usableHost: a inside pfx, and neither its network nor broadcast address.
func usableHost(pfx netip.Prefix, a netip.Addr) bool {
	if !pfx.Contains(a) || a == pfx.Addr() {
		return false
	}
	return a != lastAddr(pfx)
}

func lastAddr(pfx netip.Prefix) netip.Addr {
	b := pfx.Addr().As4()
	host := uint32(1)<<(32-pfx.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func resolvePool(t *Topology, p *problems) {
	if pfx, ok := parseNet(p, "pool.cidr", t.Pool.CIDR); ok {
		t.Pool.Prefix = pfx
		if t.Pool.BlockSize < pfx.Bits() {
			p.add("pool.blockSize", strconv.Itoa(t.Pool.BlockSize), "is larger than the pool %s", pfx)
		}
	}
	if t.Pool.CIDR6 != "" {
		t.Pool.Prefix6, _ = parseNet6(p, "pool.cidr6", t.Pool.CIDR6, 8, 122)
	}
	if t.Pool.BlockSize < 20 || t.Pool.BlockSize > 32 {
		p.add("pool.blockSize", strconv.Itoa(t.Pool.BlockSize), "must be between 20 and 32")
	}
	for field, v := range map[string]string{"pool.ipipMode": t.Pool.IPIPMode, "pool.vxlanMode": t.Pool.VXLANMode} {
		if v != "Never" && v != "Always" && v != "CrossSubnet" {
			p.add(field, v, "must be Never, Always or CrossSubnet")
		}
	}
	if t.Pool.IPIPMode != "Never" && t.Pool.VXLANMode != "Never" {
		p.add("pool.vxlanMode", t.Pool.VXLANMode, "cannot be enabled together with ipipMode %s", t.Pool.IPIPMode)
	}
}

func resolveOutside(t *Topology, p *problems) {
	o := t.Outside
	if o == nil {
		return
	}
	if pfx, ok := parseNet(p, "outside.cidr", o.CIDR); ok {
		if pfx.Bits() > 30 {
			p.add("outside.cidr", o.CIDR, "must hold at least two hosts (a /30 or larger)")
		} else {
			o.Prefix = pfx
		}
	}
	a, err := netip.ParseAddr(o.Address)
	if err != nil || !a.Is4() {
		p.add("outside.address", o.Address, "is not an IPv4 address")
		return
	}
	o.Host = a
}

// checkOverlaps: subnets, the pool, the outside link and the outside host
// must not overlap one another.
func checkOverlaps(t *Topology, p *problems) {
	type net struct {
		field, value string
		pfx          netip.Prefix
	}
	var nets []net
	for i, s := range t.Subnets {
		if s.Prefix.IsValid() {
			nets = append(nets, net{fmt.Sprintf("subnets[%d].cidr", i), s.CIDR, s.Prefix})
		}
	}
	if t.Pool.Prefix.IsValid() {
		nets = append(nets, net{"pool.cidr", t.Pool.CIDR, t.Pool.Prefix})
	}
	if o := t.Outside; o != nil {
		if o.Prefix.IsValid() {
			nets = append(nets, net{"outside.cidr", o.CIDR, o.Prefix})
		}
		if o.Host.IsValid() {
			nets = append(nets, net{"outside.address", o.Address, netip.PrefixFrom(o.Host, 32)})
		}
	}
	for i := range nets {
		for j := range i {
			if nets[i].pfx.Overlaps(nets[j].pfx) {
				p.add(nets[i].field, nets[i].value, "overlaps %s %q", nets[j].field, nets[j].value)
			}
		}
	}
}

// checkHostNames: nodes and routers have valid names, unique among both
// (they are targets of `lab exec` and name underlay links).
func checkHostNames(t *Topology, p *problems) {
	if len(t.Nodes) == 0 {
		p.add("nodes", "", "the lab needs at least one node")
	}
	for i, r := range t.Routers {
		if r.Kind != RouterBird2 && r.Kind != RouterFRR && r.Kind != RouterNone {
			p.add(fmt.Sprintf("routers[%d].kind", i), r.Kind, "must be bird2, frr or none")
		}
	}
	seen := map[string]string{}
	for _, h := range hosts(t) {
		if !p.check(h.field+".name", h.name, checkDNSSubdomain(h.name)) {
			continue
		}
		if other, dup := seen[h.name]; dup {
			p.add(h.field+".name", h.name, "is already the name of %s", other)
			continue
		}
		seen[h.name] = h.field
	}
}

// host is a node or router: a namespace with underlay interfaces.
type host struct {
	field, name string
	ifaces      *[]Interface
}

func hosts(t *Topology) []host {
	var hs []host
	for i := range t.Nodes {
		hs = append(hs, host{fmt.Sprintf("nodes[%d]", i), t.Nodes[i].Name, &t.Nodes[i].Interfaces})
	}
	for i := range t.Routers {
		r := &t.Routers[i]
		hs = append(hs, host{fmt.Sprintf("routers[%d]", i), r.Name, &r.Interfaces})
	}
	return hs
}

// checkDatastore: the Kubernetes datastore is tortie's plugin's alone (the
// upstream ones write no endpoints), and usePodCIDR is a Kubernetes
// datastore setting.
func checkDatastore(t *Topology, p *problems) {
	switch t.Datastore {
	case DatastoreEtcd:
		if t.UsePodCIDR {
			p.add("usePodCIDR", "true", "needs datastore kubernetes (Nodes carry the podCIDRs)")
		}
	case DatastoreKubernetes:
		if t.CNI == CNIPtp || t.CNI == CNIBridge {
			p.add("cni", t.CNI, "datastore kubernetes needs the tortie plugin (cni: tortie or auto)")
		}
	default:
		p.add("datastore", t.Datastore, "must be etcdv3 or kubernetes")
	}
}
