package autodetect_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/autodetect"
)

func detect(t *testing.T, h autodetect.Host, method string, f autodetect.Family) (autodetect.Result, error) {
	t.Helper()
	m, err := autodetect.ParseMethod(method)
	if err != nil {
		t.Fatalf("ParseMethod(%q): %v", method, err)
	}
	return autodetect.Detector{Host: h}.Detect(context.Background(), m, f)
}

func TestDetect(t *testing.T) {
	down := nodeA()
	down.Links[2].Up = false // ens33
	for _, tc := range []struct {
		name   string
		host   *autodetect.FakeHost
		method string
		family autodetect.Family
		want   string // address
		iface  string
	}{
		// scenarios.md §3, node A and node B.
		{"A interface=ens33,eth0 -> S2", nodeA(), "interface=ens33,eth0", autodetect.IPv4, "10.0.2.5/24", "ens33"},
		{"B interface=ens33,eth0 -> S2", nodeB(), "interface=ens33,eth0", autodetect.IPv4, "10.0.2.6/24", "eth0"},
		{"A interface=ens32,eth1 -> S1", nodeA(), "interface=ens32,eth1", autodetect.IPv4, "10.0.1.5/24", "ens32"},
		{"B interface=ens32,eth1 -> S1", nodeB(), "interface=ens32,eth1", autodetect.IPv4, "10.0.1.6/24", "eth1"},
		{"A skip-interface=eth1,ens32 -> S2", nodeA(), "skip-interface=eth1,ens32", autodetect.IPv4, "10.0.2.5/24", "ens33"},
		{"B skip-interface=eth1,ens32 -> S2", nodeB(), "skip-interface=eth1,ens32", autodetect.IPv4, "10.0.2.6/24", "eth0"},
		{"A can-reach=gateway of S2", nodeA(), "can-reach=10.0.2.1", autodetect.IPv4, "10.0.2.5/24", "ens33"},
		{"B can-reach=gateway of S2", nodeB(), "can-reach=10.0.2.1", autodetect.IPv4, "10.0.2.6/24", "eth0"},
		{"A cidr=S1", nodeA(), "cidr=10.0.1.0/24", autodetect.IPv4, "10.0.1.5/24", "ens32"},
		{"B cidr=S1", nodeB(), "cidr=10.0.1.0/24", autodetect.IPv4, "10.0.1.6/24", "eth1"},

		// first-found: the highest-index interface that is not excluded.
		{"A first-found", nodeA(), "first-found", autodetect.IPv4, "10.0.2.5/24", "ens33"},
		{"B first-found", nodeB(), "", autodetect.IPv4, "10.0.1.6/24", "eth1"},
		{"A first-found IPv6 skips link-local", nodeA(), "first-found", autodetect.IPv6, "fd00:2::5/64", "ens33"},
		{"first-found ignores the up/down state", down, "first-found", autodetect.IPv4, "10.0.2.5/24", "ens33"},

		// interface=: ORed, unanchored, list order irrelevant, no default exclusions.
		{"interface list order does not matter", nodeA(), "interface=ens32,ens33", autodetect.IPv4, "10.0.2.5/24", "ens33"},
		{"interface regex is unanchored", nodeA(), "interface=s3", autodetect.IPv4, "10.0.2.5/24", "ens33"},
		{"interface regex anchored by the user", nodeB(), "interface=^eth0$", autodetect.IPv4, "10.0.2.6/24", "eth0"},
		{"interface= ignores default exclusions", nodeA(), "interface=docker.*", autodetect.IPv4, "172.17.0.1/16", "docker0"},
		{"interface= with spaces around commas", nodeB(), "interface= eth9 , eth0 ", autodetect.IPv4, "10.0.2.6/24", "eth0"},
		{"interface= IPv6", nodeA(), "interface=ens32", autodetect.IPv6, "fd00:1::5/64", "ens32"},

		// skip-interface= keeps the default exclusions.
		{"skip-interface keeps default exclusions", nodeA(), "skip-interface=ens33", autodetect.IPv4, "10.0.1.5/24", "ens32"},

		// cidr=: any of the list, host bits ignored, no default exclusions.
		{"cidr list", nodeB(), "cidr=10.9.0.0/16, 10.0.2.0/24", autodetect.IPv4, "10.0.2.6/24", "eth0"},
		{"cidr with host bits", nodeA(), "cidr=10.0.1.77/24", autodetect.IPv4, "10.0.1.5/24", "ens32"},
		{"cidr ignores default exclusions", nodeA(), "cidr=172.16.0.0/12", autodetect.IPv4, "172.17.0.1/16", "docker0"},
		{"cidr IPv6", nodeA(), "cidr=fd00:1::/64", autodetect.IPv6, "fd00:1::5/64", "ens32"},

		// can-reach=: the kernel's source address towards the target.
		{"can-reach via the default route", nodeA(), "can-reach=8.8.8.8", autodetect.IPv4, "10.0.1.5/24", "ens32"},
		{"can-reach via a specific route", nodeA(), "can-reach=192.0.2.10", autodetect.IPv4, "10.0.2.5/24", "ens33"},
		{"can-reach a host name", nodeA(), "can-reach=gw-s2.example", autodetect.IPv4, "10.0.2.5/24", "ens33"},
		{"can-reach a host name IPv6", nodeA(), "can-reach=gw-s2.example", autodetect.IPv6, "fd00:2::5/64", "ens33"},
		{"can-reach IPv6 default route", nodeA(), "can-reach=2001:db8::1", autodetect.IPv6, "fd00:1::5/64", "ens32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := detect(t, tc.host, tc.method, tc.family)
			if err != nil {
				t.Fatalf("Detect(%q): %v", tc.method, err)
			}
			if res.Address != pfx(tc.want) || res.Interface != tc.iface {
				t.Errorf("Detect(%q) = %s on %s, want %s on %s\nsteps: %+v", tc.method, res.Address, res.Interface, tc.want, tc.iface, res.Steps)
			}
			if res.Origin != autodetect.Autodetected || res.Summary == "" || res.Rule == "" {
				t.Errorf("Detect(%q): origin %q, summary %q, rule %q", tc.method, res.Origin, res.Summary, res.Rule)
			}
			chosen := 0
			for _, s := range res.Steps {
				if s.Verdict == autodetect.Chosen {
					chosen++
				}
			}
			if chosen != 1 {
				t.Errorf("Detect(%q): %d chosen steps, want 1: %+v", tc.method, chosen, res.Steps)
			}
		})
	}
}

