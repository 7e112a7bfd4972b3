package autodetect_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/autodetect"
)

func TestParseMethod(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want autodetect.Method
		str  string
	}{
		{"", autodetect.Method{Kind: autodetect.FirstFound}, "first-found"},
		{"first-found", autodetect.Method{Kind: autodetect.FirstFound}, "first-found"},
		{" first-found\n", autodetect.Method{Kind: autodetect.FirstFound}, "first-found"},
		{"interface=eth0", autodetect.Method{Kind: autodetect.ByInterface, Patterns: []string{"eth0"}}, "interface=eth0"},
		{"interface=ens33, eth.*", autodetect.Method{Kind: autodetect.ByInterface, Patterns: []string{"ens33", "eth.*"}}, "interface=ens33,eth.*"},
		{"skip-interface=eth1,ens32", autodetect.Method{Kind: autodetect.SkipInterface, Patterns: []string{"eth1", "ens32"}}, "skip-interface=eth1,ens32"},
		{"can-reach=10.0.2.1", autodetect.Method{Kind: autodetect.CanReach, Target: "10.0.2.1"}, "can-reach=10.0.2.1"},
		{"can-reach=fd00:2::1", autodetect.Method{Kind: autodetect.CanReach, Target: "fd00:2::1"}, "can-reach=fd00:2::1"},
		{"can-reach=www.example.com", autodetect.Method{Kind: autodetect.CanReach, Target: "www.example.com"}, "can-reach=www.example.com"},
		{"cidr=10.0.1.0/24,fd00:1::/64", autodetect.Method{Kind: autodetect.ByCIDR, CIDRs: []netip.Prefix{pfx("10.0.1.0/24"), pfx("fd00:1::/64")}}, "cidr=10.0.1.0/24,fd00:1::/64"},
		{"cidr=10.0.1.9/24", autodetect.Method{Kind: autodetect.ByCIDR, CIDRs: []netip.Prefix{pfx("10.0.1.0/24")}}, "cidr=10.0.1.0/24"},
		{"kubernetes-internal-ip", autodetect.Method{Kind: autodetect.KubernetesInternalIP}, "kubernetes-internal-ip"},
	} {
		got, err := autodetect.ParseMethod(tc.in)
		if err != nil {
			t.Errorf("ParseMethod(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMethod(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if got.String() != tc.str {
			t.Errorf("ParseMethod(%q).String() = %q, want %q", tc.in, got.String(), tc.str)
		}
	}
}

func TestParseMethodErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"bogus", []string{`"bogus"`, "unknown method", "first-found"}},
		{"First-Found", []string{`"First-Found"`, "unknown method"}},
		{"iface=eth0", []string{`"iface=eth0"`, `unknown method "iface"`}},
		{"first-found=eth0", []string{`"first-found=eth0"`, "unknown method"}},
		{"interface=eth[0", []string{`"interface=eth[0"`, `invalid regular expression "eth[0"`}},
		{"skip-interface=(", []string{`"skip-interface=("`, `invalid regular expression "("`}},
		{"interface=", []string{`"interface="`, "empty element 1"}},
		{"interface=eth0,", []string{`"interface=eth0,"`, "empty element 2", "match every interface"}},
		{"cidr=10.0.1.0/33", []string{`"cidr=10.0.1.0/33"`, `invalid CIDR "10.0.1.0/33"`}},
		{"cidr=10.0.1.5", []string{`invalid CIDR "10.0.1.5"`}},
		{"cidr=10.0.1.0/24,,10.0.2.0/24", []string{"empty element 2"}},
		{"can-reach=", []string{`"can-reach="`, "address or a host name"}},
		{"can-reach=10.0.0.0/24", []string{"not a CIDR"}},
		{"can-reach=a b", []string{`"a b"`, "not an IP address or a host name"}},
	} {
		_, err := autodetect.ParseMethod(tc.in)
		if err == nil {
			t.Errorf("ParseMethod(%q) succeeded, want an error", tc.in)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseMethod(%q) = %q, want it to contain %q", tc.in, err, w)
			}
		}
	}
}

// FuzzParseMethod checks that parsing never panics and that a parsed
// method survives String and a second parse unchanged.
func FuzzParseMethod(f *testing.F) {
	for _, s := range []string{"", "first-found", "interface=eth0,ens3.*", "skip-interface=a, b",
		"cidr=10.0.0.0/8,fd00::/8", "can-reach=8.8.8.8", "can-reach=example.com", "kubernetes-internal-ip", "x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := autodetect.ParseMethod(s)
		if err != nil {
			return
		}
		again, err := autodetect.ParseMethod(m.String())
		if err != nil {
			t.Fatalf("ParseMethod(%q) = %+v, but its String %q does not parse: %v", s, m, m.String(), err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("ParseMethod(%q) = %+v, reparsed from %q as %+v", s, m, m.String(), again)
		}
	})
}
