package v3

import "net/netip"

func validateHostEndpoint(e *errs, s *HostEndpointSpec) {
	e.requiredName("spec.node", s.Node)
	if s.InterfaceName == "" && len(s.ExpectedIPs) == 0 {
		e.add("spec.interfaceName", nil, "interfaceName or expectedIPs is required")
	}
	if s.InterfaceName != "" && s.InterfaceName != "*" {
		e.iface("spec.interfaceName", s.InterfaceName)
	}
	for i, ip := range s.ExpectedIPs {
		e.ip(at("spec.expectedIPs", i), ip, 0)
	}
	for i, p := range s.Profiles {
		e.requiredName(at("spec.profiles", i), p)
	}
	for i, p := range s.Ports {
		validateNamedPort(e, at("spec.ports", i), p.Name, p.Protocol, p.Port)
	}
}

// validateNamedPort checks an endpoint's named port.
func validateNamedPort(e *errs, f, name string, proto Protocol, port int) {
	if msg := portNameProblem(name); msg != "" {
		e.add(f+".name", name, msg)
	}
	if !proto.SupportsPorts() {
		e.add(f+".protocol", proto, "must be TCP, UDP or SCTP")
	}
	if port < 1 || port > 65535 {
		e.add(f+".port", port, "must be between 1 and 65535")
	}
}

func validateWorkloadEndpoint(e *errs, s *WorkloadEndpointSpec) {
	e.requiredName("spec.node", s.Node)
	e.requiredName("spec.orchestrator", s.Orchestrator)
	for _, n := range []struct{ field, v string }{
		{"spec.workload", s.Workload}, {"spec.pod", s.Pod},
		{"spec.endpoint", s.Endpoint}, {"spec.serviceAccountName", s.ServiceAccountName},
	} {
		if n.v != "" {
			e.name(n.field, n.v)
		}
	}
	if s.ContainerID != "" && !containerIDRe().MatchString(s.ContainerID) {
		e.add("spec.containerID", s.ContainerID, "must consist of alphanumerics and '-', starting and ending with an alphanumeric")
	}
	if s.InterfaceName == "" {
		e.add("spec.interfaceName", nil, "is required")
	} else {
		e.iface("spec.interfaceName", s.InterfaceName)
	}
	if s.MAC != "" {
		e.mac("spec.mac", s.MAC)
	}
	var nets []netip.Prefix
	for i, n := range s.IPNetworks {
		p, ok := e.maskedNet(at("spec.ipNetworks", i), n)
		if !ok {
			continue
		}
		if p.Bits() != p.Addr().BitLen() {
			e.add(at("spec.ipNetworks", i), n, "must be a single address (/32 or /128)")
			continue
		}
		nets = append(nets, p)
	}
	for i, nat := range s.IPNATs {
		f := at("spec.ipNATs", i)
		in, ok1 := e.ip(f+".internalIP", nat.InternalIP, 0)
		ex, ok2 := e.ip(f+".externalIP", nat.ExternalIP, 0)
		if ok1 && ok2 && in.Is4() != ex.Is4() {
			e.add(f+".externalIP", nat.ExternalIP, "must be the same IP family as internalIP")
		}
		if ok1 && !containsAddr(nets, in) {
			e.add(f+".internalIP", nat.InternalIP, "must be one of the endpoint's ipNetworks")
		}
	}
	if s.IPv4Gateway != "" {
		e.ip("spec.ipv4Gateway", s.IPv4Gateway, 4)
	}
	if s.IPv6Gateway != "" {
		e.ip("spec.ipv6Gateway", s.IPv6Gateway, 6)
	}
	for i, p := range s.Profiles {
		e.requiredName(at("spec.profiles", i), p)
	}
	for i, p := range s.Ports {
		f := at("spec.ports", i)
		validateNamedPort(e, f, p.Name, p.Protocol, p.Port)
		if p.HostPort < 0 || p.HostPort > 65535 {
			e.add(f+".hostPort", p.HostPort, "must be between 0 and 65535")
		}
		if p.HostIP != "" {
			e.ip(f+".hostIP", p.HostIP, 0)
		}
	}
	for i, c := range s.AllowSpoofedSourcePrefixes {
		e.cidr(at("spec.allowSpoofedSourcePrefixes", i), c, 0)
	}
}

func containsAddr(nets []netip.Prefix, a netip.Addr) bool {
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}
