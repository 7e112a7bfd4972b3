package ctl

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// session runs tortiectl command lines against one in-memory store with a
// fixed clock and predictable uids, so that output is reproducible.
type session struct {
	t     *testing.T
	store *datastore.Memory
	uids  int
}

func newSession(t *testing.T) *session {
	return &session{t: t, store: datastore.NewMemory()}
}

func (s *session) app(stdin string) (*App, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	a := &App{Out: &out, Err: &errb, In: strings.NewReader(stdin), Getenv: func(string) string { return "" }}
	a.Open = func(context.Context) (*client.Client, error) {
		return client.New(nopClose{s.store},
			client.WithClock(func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }),
			client.WithUIDs(func() string {
				s.uids++
				return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.uids)
			})), nil
	}
	return a, &out, &errb
}

// run executes one command line and returns its transcript.
func (s *session) run(stdin string, args ...string) string {
	a, out, errb := s.app(stdin)
	code := a.Run(context.Background(), args)
	var b strings.Builder
	fmt.Fprintf(&b, "$ tortiectl %s\n%s", strings.Join(args, " "), out.String())
	if errb.Len() > 0 {
		fmt.Fprintf(&b, "[stderr]\n%s", errb.String())
	}
	fmt.Fprintf(&b, "[exit %d]\n", code)
	return b.String()
}

// nopClose keeps the shared store open across commands.
type nopClose struct{ datastore.Store }

func (nopClose) Close() error { return nil }

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSeedApplyAndGet(t *testing.T) {
	s := newSession(t)
	var b strings.Builder
	b.WriteString(s.run(readFile(t, "seed.yaml"), "apply", "-f", "-"))
	for _, kind := range []string{"ippools", "nodes", "bgppeers", "bgpconfigurations", "tiers", "profiles", "clusterinformations"} {
		for _, o := range []string{"ps", "wide"} {
			b.WriteString(s.run("", "get", kind, "-o", o))
		}
	}
	golden(t, "seed-tables", b.String())

	b.Reset()
	b.WriteString(s.run("", "get", "ippool", "pool-1", "-o", "yaml"))
	b.WriteString(s.run("", "get", "node", "node-1", "-o", "json"))
	b.WriteString(s.run("", "get", "bgppeers", "-o", "yaml"))
	b.WriteString(s.run("", "get", "bgpconfig", "default", "-o", "yaml"))
	golden(t, "seed-objects", b.String())
}

func TestStoredJSONIsCalicos(t *testing.T) {
	s := newSession(t)
	s.run(readFile(t, "seed.yaml"), "apply", "-f", "-")
	var b strings.Builder
	kvs, _, err := s.store.List(context.Background(), datastore.Root)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		fmt.Fprintf(&b, "%s\n%s\n", kv.Key, kv.Value)
	}
	golden(t, "seed-etcd", b.String())
}

func TestWriteVerbs(t *testing.T) {
	s := newSession(t)
	pool := "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p1}\nspec: {cidr: 10.10.0.0/16}\n"
	var b strings.Builder
	b.WriteString(s.run(pool, "create", "-f", "-"))
	b.WriteString(s.run(pool, "create", "-f", "-"))
	b.WriteString(s.run(pool, "create", "--skip-exists", "-f", "-"))
	b.WriteString(s.run(strings.Replace(pool, "{cidr: 10.10.0.0/16}", "{cidr: 10.10.0.0/16, natOutgoing: true}", 1), "replace", "-f", "-"))
	b.WriteString(s.run("", "get", "ippools", "-o", "wide"))
	b.WriteString(s.run("", "patch", "ippool", "p1", "-p", `{"spec":{"disabled":true}}`))
	b.WriteString(s.run("", "patch", "ippool", "p1", "-t", "json", "-p", `[{"op":"replace","path":"/spec/ipipMode","value":"CrossSubnet"}]`))
	b.WriteString(s.run("", "patch", "ippool", "p1", "-p", `{"spec":{"cidr":"10.11.0.0/16"}}`))
	b.WriteString(s.run("", "label", "ippool", "p1", "zone=a"))
	b.WriteString(s.run("", "label", "ippool", "p1", "zone=b"))
	b.WriteString(s.run("", "label", "ippool", "p1", "zone=b", "--overwrite"))
	b.WriteString(s.run("", "get", "ippools", "-o", "wide"))
	b.WriteString(s.run("", "label", "ippool", "p1", "zone", "--remove"))
	b.WriteString(s.run("", "delete", "ippool", "p1"))
	b.WriteString(s.run("", "delete", "ippool", "p1"))
	b.WriteString(s.run("", "delete", "ippool", "p1", "--skip-not-exists"))
	b.WriteString(s.run("", "get", "ippool", "p1"))
	b.WriteString(s.run("", "get", "blockaffinities"))
	golden(t, "write-verbs", b.String())
}

func TestBadInput(t *testing.T) {
	s := newSession(t)
	good := "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: good}\nspec: {cidr: 10.20.0.0/16}\n"
	cases := []struct{ name, yaml string }{
		{"malformed", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: x\n"},
		{"unknown-kind", "apiVersion: projectcalico.org/v3\nkind: IPPoo\nmetadata: {name: x}\n"},
		{"unknown-field", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: x}\nspec: {cidr: 10.1.0.0/16, blockSzie: 26}\n"},
		{"wrong-type", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: x}\nspec: {cidr: 10.1.0.0/16, blockSize: big}\n"},
		{"invalid-value", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: x}\nspec: {cidr: 10.1.0.1/16}\n"},
		{"decode-error-writes-nothing", good + "---\napiVersion: projectcalico.org/v3\nkind: Nope\nmetadata: {name: other}\n"},
		{"partial", good + "---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: overlap}\nspec: {cidr: 10.20.128.0/17}\n---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: bad}\nspec: {cidr: 10.30.0.0/16, ipipMode: Sometimes}\n"},
		{"yaml-1.1-bool", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: y}\nspec: {cidr: 10.1.0.0/16}\n"},
		{"list", "apiVersion: projectcalico.org/v3\nkind: List\nitems:\n- apiVersion: projectcalico.org/v3\n  kind: GlobalNetworkSet\n  metadata: {name: gns1}\n  spec: {nets: [192.0.2.0/24]}\n- apiVersion: projectcalico.org/v3\n  kind: IPReservation\n  metadata: {name: r1}\n  spec: {reservedCIDRs: [10.20.0.5/32]}\n"},
	}
	var b strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&b, "## %s\n", c.name)
		b.WriteString(s.run(c.yaml, "apply", "-f", "-"))
		b.WriteString(s.run("", "get", "ippools"))
	}
	b.WriteString(s.run("", "get", "globalnetworksets", "-o", "wide"))
	b.WriteString(s.run("", "get", "ipreservations", "-o", "wide"))
	golden(t, "bad-input", b.String())
}
