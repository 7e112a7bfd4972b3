package checksystem

import (
	"errors"
	"strings"
	"testing"
)

// host builds a Host from simple facts.
func host(config map[string]string, loaded, installed []string, probeOK map[string]bool) Host {
	in := func(list []string) func(string) bool {
		return func(m string) bool {
			for _, x := range list {
				if x == m {
					return true
				}
			}
			return false
		}
	}
	h := Host{Release: "6.1.0-test", Config: config, Loaded: in(loaded), Installed: in(installed),
		MD5:    func() error { return nil },
		Sysctl: func(p string) (string, error) { return "1\n", nil },
		Nft:    func() error { return nil },
	}
	if probeOK != nil {
		h.Probe = func(kind string) error {
			if probeOK[kind] {
				return nil
			}
			return errors.New("operation not supported")
		}
	}
	return h
}

func TestCheck(t *testing.T) {
	all := map[string]string{"CONFIG_VETH": "y", "CONFIG_NF_TABLES": "y", "CONFIG_NFT_NAT": "m", "CONFIG_NF_CONNTRACK": "y",
		"CONFIG_VXLAN": "m", "CONFIG_NET_IPIP": "m", "CONFIG_WIREGUARD": "m"}
	noIPIP := map[string]string{"CONFIG_VETH": "y", "CONFIG_NF_TABLES": "y", "CONFIG_NFT_NAT": "y", "CONFIG_NF_CONNTRACK": "y", "CONFIG_VXLAN": "y"}
	tests := []struct {
		name    string
		h       Host
		ok      bool
		missing []string
		how     map[string]string
	}{
		{"everything from the config", host(all, []string{"nft_nat"}, []string{"vxlan", "ipip", "wireguard"}, nil), true, nil,
			map[string]string{"veth": "built in", "nftables NAT": "module nft_nat loaded", "ipip": "loads on first use"}},
		{"a kernel without ipip (the Firecracker case)", host(noIPIP, nil, nil, nil), true, []string{"ipip", "wireguard"},
			map[string]string{"ipip": "CONFIG_NET_IPIP is not set"}},
		{"=m but not installed", host(map[string]string{"CONFIG_VETH": "y", "CONFIG_NF_TABLES": "m", "CONFIG_NF_CONNTRACK": "y"}, nil, nil, nil), false,
			[]string{"nftables", "nftables NAT", "vxlan", "ipip", "wireguard"}, map[string]string{"nftables": "not installed for 6.1.0-test"}},
		{"no config: modules, then probes", host(nil, []string{"nf_tables", "nf_conntrack", "nft_nat"}, []string{"vxlan"}, map[string]bool{"veth": true, "ipip": false}), true,
			[]string{"ipip", "wireguard"}, map[string]string{"veth": "throwaway namespace", "ipip": "cannot be made", "vxlan": "loads on first use"}},
		{"no config and not root", host(nil, []string{"nf_tables", "nf_conntrack"}, nil, nil), false,
			[]string{"veth", "nftables NAT", "vxlan", "ipip", "wireguard"}, map[string]string{"veth": "no kernel config"}},
	}
	for _, tt := range tests {
		r := Check(tt.h)
		if r.OK() != tt.ok {
			t.Errorf("%s: OK = %v", tt.name, r.OK())
		}
		var missing []string
		for _, s := range r.Features {
			if !s.OK {
				missing = append(missing, s.Feature.Name)
			}
			if want, ok := tt.how[s.Feature.Name]; ok && !strings.Contains(s.How, want) {
				t.Errorf("%s: %s found as %q, want %q in it", tt.name, s.Feature.Name, s.How, want)
			}
		}
		if strings.Join(missing, ",") != strings.Join(tt.missing, ",") {
			t.Errorf("%s: missing %v, want %v", tt.name, missing, tt.missing)
		}
	}
}

func TestCheckMD5AndNft(t *testing.T) {
	h := host(map[string]string{"CONFIG_VETH": "y", "CONFIG_NF_TABLES": "y", "CONFIG_NF_CONNTRACK": "y"}, nil, nil, nil)
	h.MD5 = func() error { return errors.New("protocol not available") }
	h.Nft = func() error { return errors.New("nft not installed") }
	r := Check(h)
	if r.OK() {
		t.Error("OK without the nft program")
	}
	for _, s := range r.Features {
		if s.Feature.Module == "" && (s.OK || !strings.Contains(s.How, "protocol not available")) {
			t.Errorf("MD5: %+v", s)
		}
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader("#\n# Automatically generated\nCONFIG_VXLAN=m\n# CONFIG_NET_IPIP is not set\nCONFIG_LOCALVERSION=\"-fc\"\n"))
	if err != nil || cfg["CONFIG_VXLAN"] != "m" || cfg["CONFIG_LOCALVERSION"] != "-fc" || cfg["CONFIG_NET_IPIP"] != "" {
		t.Errorf("cfg %v, err %v", cfg, err)
	}
	if _, err := ParseConfig(strings.NewReader("hello\n")); err == nil {
		t.Error("a file without CONFIG_ lines was accepted")
	}
}
