package autodetect_test

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/tortienet/tortie/internal/autodetect"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestFirstFoundReasoning pins the documented first-found rule on node A:
// interfaces from the highest index down; excluded names rejected with the
// exclusion that matched; link-local addresses rejected; the first global
// address of the first eligible interface chosen; the rest not reached.
func TestFirstFoundReasoning(t *testing.T) {
	res, err := detect(t, nodeA(), "first-found", autodetect.IPv6)
	if err != nil {
		t.Fatal(err)
	}
	want := []autodetect.Step{
		{Interface: "tunl0", Verdict: autodetect.Rejected, Reason: `name matches default exclusion "^tunl.*"`},
		{Interface: "cali0123456789a", Verdict: autodetect.Rejected, Reason: `name matches default exclusion "^cali.*"`},
		{Interface: "docker0", Verdict: autodetect.Rejected, Reason: `name matches default exclusion "^docker.*"`},
		{Interface: "ens33", Verdict: autodetect.Passed, Reason: "name matches no exclusion"},
		{Interface: "ens33", Address: pfx("fe80::33/64"), Verdict: autodetect.Rejected, Reason: "link-local address"},
		{Interface: "ens33", Address: pfx("fd00:2::5/64"), Verdict: autodetect.Chosen, Reason: "first global unicast IPv6 address on this interface"},
		{Interface: "ens32", Verdict: autodetect.NotReached, Reason: "name matches no exclusion; an earlier interface already won"},
		{Interface: "lo", Verdict: autodetect.Rejected, Reason: `name matches default exclusion "^lo"`},
	}
	if len(res.Steps) != len(want) {
		t.Fatalf("got %d steps, want %d:\n%+v", len(res.Steps), len(want), res.Steps)
	}
	for i := range want {
		if res.Steps[i] != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, res.Steps[i], want[i])
		}
	}
}

// TestWriteText compares the rendered reasoning with golden files
// (go test -update rewrites them).
func TestWriteText(t *testing.T) {
	for _, tc := range []struct {
		golden, method string
		host           autodetect.Host
		family         autodetect.Family
	}{
		{"first-found-a.txt", "first-found", nodeA(), autodetect.IPv4},
		{"interface-b.txt", "interface=ens33,eth0", nodeB(), autodetect.IPv4},
		{"skip-interface-a.txt", "skip-interface=eth1,ens32", nodeA(), autodetect.IPv4},
		{"can-reach-a.txt", "can-reach=gw-s2.example", nodeA(), autodetect.IPv6},
		{"cidr-b.txt", "cidr=10.0.1.0/24", nodeB(), autodetect.IPv4},
		{"no-match-a.txt", "interface=ens99", nodeA(), autodetect.IPv4},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			res, _ := detect(t, tc.host, tc.method, tc.family)
			var buf bytes.Buffer
			if err := res.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("WriteText differs from %s:\n--- got\n%s--- want\n%s", path, buf.Bytes(), want)
			}
		})
	}
}

func TestDetectLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slogJSON(&buf)
	m, _ := autodetect.ParseMethod("interface=ens33")
	if _, err := (autodetect.Detector{Host: nodeA(), Log: log}).Detect(context.Background(), m, autodetect.IPv4); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"msg":"autodetected address"`, `"address":"10.0.2.5/24"`, `"interface":"ens33"`, `"method":"interface=ens33"`, `"msg":"autodetection step"`} {
		if !bytes.Contains(buf.Bytes(), []byte(w)) {
			t.Errorf("log lacks %s:\n%s", w, buf.String())
		}
	}
}

func slogJSON(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
