package v3

import (
	"strings"
	"testing"
)

func basePool() *IPPool {
	return &IPPool{ObjectMeta: ObjectMeta{Name: "pool1"}, Spec: IPPoolSpec{CIDR: "10.244.0.0/16", NATOutgoing: true}}
}

func TestValidateIPPool(t *testing.T) {
	type P = *IPPool
	lb := func(p P) {
		p.Spec.AllowedUses = []IPPoolAllowedUse{AllowedUseLoadBalancer}
	}
	runCases(t, basePool, []vcase[P]{
		ok("v6 pool", func(p P) { p.Spec.CIDR = "fd00:10::/48"; p.Spec.BlockSize = 122 }),
		bad("cidr required", "spec.cidr", "is required", func(p P) { p.Spec.CIDR = "" }),
		bad("cidr invalid", "spec.cidr", `"10.0.0.0/33"`, func(p P) { p.Spec.CIDR = "10.0.0.0/33" }),
		bad("cidr is an IP", "spec.cidr", `"10.0.0.1"`, func(p P) { p.Spec.CIDR = "10.0.0.1" }),
		bad("cidr not masked", "spec.cidr", "did you mean 10.0.0.0/16?", func(p P) { p.Spec.CIDR = "10.0.0.1/16" }),
		bad("cidr too long", "spec.cidr", "at most 48", func(p P) { p.Spec.CIDR = "0000:0000:0000:0000:0000:ffff:255.255.255.255/128" }),
		bad("v4 link-local", "spec.cidr", `"169.254.0.0/24"`, func(p P) { p.Spec.CIDR = "169.254.0.0/24" }),
		bad("covers link-local", "spec.cidr", `"128.0.0.0/1"`, func(p P) { p.Spec.CIDR = "128.0.0.0/1"; p.Spec.BlockSize = 26 }),
		bad("v6 link-local", "spec.cidr", `"fe80::/64"`, func(p P) { p.Spec.CIDR = "fe80::/64"; p.Spec.BlockSize = 122 }),
		ok("prefix equal to block", func(p P) { p.Spec.CIDR = "10.0.0.0/26" }),
		bad("prefix longer than block", "spec.cidr", `"10.0.0.0/27"`, func(p P) { p.Spec.CIDR = "10.0.0.0/27" }),
		ok("small pool allowed when disabled", func(p P) { p.Spec.CIDR = "10.0.0.0/27"; p.Spec.Disabled = true }),
		ok("blockSize 20", func(p P) { p.Spec.BlockSize = 20; p.Spec.CIDR = "10.0.0.0/16" }),
		ok("blockSize 32", func(p P) { p.Spec.BlockSize = 32 }),
		bad("v4 blockSize 19", "spec.blockSize", "19", func(p P) { p.Spec.BlockSize = 19 }),
		bad("v4 blockSize 33", "spec.blockSize", "33", func(p P) { p.Spec.BlockSize = 33 }),
		ok("v6 blockSize 116", func(p P) { p.Spec.CIDR = "fd00::/64"; p.Spec.BlockSize = 116 }),
		bad("v6 blockSize 115", "spec.blockSize", "115", func(p P) { p.Spec.CIDR = "fd00::/64"; p.Spec.BlockSize = 115 }),
		bad("v6 blockSize 26", "spec.blockSize", "26", func(p P) { p.Spec.CIDR = "fd00::/64" }),
		ok("ipip Always", func(p P) { p.Spec.IPIPMode = EncapAlways }),
		ok("vxlan CrossSubnet", func(p P) { p.Spec.VXLANMode = EncapCrossSubnet }),
		bad("ipip mode enum", "spec.ipipMode", `"always"`, func(p P) { p.Spec.IPIPMode = "always" }),
		bad("vxlan mode enum", "spec.vxlanMode", `"On"`, func(p P) { p.Spec.VXLANMode = "On" }),
		bad("vxlan mode required", "spec.vxlanMode", "is required", func(p P) { p.Spec.VXLANMode = "" }),
		bad("ipip and vxlan", "spec.ipipMode", `"Always"`, func(p P) { p.Spec.IPIPMode = EncapAlways; p.Spec.VXLANMode = EncapCrossSubnet }),
		ok("ipip with vxlan Never", func(p P) { p.Spec.IPIPMode = EncapCrossSubnet; p.Spec.VXLANMode = EncapNever }),
		bad("ipip on v6", "spec.ipipMode", `"Always"`, func(p P) { p.Spec.CIDR = "fd00::/48"; p.Spec.BlockSize = 122; p.Spec.IPIPMode = EncapAlways }),
		ok("vxlan on v6", func(p P) { p.Spec.CIDR = "fd00::/48"; p.Spec.BlockSize = 122; p.Spec.VXLANMode = EncapAlways }),
		ok("node selector", func(p P) { p.Spec.NodeSelector = "zone == 'a' && has(x)" }),
		bad("node selector syntax", "spec.nodeSelector", `"zone = 'a'"`, func(p P) { p.Spec.NodeSelector = "zone = 'a'" }),
		bad("node selector global", "spec.nodeSelector", `"global()"`, func(p P) { p.Spec.NodeSelector = "global()" }),
		ok("namespace selector", func(p P) {
			p.Spec.NamespaceSelector = "team == 'a'"
			p.Spec.AllowedUses = []IPPoolAllowedUse{AllowedUseWorkload}
		}),
		bad("namespace selector syntax", "spec.namespaceSelector", `"team =="`, func(p P) {
			p.Spec.NamespaceSelector = "team =="
			p.Spec.AllowedUses = []IPPoolAllowedUse{AllowedUseWorkload}
		}),
		bad("namespace selector with Tunnel", "spec.namespaceSelector", `"team == 'a'"`, func(p P) { p.Spec.NamespaceSelector = "team == 'a'" }),
		bad("allowed use enum", "spec.allowedUses[1]", `"Pods"`, func(p P) { p.Spec.AllowedUses = []IPPoolAllowedUse{AllowedUseWorkload, "Pods"} }),
		bad("allowed use twice", "spec.allowedUses", `"Tunnel" "Tunnel"`, func(p P) { p.Spec.AllowedUses = []IPPoolAllowedUse{AllowedUseTunnel, AllowedUseTunnel} }),
		bad("allowed uses empty", "spec.allowedUses", "at least one", func(p P) { p.Spec.AllowedUses = nil }),
		ok("LoadBalancer pool", lb),
		bad("LoadBalancer with Workload", "spec.allowedUses", `"LoadBalancer"`, func(p P) {
			p.Spec.AllowedUses = []IPPoolAllowedUse{AllowedUseLoadBalancer, AllowedUseWorkload}
		}),
		bad("LoadBalancer node selector", "spec.nodeSelector", `"zone == 'a'"`, func(p P) { lb(p); p.Spec.NodeSelector = "zone == 'a'" }),
		bad("LoadBalancer ipip", "spec.ipipMode", `"Always"`, func(p P) { lb(p); p.Spec.IPIPMode = EncapAlways }),
		bad("LoadBalancer vxlan", "spec.vxlanMode", `"Always"`, func(p P) { lb(p); p.Spec.VXLANMode = EncapAlways }),
		bad("LoadBalancer disableBGPExport", "spec.disableBGPExport", "true", func(p P) { lb(p); p.Spec.DisableBGPExport = true }),
		ok("assignment Manual", func(p P) { p.Spec.AssignmentMode = AssignmentManual }),
		bad("assignment required", "spec.assignmentMode", "is required", func(p P) { p.Spec.AssignmentMode = "" }),
		bad("assignment enum", "spec.assignmentMode", `"Auto"`, func(p P) { p.Spec.AssignmentMode = "Auto" }),
		bad("v1 ipip not converted", "spec.ipip", "Calico v1", func(p P) { p.Spec.IPIP = &IPIPConfiguration{Enabled: true} }),
		bad("v1 nat-outgoing not converted", "spec.nat-outgoing", "Calico v1", func(p P) { p.Spec.NATOutgoingV1 = true }),
	})
}

