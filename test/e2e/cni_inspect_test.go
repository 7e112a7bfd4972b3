package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/cni/cnitest"
)

// The kernel state is read with "ip -j", independently of the plugin's
// own netlink code.

type ipLink struct {
	Name      string   `json:"ifname"`
	Index     int      `json:"ifindex"`
	LinkIndex int      `json:"link_index"`
	Flags     []string `json:"flags"`
	MTU       int      `json:"mtu"`
	Address   string   `json:"address"`
	LinkInfo  struct {
		Kind string `json:"info_kind"`
	} `json:"linkinfo"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
		Scope     string `json:"scope"`
		NoDAD     bool   `json:"nodad"`
	} `json:"addr_info"`
}

func (l ipLink) up() bool { return slices.Contains(l.Flags, "UP") }

// globalAddrs are the link's addresses other than link-local ones, as
// "addr/len".
func (l ipLink) globalAddrs() []string {
	var out []string
	for _, a := range l.AddrInfo {
		if a.Scope == "global" {
			out = append(out, fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
		}
	}
	return out
}

func ipJSON(t *testing.T, n *cnitest.NetNS, v any, args ...string) {
	t.Helper()
	out := n.MustIP(t, append([]string{"-j"}, args...)...)
	if strings.TrimSpace(out) == "" {
		out = "[]"
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("ip -j %v: %v: %s", args, err, out)
	}
}

// link returns the named link in n, or nil.
func link(t *testing.T, n *cnitest.NetNS, name string) *ipLink {
	t.Helper()
	var ls []ipLink
	ipJSON(t, n, &ls, "-d", "addr", "show")
	for i := range ls {
		if ls[i].Name == name {
			return &ls[i]
		}
	}
	return nil
}

// routes lists n's routes of a family in a compact text form:
// "dst via gw dev d proto p scope s".
func routes(t *testing.T, n *cnitest.NetNS, family string) []string {
	t.Helper()
	var rs []struct {
		Dst, Gateway, Dev, Protocol, Scope string
	}
	ipJSON(t, n, &rs, family, "route", "show")
	var out []string
	for _, r := range rs {
		s := r.Dst
		if r.Gateway != "" {
			s += " via " + r.Gateway
		}
		s += " dev " + r.Dev
		if r.Protocol != "" {
			s += " proto " + r.Protocol
		}
		if r.Scope != "" {
			s += " scope " + r.Scope
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// neighbours lists n's neighbour entries of a family: "ip lladdr mac dev d STATE".
func neighbours(t *testing.T, n *cnitest.NetNS, family string) []string {
	t.Helper()
	var ns []struct {
		Dst, Dev, Lladdr string
		State            []string
	}
	ipJSON(t, n, &ns, family, "neigh", "show")
	var out []string
	for _, e := range ns {
		out = append(out, fmt.Sprintf("%s lladdr %s dev %s %s", e.Dst, e.Lladdr, e.Dev, strings.Join(e.State, ",")))
	}
	slices.Sort(out)
	return out
}

// sysctls reads several sysctls in n and compares them with want.
func checkSysctls(t *testing.T, n *cnitest.NetNS, want map[string]string) {
	t.Helper()
	for name, v := range want {
		got, err := n.Sysctl(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if got != v {
			t.Errorf("%s in %s = %s, want %s", name, n.Name, got, v)
		}
	}
}

func equalSorted(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