func TestDetectNothingFound(t *testing.T) {
	noRoutes := nodeA()
	noRoutes.Routes = nil
	for _, tc := range []struct {
		name, method string
		host         *autodetect.FakeHost
		family       autodetect.Family
		wantMsg      []string
	}{
		{"no interface matches", "interface=ens99,eth9", nodeA(), autodetect.IPv4,
			[]string{`"interface=ens99,eth9"`, "no interface whose name matches", `"ens99"`, "lo, ens32"}},
		{"matching interface has only loopback", "interface=^lo$", nodeA(), autodetect.IPv4,
			[]string{`"interface=^lo$"`, "no global unicast IPv4 address", "(lo)"}},
		{"no address of the family", "interface=docker0", nodeA(), autodetect.IPv6,
			[]string{"(IPv6)", "docker0"}},
		{"cidr matches nothing", "cidr=10.9.0.0/16", nodeA(), autodetect.IPv4,
			[]string{`"cidr=10.9.0.0/16"`, "inside 10.9.0.0/16"}},
		{"cidr of the other family", "cidr=fd00:1::/64", nodeA(), autodetect.IPv4,
			[]string{"IPv4", "inside fd00:1::/64"}},
		{"everything skipped", "skip-interface=ens.*", nodeA(), autodetect.IPv4,
			[]string{`"skip-interface=ens.*"`, "neither a default exclusion"}},
		{"can-reach unreachable", "can-reach=8.8.8.8", noRoutes, autodetect.IPv4,
			[]string{`"can-reach=8.8.8.8"`, "route to 8.8.8.8", "unreachable"}},
		{"can-reach unknown name", "can-reach=nowhere.example", nodeA(), autodetect.IPv4,
			[]string{`"can-reach=nowhere.example"`, "nowhere.example"}},
		{"can-reach name without the family", "can-reach=gw-s2.example", nodeB(), autodetect.IPv6,
			[]string{"gw-s2.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := detect(t, tc.host, tc.method, tc.family)
			if err == nil {
				t.Fatalf("Detect(%q) = %s, want an error", tc.method, res.Address)
			}
			if !errors.Is(err, autodetect.ErrNoAddress) {
				t.Errorf("Detect(%q): %v does not wrap ErrNoAddress", tc.method, err)
			}
			for _, w := range tc.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Detect(%q) error %q does not contain %q", tc.method, err, w)
				}
			}
			if res.Address.IsValid() || res.Origin != autodetect.NoAddress || res.Summary != err.Error() {
				t.Errorf("Detect(%q) failed but returned %+v", tc.method, res)
			}
		})
	}
}