func TestValidateUpdate(t *testing.T) {
	type P = *IPPool
	tests := []struct {
		name         string
		mod          func(old, new P)
		field, value string
	}{
		{"unchanged", func(o, n P) {}, "", ""},
		{"natOutgoing may change", func(o, n P) { n.Spec.NATOutgoing = false }, "", ""},
		{"cidr immutable", func(o, n P) { n.Spec.CIDR = "10.245.0.0/16" }, "spec.cidr", `"10.245.0.0/16"`},
		{"blockSize immutable", func(o, n P) { n.Spec.BlockSize = 24 }, "spec.blockSize", "24"},
		{"name immutable", func(o, n P) { n.Name = "pool2" }, "metadata.name", `"pool2"`},
		{"away from LoadBalancer", func(o, n P) {
			o.Spec.AllowedUses = []IPPoolAllowedUse{AllowedUseLoadBalancer}
			n.Spec.AllowedUses = []IPPoolAllowedUse{AllowedUseWorkload}
		}, "spec.allowedUses", `"Workload"`},
		{"stays LoadBalancer", func(o, n P) {
			o.Spec.AllowedUses = []IPPoolAllowedUse{AllowedUseLoadBalancer}
			n.Spec.AllowedUses = []IPPoolAllowedUse{AllowedUseLoadBalancer}
		}, "", ""},
		{"new is validated too", func(o, n P) { n.Spec.IPIPMode = "x" }, "spec.ipipMode", `"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, n := basePool(), basePool()
			Default(o)
			Default(n)
			tt.mod(o, n)
			checkResult(t, n, ValidateUpdate(o, n), tt.field, tt.value)
		})
	}
	np := &NetworkPolicy{ObjectMeta: ObjectMeta{Name: "a", Namespace: "x"}}
	np2 := &NetworkPolicy{ObjectMeta: ObjectMeta{Name: "a", Namespace: "y"}}
	Default(np)
	Default(np2)
	checkResult(t, np2, ValidateUpdate(np, np2), "metadata.namespace", `"y"`)
	checkResult(t, np2, ValidateUpdate(basePool(), np2), "kind", "NetworkPolicy")
}

func TestValidatePoolOverlap(t *testing.T) {
	pool := func(name, cidr string) *IPPool {
		return &IPPool{ObjectMeta: ObjectMeta{Name: name}, Spec: IPPoolSpec{CIDR: cidr}}
	}
	p := pool("new", "10.244.0.0/16")
	if err := ValidatePoolOverlap(p, []*IPPool{pool("a", "10.245.0.0/16"), pool("v6", "fd00::/48"), pool("new", "10.244.0.0/16")}); err != nil {
		t.Errorf("no overlap: %v", err)
	}
	err := ValidatePoolOverlap(p, []*IPPool{pool("a", "10.245.0.0/16"), pool("big", "10.0.0.0/8")})
	checkResult(t, p, err, "spec.cidr", `"10.244.0.0/16"`)
	if err == nil || !strings.Contains(err.Error(), `overlaps with IPPool "big" (10.0.0.0/8)`) {
		t.Errorf("error should name the other pool: %v", err)
	}
	if err := ValidatePoolOverlap(pool("x", "bad"), []*IPPool{pool("a", "10.0.0.0/8")}); err != nil {
		t.Errorf("unparsable CIDR is Validate's business: %v", err)
	}
}
