package cni

import (
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/tortienet/tortie/internal/cni/veth"
	"github.com/tortienet/tortie/internal/nlsafe"
)

// result describes an attachment: the host side (interface 0), the pod
// side (interface 1) holding every address, and the default route of each
// family through the gateway the pod really uses. The IPAM plugin's routes
// are not passed on: the pod gets only the default routes, and the result
// says what the pod has. DNS is the IPAM plugin's.
func result(s *veth.Spec, dns types.DNS) *current.Result {
	r := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: s.HostIfName, Mac: veth.HostMAC.String()},
			{Name: s.IfName, Mac: s.ContainerMAC.String(), Mtu: s.MTU, Sandbox: s.NetNS},
		},
		DNS: dns,
	}
	var v4, v6 bool
	for _, a := range s.Addrs {
		gw := veth.GatewayV4
		if a.Addr().Is4() {
			v4 = true
		} else {
			gw, v6 = veth.GatewayV6, true
		}
		r.IPs = append(r.IPs, &current.IPConfig{Interface: current.Int(1), Address: *nlsafe.IPNet(a), Gateway: gw.AsSlice()})
	}
	if v4 {
		r.Routes = append(r.Routes, &types.Route{Dst: *nlsafe.IPNet(netip.MustParsePrefix("0.0.0.0/0")), GW: veth.GatewayV4.AsSlice()})
	}
	if v6 {
		r.Routes = append(r.Routes, &types.Route{Dst: *nlsafe.IPNet(netip.MustParsePrefix("::/0")), GW: veth.GatewayV6.AsSlice()})
	}
	return r
}

// fromIPNet converts a result address to a prefix.
