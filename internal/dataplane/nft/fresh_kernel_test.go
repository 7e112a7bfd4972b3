package nft

import (
	"context"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

// A fresh Owner (tortie-node restarted) that finds the table different
// from what it wants writes the difference, not the whole table: a
// changed policy's chain and elements, a base chain whose rules changed
// (made anew: its declaration is not read back); then another fresh Owner
// writes nothing.
func TestFreshOwnerWritesTheDifference(t *testing.T) {
	node := nstest.New(t, "tfd")
	pod1 := pod(t, node, "cali1", "10.0.1.1", "10.0.1.254")
	pod2 := pod(t, node, "cali2", "10.0.2.1", "10.0.2.254")
	node.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for _, port := range []string{"80", "443"} {
		listen(t, pod2, "10.0.2.1:"+port)
	}
	in := policy.Input{Profiles: []*v3.Profile{decode[v3.Profile](t, `{metadata: {name: open}, spec: {ingress: [{action: Allow}], egress: [{action: Allow}]}}`)}}
	for _, d := range []string{
		`{metadata: {name: cali1, namespace: ns}, spec: {node: n1, interfaceName: cali1, ipNetworks: [10.0.1.1/32], profiles: [open]}}`,
		`{metadata: {name: cali2, namespace: ns, labels: {app: web}}, spec: {node: n1, interfaceName: cali2, ipNetworks: [10.0.2.1/32], profiles: [open]}}`,
	} {
		in.WorkloadEndpoints = append(in.WorkloadEndpoints, decode[v3.WorkloadEndpoint](t, d))
	}
	in.HostEndpoints = append(in.HostEndpoints, decode[v3.HostEndpoint](t, `{metadata: {name: n1-eth9}, spec: {node: n1, interfaceName: eth9}}`))
	web := func(ports string) *v3.GlobalNetworkPolicy {
		return decode[v3.GlobalNetworkPolicy](t, `{metadata: {name: web}, spec: {selector: app == 'web', ingress: [{action: Allow, protocol: TCP, destination: {ports: [`+ports+`]}}]}}`)
	}
	compile := func(ports string, fs *policy.Failsafes) *policy.Program {
		in.GlobalNetworkPolicies = []*v3.GlobalNetworkPolicy{web(ports)}
		p := policy.Compile(policy.Build(in), "n1")
		if fs != nil {
			p.Failsafes = *fs
		}
		return &p
	}
	var tx string
	fresh := func(prog *policy.Program) (res Result, runs int) {
		t.Helper()
		if err := node.Do(func() error {
			real, err := NewNFTables()
			if err != nil {
				return err
			}
			nft := &counting{Interface: real, onRun: func(s string) { tx = s }}
			tx = ""
			res, err = New(Config{NFT: nft}).Apply(context.Background(), Wanted{NAT: natWant(), Policy: prog})
			runs = nft.runs
			return err
		}); err != nil {
			t.Fatal(err)
		}
		readsAsLive(t, node, Wanted{NAT: natWant(), Policy: prog})
		return res, runs
	}
	fresh(compile("80", nil))
	if !connects(pod1, "10.0.2.1:80") || connects(pod1, "10.0.2.1:443") {
		t.Fatal("the first table does not enforce web: 80 only")
	}
	wholeTable := strings.Count(node.MustRun(t, "nft", "list", "table", "ip", "tortie"), "\n")

	res, runs := fresh(compile("80, 443", nil))
	if !res.Rebuilt || runs != 1 || strings.Contains(tx, "delete table") || strings.Count(tx, "\n") > wholeTable/4 {
		t.Errorf("a changed policy: %+v, %d runs, want the difference only:\n%s", res, runs, tx)
	}
	if !connects(pod1, "10.0.2.1:443") {
		t.Error("the changed policy is not enforced")
	}
	if res, runs := fresh(compile("80, 443", nil)); res.Rebuilt || runs != 0 {
		t.Errorf("unchanged: %+v, %d runs:\n%s", res, runs, tx)
	}

	none := policy.Failsafes{}
	res, runs = fresh(compile("80, 443", &none))
	if !res.Rebuilt || runs != 1 || strings.Contains(tx, "delete table") || !strings.Contains(tx, "delete chain ip tortie host-input") {
		t.Errorf("a base chain's rules changed: %+v, %d runs, want it made anew, alone:\n%s", res, runs, tx)
	}
	if out := node.MustRun(t, "nft", "list", "chain", "ip", "tortie", "host-input"); !strings.Contains(out, "hook input") || strings.Contains(out, "dport") {
		t.Errorf("host-input after the change:\n%s", out)
	}
	if res, runs := fresh(compile("80, 443", &none)); res.Rebuilt || runs != 0 {
		t.Errorf("unchanged again: %+v, %d runs:\n%s", res, runs, tx)
	}
	if !connects(pod1, "10.0.2.1:80") {
		t.Error("web:80 lost on the way")
	}
}
