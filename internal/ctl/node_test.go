package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/autodetect"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

func runNode(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	a := &App{Out: &out, Err: &errb, In: strings.NewReader(""), Getenv: func(k string) string { return env[k] }}
	code = a.Run(context.Background(), append([]string{"node", "autodetect"}, args...))
	return code, out.String(), errb.String()
}

func TestNodeAutodetectBadInput(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--method", "bogus"}, `--method: autodetection method "bogus": unknown method`},
		{nil, []string{"--method", "interface=eth[0"}, `invalid regular expression "eth[0"`},
		{nil, []string{"--method", "cidr=10.0.0.0/33"}, `invalid CIDR "10.0.0.0/33"`},
		{map[string]string{"IP_AUTODETECTION_METHOD": "nope"}, nil, `"nope"`},
		{map[string]string{"IP6_AUTODETECTION_METHOD": "nope6"}, []string{"--ipv6"}, `"nope6"`},
		{nil, []string{"-o", "yaml"}, `--output "yaml": must be text or json`},
	} {
		code, out, errs := runNode(tc.env, tc.args...)
		if code != 1 || !strings.Contains(errs, tc.want) || out != "" {
			t.Errorf("node autodetect %v (env %v) = %d, stdout %q, stderr %q; want 1 and %q", tc.args, tc.env, code, out, errs, tc.want)
		}
	}
}

// TestNodeAutodetectInNamespace runs the command inside a throwaway
// namespace shaped like node A of scenarios.md §3.
func TestNodeAutodetectInNamespace(t *testing.T) {
	ns := nstest.New(t, "tad-ctl")
	for _, l := range [][3]string{{"ens32", "10.0.1.5/24", "fd00:1::5/64"}, {"ens33", "10.0.2.5/24", "fd00:2::5/64"}} {
		if err := ns.AddVeth(l[0], "veth-"+l[0], l[1], l[2]); err != nil {
			t.Fatal(err)
		}
	}
	in := func(env map[string]string, args ...string) (code int, out, errs string) {
		if err := ns.Do(func() error { code, out, errs = runNode(env, args...); return nil }); err != nil {
			t.Fatal(err)
		}
		return code, out, errs
	}

	code, out, errs := in(nil, "--method", "interface=ens32", "-o", "json")
	var res autodetect.Result
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("json: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if res.Address.String() != "10.0.1.5/24" || res.Interface != "ens32" || res.Method != "interface=ens32" || len(res.Steps) == 0 {
		t.Errorf("json result = %+v", res)
	}

	code, out, _ = in(map[string]string{"IP6_AUTODETECTION_METHOD": "cidr=fd00:2::/64"}, "--ipv6")
	for _, w := range []string{"IPv6 autodetection method: cidr=fd00:2::/64", "fd00:2::5/64                 chosen", "IPv6 address: fd00:2::5/64 on ens33"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("text output (exit %d) lacks %q:\n%s", code, w, out)
		}
	}

	code, out, errs = in(nil, "--method", "interface=eth9")
	if code != 1 || !strings.Contains(out, "IPv4 address: none") || !strings.Contains(errs, `"interface=eth9"`) {
		t.Errorf("no match: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
