package ipam

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

func TestNthBlock(t *testing.T) {
	cases := []struct {
		cidr string
		bits int
		idx  uint64
		want string
	}{
		{"10.244.0.0/16", 26, 0, "10.244.0.0/26"},
		{"10.244.0.0/16", 26, 1, "10.244.0.64/26"},
		{"10.244.0.0/16", 26, 1023, "10.244.255.192/26"},
		{"10.244.0.0/16", 24, 5, "10.244.5.0/24"},
		{"fd00:1::/112", 122, 3, "fd00:1::c0/122"},
		{"fd00::/48", 122, 1 << 20, "fd00::400:0/122"},
	}
	for _, c := range cases {
		if got := nthBlock(netip.MustParsePrefix(c.cidr), c.bits, c.idx); got.String() != c.want {
			t.Errorf("nthBlock(%s, /%d, %d) = %s, want %s", c.cidr, c.bits, c.idx, got, c.want)
		}
	}
}

func mkPool(name, cidr string, mut func(*v3.IPPool)) *v3.IPPool {
	p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: name}}
	p.Spec.CIDR = cidr
	if mut != nil {
		mut(p)
	}
	v3.Default(p)
	return p
}

func TestSelectPools(t *testing.T) {
	all := []*v3.IPPool{
		mkPool("a", "10.1.0.0/16", nil),
		mkPool("disabled", "10.2.0.0/16", func(p *v3.IPPool) { p.Spec.Disabled = true }),
		mkPool("zone-b", "10.3.0.0/16", func(p *v3.IPPool) { p.Spec.NodeSelector = "zone == 'b'" }),
		mkPool("manual", "10.4.0.0/16", func(p *v3.IPPool) { p.Spec.AssignmentMode = v3.AssignmentManual }),
		mkPool("tunnel-only", "10.5.0.0/16", func(p *v3.IPPool) { p.Spec.AllowedUses = []v3.IPPoolAllowedUse{v3.AllowedUseTunnel} }),
		mkPool("ns-prod", "10.6.0.0/16", func(p *v3.IPPool) { p.Spec.NamespaceSelector = "env == 'prod'" }),
		mkPool("v6", "fd00::/48", nil),
	}
	names := func(ps []pool) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	cases := []struct {
		name      string
		v6        bool
		requested []string
		node, ns  map[string]string
		use       v3.IPPoolAllowedUse
		want      []string
		err       string
	}{
		{name: "workload in zone a", node: map[string]string{"zone": "a"}, use: v3.AllowedUseWorkload, want: []string{"a", "ns-prod"}},
		{name: "zone b node", node: map[string]string{"zone": "b"}, use: v3.AllowedUseWorkload, want: []string{"a", "zone-b", "ns-prod"}},
		{name: "namespace not prod", ns: map[string]string{"env": "dev"}, use: v3.AllowedUseWorkload, want: []string{"a"}},
		{name: "namespace prod", ns: map[string]string{"env": "prod"}, use: v3.AllowedUseWorkload, want: []string{"a", "ns-prod"}},
		{name: "tunnel", use: v3.AllowedUseTunnel, want: []string{"a", "tunnel-only", "ns-prod"}},
		{name: "v6", v6: true, use: v3.AllowedUseWorkload, want: []string{"v6"}},
		{name: "requested manual by cidr", requested: []string{"10.4.0.0/16"}, use: v3.AllowedUseWorkload, want: []string{"manual"}},
		{name: "requested by name ignores selectors", requested: []string{"zone-b"}, use: v3.AllowedUseWorkload, want: []string{"zone-b"}},
		{name: "requested disabled", requested: []string{"disabled"}, use: v3.AllowedUseWorkload, err: "is disabled"},
		{name: "requested missing", requested: []string{"10.9.0.0/16"}, use: v3.AllowedUseWorkload, err: "does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := selectPools(all, c.v6, c.requested, c.node, c.ns, c.use)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := names(got); !slices.Equal(g, c.want) {
				t.Errorf("pools = %v, want %v", g, c.want)
			}
		})
	}
}
