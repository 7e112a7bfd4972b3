package autodetect_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/autodetect"
)

func TestResolve(t *testing.T) {
	v4, v6 := autodetect.IPv4, autodetect.IPv6
	for _, tc := range []struct {
		name   string
		cfg    autodetect.Config
		host   autodetect.Host
		origin autodetect.Origin
		want   string // address; "" for none
		iface  string
	}{
		{"IP empty, no address yet: first-found", autodetect.Config{Family: v4}, nodeA(), autodetect.Autodetected, "10.0.2.5/24", "ens33"},
		{"IP empty with a method", autodetect.Config{Family: v4, Method: "interface=ens32,eth1"}, nodeA(), autodetect.Autodetected, "10.0.1.5/24", "ens32"},
		{"IP empty, Node has an address: kept", autodetect.Config{Family: v4, Current: pfx("10.0.1.5/24")}, nodeA(), autodetect.Kept, "10.0.1.5/24", ""},
		{"IP=autodetect re-detects", autodetect.Config{Family: v4, IP: "autodetect", Current: pfx("10.0.1.5/24")}, nodeA(), autodetect.Autodetected, "10.0.2.5/24", "ens33"},
		{"IP=autodetect finds nothing: existing kept", autodetect.Config{Family: v4, IP: "autodetect", Method: "interface=ens99", Current: pfx("10.0.1.5/24")}, nodeA(), autodetect.Kept, "10.0.1.5/24", ""},
		{"IP=none", autodetect.Config{Family: v4, IP: "none"}, nodeA(), autodetect.NoAddress, "", ""},
		{"IP=none keeps the existing address", autodetect.Config{Family: v4, IP: "none", Current: pfx("10.0.1.5/24")}, nodeA(), autodetect.Kept, "10.0.1.5/24", ""},
		{"explicit address takes the interface prefix", autodetect.Config{Family: v4, IP: "10.0.2.5"}, nodeA(), autodetect.Explicit, "10.0.2.5/24", "ens33"},
		{"explicit CIDR is kept as given", autodetect.Config{Family: v4, IP: "10.0.2.5/16"}, nodeA(), autodetect.Explicit, "10.0.2.5/16", "ens33"},
		{"explicit address on no interface", autodetect.Config{Family: v4, IP: "192.0.2.9"}, nodeA(), autodetect.Explicit, "192.0.2.9/32", ""},
		{"explicit overrides the existing address", autodetect.Config{Family: v4, IP: "10.0.1.5", Current: pfx("10.0.2.5/24")}, nodeA(), autodetect.Explicit, "10.0.1.5/24", "ens32"},
		{"IP6 empty: not autodetected", autodetect.Config{Family: v6}, nodeA(), autodetect.NoAddress, "", ""},
		{"IP6 empty keeps the existing address", autodetect.Config{Family: v6, Current: pfx("fd00:1::5/64")}, nodeA(), autodetect.Kept, "fd00:1::5/64", ""},
		{"IP6=autodetect", autodetect.Config{Family: v6, IP: "autodetect", Method: "interface=ens32"}, nodeA(), autodetect.Autodetected, "fd00:1::5/64", "ens32"},
		{"IP6 explicit", autodetect.Config{Family: v6, IP: "fd00:2::6"}, nodeB(), autodetect.Explicit, "fd00:2::6/64", "eth0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := autodetect.Detector{Host: tc.host}.Resolve(context.Background(), tc.cfg)
			if err != nil {
				t.Fatalf("Resolve(%+v): %v", tc.cfg, err)
			}
			var want netip.Prefix
			if tc.want != "" {
				want = pfx(tc.want)
			}
			if res.Origin != tc.origin || res.Address != want || res.Interface != tc.iface {
				t.Errorf("Resolve(%+v) = %s %s on %q, want %s %s on %q", tc.cfg, res.Origin, res.Address, res.Interface, tc.origin, want, tc.iface)
			}
			if res.Summary == "" {
				t.Errorf("Resolve(%+v): empty summary", tc.cfg)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	v4, v6 := autodetect.IPv4, autodetect.IPv6
	for _, tc := range []struct {
		name string
		cfg  autodetect.Config
		host autodetect.Host
		want []string
	}{
		{"unknown method", autodetect.Config{Family: v4, Method: "bogus"}, nodeA(), []string{"IP_AUTODETECTION_METHOD", `"bogus"`, "unknown method"}},
		{"unknown IPv6 method", autodetect.Config{Family: v6, IP: "autodetect", Method: "bogus"}, nodeA(), []string{"IP6_AUTODETECTION_METHOD", `"bogus"`}},
		{"bad regex", autodetect.Config{Family: v4, IP: "autodetect", Method: "interface=eth[0"}, nodeA(), []string{"IP_AUTODETECTION_METHOD", `"eth[0"`}},
		{"bad CIDR", autodetect.Config{Family: v4, Method: "cidr=10.0.0.0/40"}, nodeA(), []string{"IP_AUTODETECTION_METHOD", `"10.0.0.0/40"`}},
		{"nothing found and no existing address", autodetect.Config{Family: v4, Method: "interface=ens99"}, nodeA(), []string{"IP_AUTODETECTION_METHOD", `"interface=ens99"`, "no address found"}},
		{"host fails: existing address not a cover", autodetect.Config{Family: v4, IP: "autodetect", Current: pfx("10.0.1.5/24")}, &autodetect.FakeHost{Err: errors.New("boom")}, []string{"boom"}},
		{"IP not an address", autodetect.Config{Family: v4, IP: "Autodetect"}, nodeA(), []string{`IP="Autodetect"`, "autodetect, none, an address"}},
		{"IP of the wrong family", autodetect.Config{Family: v4, IP: "fd00::1"}, nodeA(), []string{`IP="fd00::1"`, "not an IPv4 address"}},
		{"IP6 of the wrong family", autodetect.Config{Family: v6, IP: "10.0.0.1/24"}, nodeA(), []string{`IP6="10.0.0.1/24"`, "not an IPv6 address"}},
		{"IP with a bad prefix length", autodetect.Config{Family: v4, IP: "10.0.0.1/99"}, nodeA(), []string{`IP="10.0.0.1/99"`}},
		{"bad family", autodetect.Config{Family: 0}, nodeA(), []string{"address family 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := autodetect.Detector{Host: tc.host}.Resolve(context.Background(), tc.cfg)
			if err == nil {
				t.Fatalf("Resolve(%+v) succeeded, want an error", tc.cfg)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Resolve(%+v) = %q, want it to contain %q", tc.cfg, err, w)
				}
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"IP": "autodetect", "IP_AUTODETECTION_METHOD": "cidr=10.0.1.0/24", "IP6": "none", "IP6_AUTODETECTION_METHOD": "interface=eth0"}
	getenv := func(k string) string { return env[k] }
	if got, want := autodetect.ConfigFromEnv(getenv, autodetect.IPv4, netip.Prefix{}), (autodetect.Config{Family: autodetect.IPv4, IP: "autodetect", Method: "cidr=10.0.1.0/24"}); got != want {
		t.Errorf("IPv4 config = %+v, want %+v", got, want)
	}
	cur := pfx("fd00:1::5/64")
	if got, want := autodetect.ConfigFromEnv(getenv, autodetect.IPv6, cur), (autodetect.Config{Family: autodetect.IPv6, IP: "none", Method: "interface=eth0", Current: cur}); got != want {
		t.Errorf("IPv6 config = %+v, want %+v", got, want)
	}
}