func TestDetectErrors(t *testing.T) {
	boom := errors.New("netlink says no")
	for _, tc := range []struct {
		name   string
		d      autodetect.Detector
		m      autodetect.Method
		family autodetect.Family
		want   string
	}{
		{"host fails", autodetect.Detector{Host: &autodetect.FakeHost{Err: boom}}, autodetect.Method{}, autodetect.IPv4, "netlink says no"},
		{"bad family", autodetect.Detector{Host: nodeA()}, autodetect.Method{}, autodetect.Family(5), "address family 5"},
		{"nil host", autodetect.Detector{}, autodetect.Method{}, autodetect.IPv4, "Host is nil"},
		{"can-reach wrong family", autodetect.Detector{Host: nodeA()}, autodetect.Method{Kind: autodetect.CanReach, Target: "10.0.2.1"}, autodetect.IPv6, "not an IPv6 address"},
		{"kubernetes-internal-ip outside Kubernetes", autodetect.Detector{Host: nodeA()}, autodetect.Method{Kind: autodetect.KubernetesInternalIP}, autodetect.IPv4, "reads no Kubernetes API"},
		{"hand-made method with a bad regex", autodetect.Detector{Host: nodeA()}, autodetect.Method{Kind: autodetect.ByInterface, Patterns: []string{"("}}, autodetect.IPv4, `invalid regular expression "("`},
		{"hand-made unknown kind", autodetect.Detector{Host: nodeA()}, autodetect.Method{Kind: "magic"}, autodetect.IPv4, `"magic"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.d.Detect(context.Background(), tc.m, tc.family)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Detect = %v, want an error containing %q", err, tc.want)
			}
			if errors.Is(err, autodetect.ErrNoAddress) {
				t.Errorf("%v wraps ErrNoAddress, but it is not a no-match", err)
			}
		})
	}
}

func TestKubernetesInternalIP(t *testing.T) {
	d := autodetect.Detector{Host: nodeB(), KubernetesInternalIPs: []netip.Addr{addr("fd00:2::6"), addr("10.0.1.6")}}
	m := autodetect.Method{Kind: autodetect.KubernetesInternalIP}
	for f, want := range map[autodetect.Family]string{autodetect.IPv4: "10.0.1.6/24", autodetect.IPv6: "fd00:2::6/64"} {
		res, err := d.Detect(context.Background(), m, f)
		if err != nil || res.Address != pfx(want) {
			t.Errorf("Detect(kubernetes-internal-ip, %v) = %s, %v; want %s", f, res.Address, err, want)
		}
	}
	d.KubernetesInternalIPs = []netip.Addr{addr("192.0.2.1")}
	if _, err := d.Detect(context.Background(), m, autodetect.IPv4); !errors.Is(err, autodetect.ErrNoAddress) {
		t.Errorf("InternalIP on no interface: %v, want ErrNoAddress", err)
	}
}
