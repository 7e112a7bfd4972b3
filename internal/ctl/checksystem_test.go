package ctl

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/tortienet/tortie/internal/checksystem"
)

func TestWriteChecksystem(t *testing.T) {
	h := checksystem.Host{Release: "6.18.0-test", ConfigSource: "/proc/config.gz",
		Config:    map[string]string{"CONFIG_VETH": "y", "CONFIG_NF_TABLES": "y", "CONFIG_NFT_NAT": "y", "CONFIG_NF_CONNTRACK": "y", "CONFIG_VXLAN": "y"},
		Loaded:    func(string) bool { return false },
		Installed: func(string) bool { return false },
		MD5:       func() error { return nil },
		Sysctl: func(p string) (string, error) {
			if p == "net/ipv4/ip_forward" {
				return "0\n", nil
			}
			return "", errors.New("no ipv6")
		},
		Nft: func() error { return nil },
	}
	var b bytes.Buffer
	writeChecksystem(&b, checksystem.Check(h))
	golden(t, "checksystem", b.String())
}

// probeLink makes links in a throwaway namespace only.
func TestProbeLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a network namespace")
	}
	if err := probeLink("veth"); err != nil {
		t.Errorf("veth: %v", err)
	}
	if err := probeLink("nosuchkind"); err == nil {
		t.Error("an unknown kind was probed")
	}
}
