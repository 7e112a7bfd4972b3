package topo

import (
	"fmt"
	"net/netip"
)

// resolveInterfaces defaults, checks and addresses every node and router
// interface, and names its underlay end. Explicit addresses are taken
// first; automatic ones are the free hosts from .10 up, in document order.
func resolveInterfaces(t *Topology, p *problems) {
	taken := map[netip.Addr]string{} // address -> field that holds it
	for i, s := range t.Subnets {
		if s.GatewayIP.IsValid() {
			taken[s.GatewayIP] = fmt.Sprintf("subnets[%d].gateway", i)
		}
	}
	hs := hosts(t)
	for _, h := range hs {
		if len(*h.ifaces) == 0 && len(t.Subnets) > 0 {
			*h.ifaces = []Interface{{Name: DefaultIfName, Subnet: t.Subnets[0].Name}}
		}
		names := map[string]bool{}
		for j := range *h.ifaces {
			ifc := &(*h.ifaces)[j]
			f := fmt.Sprintf("%s.interfaces[%d]", h.field, j)
			checkIface(t, p, f, ifc, names)
			if ifc.Address == "" {
				continue
			}
			a, err := netip.ParseAddr(ifc.Address)
			s, ok := t.Subnet(ifc.Subnet)
			switch {
			case err != nil || !a.Is4():
				p.add(f+".address", ifc.Address, "is not an IPv4 address (give it without a prefix length; the subnet has it)")
			case !ok || !s.Prefix.IsValid():
				// The subnet's own error is reported already.
			case !usableHost(s.Prefix, a):
				p.add(f+".address", ifc.Address, "is not a host address of subnet %s (%s)", s.Name, s.Prefix)
			case taken[a] != "":
				p.add(f+".address", ifc.Address, "is already used by %s", taken[a])
			default:
				ifc.Addr = a
				taken[a] = f + ".address"
			}
		}
	}
	for _, h := range hs {
		for j := range *h.ifaces {
			ifc := &(*h.ifaces)[j]
			if ifc.Address != "" {
				continue
			}
			f := fmt.Sprintf("%s.interfaces[%d]", h.field, j)
			s, ok := t.Subnet(ifc.Subnet)
			if !ok || !s.Prefix.IsValid() {
				continue
			}
			a, ok := nextFree(s.Prefix, taken)
			if !ok {
				p.add(f+".address", "", "subnet %s (%s) has no free address left", s.Name, s.Prefix)
				continue
			}
			ifc.Addr, ifc.Address = a, a.String()
			taken[a] = f + ".address"
		}
	}
	checkBridgePorts(hs, p)
}

func checkIface(t *Topology, p *problems, f string, ifc *Interface, names map[string]bool) {
	if p.check(f+".name", ifc.Name, CheckIfName(ifc.Name)) {
		switch {
		case ifc.Name == "lo":
			p.add(f+".name", ifc.Name, "is the loopback device, which every namespace has")
		case names[ifc.Name]:
			p.add(f+".name", ifc.Name, "is used twice on this host")
		}
		names[ifc.Name] = true
	}
	if ifc.Subnet == "" && len(t.Subnets) > 0 {
		ifc.Subnet = t.Subnets[0].Name
	}
	if _, ok := t.Subnet(ifc.Subnet); !ok {
		p.add(f+".subnet", ifc.Subnet, "is not a subnet of this topology")
	}
}

// nextFree returns the first host of pfx from .10 (or .1 in small subnets)
// that is not taken.
func nextFree(pfx netip.Prefix, taken map[netip.Addr]string) (netip.Addr, bool) {
	a := pfx.Addr()
	if pfx.Bits() <= 24 {
		for range firstHostOffset {
			a = a.Next()
		}
	} else {
		a = a.Next()
	}
	for ; usableHost(pfx, a); a = a.Next() {
		if taken[a] == "" {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// checkBridgePorts names the underlay end of each interface and makes sure
// no two ends share a name in the underlay namespace.
func checkBridgePorts(hs []host, p *problems) {
	type owner struct{ field, host string }
	seen := map[string]owner{}
	for _, h := range hs {
		for j := range *h.ifaces {
			ifc := &(*h.ifaces)[j]
			ifc.BridgePort = bridgePortName(h.name, ifc.Name)
			f := fmt.Sprintf("%s.interfaces[%d].name", h.field, j)
			// The same host name twice is reported as such already.
			if other, dup := seen[ifc.BridgePort]; dup && other.host != h.name {
				p.add(f, ifc.Name, "would name its underlay link %q, like %s; rename one of them", ifc.BridgePort, other.field)
			}
			seen[ifc.BridgePort] = owner{f, h.name}
		}
	}
}

// resolvePods checks pod names, namespaces, nodes and labels.
func resolvePods(t *Topology, p *problems) {
	seen := map[string]bool{}
	hostNames := map[string]bool{}
	for _, h := range hosts(t) {
		hostNames[h.name] = true
	}
	for i := range t.Pods {
		pod := &t.Pods[i]
		f := fmt.Sprintf("pods[%d]", i)
		okName := p.check(f+".name", pod.Name, checkDNSSubdomain(pod.Name))
		okNS := p.check(f+".namespace", pod.Namespace, checkDNSLabel(pod.Namespace))
		if okName && hostNames[pod.Name] {
			p.add(f+".name", pod.Name, "is also the name of a node or router; `lab exec` could not tell them apart")
		}
		if okName && okNS {
			if seen[pod.Key()] {
				p.add(f+".name", pod.Name, "is used twice in namespace %s", pod.Namespace)
			}
			seen[pod.Key()] = true
		}
		if _, ok := t.Node(pod.Node); !ok {
			p.add(f+".node", pod.Node, "is not a node of this topology")
		}
		for _, k := range sortedKeys(pod.Labels) {
			lf := fmt.Sprintf("%s.labels[%s]", f, k)
			if p.check(f+".labels", k, checkLabelKey(k)) {
				p.check(lf, pod.Labels[k], checkLabelValue(pod.Labels[k]))
			}
		}
	}
}
