package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
)

// TestGetEveryKind prints every kind in ps and wide (namespaced ones also
// with -A), as calicoctl does. The golden file is checked against
// calicoctl's templates by reading, column by column.
func TestGetEveryKind(t *testing.T) {
	s := newSession(t)
	var b strings.Builder
	b.WriteString(s.run(readFile(t, "every-kind.yaml"), "apply", "-f", "-"))
	for _, k := range append(v3.Kinds(), ipamConfigKind) {
		for _, o := range []string{"ps", "wide"} {
			args := []string{"get", k.Plural, "-o", o}
			if k.Namespaced {
				args = append(args, "-A")
			}
			b.WriteString(s.run("", args...))
		}
	}
	golden(t, "get-every-kind", b.String())
}

// TestGetFormats covers named gets, -n, custom columns, templates and
// their errors.
func TestGetFormats(t *testing.T) {
	s := newSession(t)
	s.run(readFile(t, "every-kind.yaml"), "apply", "-f", "-")
	tmpl := filepath.Join(t.TempDir(), "t.tmpl")
	if err := os.WriteFile(tmpl, []byte("{{range .}}{{range .Items}}{{.ObjectMeta.Name}} {{.Spec.CIDR}}\n{{end}}{{end}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, args := range [][]string{
		{"get", "ippool", "pool-a", "pool-v6"},
		{"get", "ippool", "pool-a", "pool-v6", "-o", "yaml"},
		{"get", "wep", "-n", "prod", "-o", "wide"},
		{"get", "wep", "node--a-k8s-web--1-eth0", "-A"},
		{"get", "ippools", "-o", "custom-columns=name,CIDR,ipipmode"},
		{"get", "weps", "-A", "-o", "custom-columns=NAMESPACE,NAME,ORCHESTRATOR"},
		{"get", "nodes", "-o", "custom-columns=NAME,ASN"},
		{"get", "ippools", "-o", "custom-columns=NAME,COLOUR"},
		{"get", "ippools", "-o", "go-template={{range .}}{{range .Items}}{{.ObjectMeta.Name}}={{.Spec.CIDR}};{{end}}{{end}}\n"},
		{"get", "ippool", "pool-a", "-o", "go-template={{range .}}{{.Name}} {{.Spec.IPIPMode}}{{end}}\n"},
		{"get", "profile", "dev", "-o", `go-template={{range .}}{{join .Spec.LabelsToApply ";"}}{{end}}` + "\n"},
		{"get", "nodes", "-o", `go-template={{range .}}{{range .Items}}{{.Name}} {{config "asnumber"}} {{end}}{{end}}` + "\n"},
		{"get", "ippools", "-o", "go-template-file=" + tmpl},
		{"get", "ippools", "-o", "go-template={{range .}}{{.Nope}}{{end}}"},
		{"get", "ippools", "-o", "table"},
		{"delete", "bgpfilter", "export-only-pods"},
		{"delete", "stagednetworkpolicy", "try-web", "-n", "prod"},
		{"delete", "sknp", "try-k8s", "-n", "prod"},
		{"delete", "stagedglobalnetworkpolicy", "try-global"},
		{"delete", "caliconodestatus", "node-a-status"},
		{"get", "bgpfilters"},
		{"get", "ipamconfig", "default"},
		{"ipam", "configure", "--strictaffinity=true", "--maxblocksperhost=4"},
		{"get", "ipamconfigurations", "-o", "wide"},
		{"get", "ipamconfig", "default", "-o", "yaml"},
		{"get", "ipamconfig", "other"},
	} {
		out := s.run("", args...)
		b.WriteString(strings.ReplaceAll(out, tmpl, "TEMPLATE"))
	}
	golden(t, "get-formats", b.String())
}

// TestV1IPPool: an old calicoctl v1 ipPool is refused with its v3 form,
// and convert writes it (several documents as a List).
func TestV1IPPool(t *testing.T) {
	s := newSession(t)
	v1 := "apiVersion: v1\nkind: ipPool\nmetadata:\n  cidr: 192.168.0.0/16\nspec:\n  ipip:\n    enabled: true\n    mode: cross-subnet\n  nat-outgoing: true\n"
	v1b := "apiVersion: v1\nkind: ipPool\nmetadata: {cidr: \"fd00:1::/64\"}\nspec: {disabled: true}\n"
	var b strings.Builder
	b.WriteString(s.run(v1, "apply", "-f", "-"))
	b.WriteString(s.run(v1, "convert", "-f", "-"))
	b.WriteString(s.run(v1+"---\n"+v1b, "convert", "-f", "-", "-o", "json"))
	b.WriteString(s.run("apiVersion: v1\nkind: ipPool\nmetadata: {cidr: 10.0.0.0/8}\nspec: {ipip: {mode: sometimes}}\n", "convert", "-f", "-"))
	b.WriteString(s.run("apiVersion: v1\nkind: bgpPeer\nmetadata: {peerIP: 10.0.0.1, scope: global}\nspec: {asNumber: 64512}\n", "convert", "-f", "-"))
	b.WriteString(s.run("apiVersion: v1\nkind: ipPool\nmetadata: {cidr: 10.0.0.0/33}\n", "convert", "-f", "-"))
	golden(t, "v1-ippool", b.String())
}
