package ctl

import (
	"strings"
	"testing"
)

func TestDevSimcluster(t *testing.T) {
	s := newSession(t)
	out := s.run("", "dev", "simcluster", "--nodes", "3", "--endpoints-per-node", "2")
	if !strings.Contains(out, "Wrote 3 nodes and 6 workload endpoints") || !strings.Contains(out, "[exit 0]") {
		t.Fatalf("simcluster:\n%s", out)
	}
	out = s.run("", "get", "workloadendpoints", "-n", "sim", "-o", "wide")
	for _, want := range []string{"sim00002p001", "10.0.0.130/32", "sim00002"} {
		if !strings.Contains(out, want) {
			t.Errorf("get workloadendpoints lacks %s:\n%s", want, out)
		}
	}
	for args, want := range map[string]string{
		"--nodes 0":                         "--nodes = 0",
		"--nodes 2 --endpoints-per-node 70": "--endpoints-per-node = 70",
		"--nodes 2 --pool-cidr 10.0.0.0/33": "--pool-cidr = \"10.0.0.0/33\"",
		"--nodes 2 --pool-cidr 192.168.0.0/16 --node-cidr 172.30.0.0/16 --prefix x": "", // a second cluster beside the first
		"--nodes 2": "already exists",
	} {
		out := s.run("", append([]string{"dev", "simcluster"}, strings.Fields(args)...)...)
		ok := strings.Contains(out, "[exit 0]")
		if want == "" && !ok || want != "" && (ok || !strings.Contains(out, want)) {
			t.Errorf("simcluster %s: want %q:\n%s", args, want, out)
		}
	}
}
