package cni

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
)

func TestSwapPodCIDRs(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		cidrs    []string
		want     string // substring of the result, or of the error
		changed  bool
	}{
		{"subnet", `{"ipam":{"type":"host-local","subnet":"usePodCidr"}}`, []string{"10.244.3.0/24"}, `"subnet":"10.244.3.0/24"`, true},
		{"ranges, dual stack", `{"ipam":{"type":"host-local","ranges":[[{"subnet":"usePodCidr"}],[{"subnet":"usePodCidrIPv6"}]]}}`,
			[]string{"fd00:10::/64", "10.244.3.0/24"}, `"ranges":[[{"subnet":"10.244.3.0/24"}],[{"subnet":"fd00:10::/64"}]]`, true},
		{"nothing to swap", `{"ipam":{"type":"host-local","subnet":"10.1.0.0/16"}}`, nil, `"subnet":"10.1.0.0/16"`, false},
		{"no v6 pod CIDR", `{"ipam":{"type":"host-local","subnet":"usePodCidrIPv6"}}`, []string{"10.244.3.0/24"}, "no such pod CIDR", true},
	} {
		out, changed, err := swapPodCIDRs([]byte(tc.in), tc.cidrs)
		got := string(out)
		if err != nil {
			got = err.Error()
		}
		if changed != tc.changed || !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %s (changed %v), want %s (changed %v)", tc.name, got, changed, tc.want, tc.changed)
		}
	}
	if !wantsPodCIDR([]byte(`{"ipam":{"subnet":"usePodCidr"}}`)) || wantsPodCIDR([]byte(`{"ipam":{"type":"tortie-ipam"}}`)) {
		t.Error("wantsPodCIDR")
	}
}

// recIPAM records the subnet of each call.
type recIPAM struct {
	IPAM
	adds, dels []string
}

func (r *recIPAM) subnet(stdin []byte) string {
	var c struct{ IPAM struct{ Subnet string } }
	_ = json.Unmarshal(stdin, &c)
	return c.IPAM.Subnet
}

func (r *recIPAM) Add(_ context.Context, stdin []byte) (*current.Result, error) {
	r.adds = append(r.adds, r.subnet(stdin))
	return &current.Result{}, nil
}

func (r *recIPAM) Del(_ context.Context, stdin []byte) error {
	r.dels = append(r.dels, r.subnet(stdin))
	return nil
}

// TestPodCIDRKept: the first ADD reads the Node and keeps its CIDRs; the
// next ADD allocates from the kept ones (reading the Node meanwhile) and
// a DEL uses them without reading; a Node registered again with another
// CIDR makes the ADD release the address from the kept range and take
// one from the new range.
func TestPodCIDRKept(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	store := datastore.NewMemory()
	setNode := func(cidr string) {
		key := datastore.ResourceKey("nodes", "", "n1")
		_, _ = store.Delete(ctx, key, 0)
		b, _ := json.Marshal(map[string]any{"kind": "Node", "apiVersion": "projectcalico.org/v3", "metadata": map[string]any{"name": "n1"},
			"status": map[string]any{"podCIDRs": []string{cidr}}})
		if _, err := store.Create(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	reads := 0
	rec := &recIPAM{}
	conf := &NetConf{Nodename: "n1", NodenameFileOptional: true, StateDir: dir, NodenameFile: filepath.Join(dir, "none")}
	p := podCIDRIPAM{inner: rec, conf: conf, open: func(context.Context) (*client.Client, error) {
		reads++
		return client.New(store), nil
	}}
	stdin := []byte(`{"ipam":{"type":"host-local","subnet":"usePodCidr"}}`)
	setNode("10.244.1.0/24")
	for range 2 {
		if _, err := p.Add(ctx, stdin); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Del(ctx, stdin); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.adds, []string{"10.244.1.0/24", "10.244.1.0/24"}) || !slices.Equal(rec.dels, []string{"10.244.1.0/24"}) || reads != 2 {
		t.Fatalf("adds %v, dels %v, %d node reads; want two adds and a del from 10.244.1.0/24, 2 reads", rec.adds, rec.dels, reads)
	}
	setNode("10.244.7.0/24")
	rec.adds, rec.dels = nil, nil
	if _, err := p.Add(ctx, stdin); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.adds, []string{"10.244.1.0/24", "10.244.7.0/24"}) || !slices.Equal(rec.dels, []string{"10.244.1.0/24"}) {
		t.Fatalf("after the node changed: adds %v, dels %v; want the kept range released and the new one used", rec.adds, rec.dels)
	}
	if got := p.kept("n1"); !slices.Equal(got, []string{"10.244.7.0/24"}) {
		t.Errorf("kept %v", got)
	}
}
