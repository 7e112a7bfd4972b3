package v3

import (
	"reflect"
	"testing"
)

func TestDefaultIPPool(t *testing.T) {
	tests := []struct {
		name string
		in   IPPoolSpec
		want IPPoolSpec
	}{
		{"v4", IPPoolSpec{CIDR: "10.0.0.0/16"}, IPPoolSpec{CIDR: "10.0.0.0/16", VXLANMode: EncapNever, IPIPMode: EncapNever, BlockSize: 26,
			NodeSelector: "all()", AllowedUses: []IPPoolAllowedUse{AllowedUseWorkload, AllowedUseTunnel}, AssignmentMode: AssignmentAutomatic}},
		{"v6", IPPoolSpec{CIDR: "fd00::/48"}, IPPoolSpec{CIDR: "fd00::/48", VXLANMode: EncapNever, IPIPMode: EncapNever, BlockSize: 122,
			NodeSelector: "all()", AllowedUses: []IPPoolAllowedUse{AllowedUseWorkload, AllowedUseTunnel}, AssignmentMode: AssignmentAutomatic}},
		{"set values kept",
			IPPoolSpec{CIDR: "10.0.0.0/16", VXLANMode: EncapAlways, BlockSize: 28, NodeSelector: "a == 'b'", AllowedUses: []IPPoolAllowedUse{AllowedUseLoadBalancer}, AssignmentMode: AssignmentManual},
			IPPoolSpec{CIDR: "10.0.0.0/16", VXLANMode: EncapAlways, IPIPMode: EncapNever, BlockSize: 28, NodeSelector: "a == 'b'", AllowedUses: []IPPoolAllowedUse{AllowedUseLoadBalancer}, AssignmentMode: AssignmentManual}},
		{"bad cidr leaves blockSize for Validate", IPPoolSpec{CIDR: "nope"}, IPPoolSpec{CIDR: "nope", VXLANMode: EncapNever, IPIPMode: EncapNever,
			NodeSelector: "all()", AllowedUses: []IPPoolAllowedUse{AllowedUseWorkload, AllowedUseTunnel}, AssignmentMode: AssignmentAutomatic}},
		{"v1 ipip always", IPPoolSpec{CIDR: "10.0.0.0/16", IPIP: &IPIPConfiguration{Enabled: true}}, IPPoolSpec{CIDR: "10.0.0.0/16", VXLANMode: EncapNever, IPIPMode: EncapAlways, BlockSize: 26,
			NodeSelector: "all()", AllowedUses: []IPPoolAllowedUse{AllowedUseWorkload, AllowedUseTunnel}, AssignmentMode: AssignmentAutomatic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &IPPool{Spec: tt.in}
			Default(p)
			if !reflect.DeepEqual(p.Spec, tt.want) {
				t.Errorf("got  %+v\nwant %+v", p.Spec, tt.want)
			}
			if p.Kind != "IPPool" || p.APIVersion != APIVersion {
				t.Errorf("TypeMeta = %+v", p.TypeMeta)
			}
		})
	}
}

func TestDefaultPolicyTypes(t *testing.T) {
	r := []Rule{{Action: Allow}}
	in, eg := PolicyTypeIngress, PolicyTypeEgress
	tests := []struct {
		name             string
		ingress, egress  []Rule
		types, wantTypes []PolicyType
	}{
		{"no rules", nil, nil, nil, []PolicyType{in}},
		{"ingress only", r, nil, nil, []PolicyType{in}},
		{"egress only", nil, r, nil, []PolicyType{eg}},
		{"both", r, r, nil, []PolicyType{in, eg}},
		{"explicit kept", nil, nil, []PolicyType{in, eg}, []PolicyType{in, eg}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			np := &NetworkPolicy{Spec: NetworkPolicySpec{Ingress: tt.ingress, Egress: tt.egress, Types: tt.types}}
			gnp := &GlobalNetworkPolicy{Spec: GlobalNetworkPolicySpec{Ingress: tt.ingress, Egress: tt.egress, Types: tt.types, Tier: "security"}}
			Default(np)
			Default(gnp)
			if !reflect.DeepEqual(np.Spec.Types, tt.wantTypes) || !reflect.DeepEqual(gnp.Spec.Types, tt.wantTypes) {
				t.Errorf("types: np %v gnp %v, want %v", np.Spec.Types, gnp.Spec.Types, tt.wantTypes)
			}
			if np.Spec.Tier != "default" || gnp.Spec.Tier != "security" {
				t.Errorf("tier: np %q gnp %q", np.Spec.Tier, gnp.Spec.Tier)
			}
		})
	}
}

func TestDefaultTier(t *testing.T) {
	tests := []struct {
		name   string
		order  *float64
		action Action
	}{
		{"default", ptr(1e6), Deny},
		{"kube-admin", ptr(1000.0), Pass},
		{"kube-baseline", ptr(1e7), Pass},
		{"security", nil, Deny},
	}
	for _, tt := range tests {
		tr := &Tier{ObjectMeta: ObjectMeta{Name: tt.name}}
		Default(tr)
		if !reflect.DeepEqual(tr.Spec.Order, tt.order) || *tr.Spec.DefaultAction != tt.action {
			t.Errorf("%s: got order %v action %v", tt.name, tr.Spec.Order, *tr.Spec.DefaultAction)
		}
		if err := Validate(tr); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	pass := Pass
	tr := &Tier{ObjectMeta: ObjectMeta{Name: "x"}, Spec: TierSpec{Order: ptr(5.0), DefaultAction: &pass}}
	Default(tr)
	if *tr.Spec.Order != 5 || *tr.Spec.DefaultAction != Pass {
		t.Errorf("set values changed: %+v", tr.Spec)
	}
}

// TestDefaultLeavesSparse checks that kinds Calico does not default are
// only given their TypeMeta.
func TestDefaultLeavesSparse(t *testing.T) {
	for _, k := range Kinds() {
		switch k.Kind {
		case "IPPool", "NetworkPolicy", "GlobalNetworkPolicy", "Tier", "StagedNetworkPolicy", "StagedGlobalNetworkPolicy":
			continue
		}
		r := k.New()
		*r.GetTypeMeta() = TypeMeta{}
		want := k.New()
		Default(r)
		if !reflect.DeepEqual(r, want) {
			t.Errorf("%s: Default changed more than the TypeMeta: %+v", k.Kind, r)
		}
	}
}

func ptr[T any](v T) *T { return &v }
