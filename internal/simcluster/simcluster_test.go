package simcluster_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/embedded/embeddedtest"
	"github.com/tortienet/tortie/internal/datastore/etcd"
	"github.com/tortienet/tortie/internal/ipam"
	"github.com/tortienet/tortie/internal/simcluster"
)

var endpoints []string

func TestMain(m *testing.M) { os.Exit(embeddedtest.Main(m, &endpoints)) }

func freshClient(t *testing.T) *client.Client {
	t.Helper()
	s, err := etcd.New(t.Context(), etcd.Config{Endpoints: endpoints})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().Delete(t.Context(), "/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	c := client.New(s)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestWriteIsConsistentIPAM: what Write leaves is what calico-node and
// the CNI plugin would: ipam check finds every address owned by its node
// or endpoint, every handle matching its block, no stale affinity.
func TestWriteIsConsistentIPAM(t *testing.T) {
	c := freshClient(t)
	spec := simcluster.Spec{Nodes: 17, EndpointsPerNode: 5}
	res, err := simcluster.Write(t.Context(), c, spec)
	if err != nil {
		t.Fatal(err)
	}
	// per node: Node, block, affinity, tunnel handle, 5 handles, 5 endpoints
	if want := 1 + 17*(4+2*5); res.Keys != want || res.Endpoints != 85 {
		t.Errorf("wrote %d keys (%d endpoints), want %d (85)", res.Keys, res.Endpoints, want)
	}
	r, err := ipam.New(c).Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r.Problems() != 0 || len(r.Blocks) != 17 || r.WorkloadIPs != 85 || r.NodeTunnelIPs != 17 || r.InUse != 102 {
		t.Errorf("ipam check: %d problems (%+v), %d blocks, %d workload and %d tunnel addresses in use, %d in all; want 0, 17, 85, 17, 102",
			r.Problems(), r, len(r.Blocks), r.WorkloadIPs, r.NodeTunnelIPs, r.InUse)
	}
	for _, b := range r.Blocks {
		if !strings.HasPrefix(b.Affinity, "host:sim") || b.InUse != 6 {
			t.Errorf("block %+v: want affine to a sim node with 6 addresses in use", b)
		}
	}
}

// TestWriteRefusesExistingCluster: a second Write on the same datastore
// fails on the pool, before writing anything else.
func TestWriteRefusesExistingCluster(t *testing.T) {
	c := freshClient(t)
	if _, err := simcluster.Write(t.Context(), c, simcluster.Spec{Nodes: 2, EndpointsPerNode: 1}); err != nil {
		t.Fatal(err)
	}
	_, before, err := c.Store().ListKeys(t.Context(), datastore.Root)
	if err != nil {
		t.Fatal(err)
	}
	_, err = simcluster.Write(t.Context(), c, simcluster.Spec{Nodes: 3, EndpointsPerNode: 1})
	if !errors.Is(err, datastore.ErrAlreadyExists) {
		t.Fatalf("second Write: %v, want an already-exists error", err)
	}
	_, after, _ := c.Store().ListKeys(context.Background(), datastore.Root)
	if after != before {
		t.Errorf("the refused Write wrote something: revision %d -> %d", before, after)
	}
}

func TestSpecValidate(t *testing.T) {
	for want, s := range map[string]simcluster.Spec{
		"nodes = 0":                 {Nodes: 0},
		"endpoints-per-node = 64":   {Nodes: 1, EndpointsPerNode: 64},
		"endpoints-per-node = -1":   {Nodes: 1, EndpointsPerNode: -1},
		"nodes = 1025":              {Nodes: 1025, PoolCIDR: mustPrefix("10.0.0.0/16")},
		"block-size = 8":            {Nodes: 1, BlockSize: 8},
		"pool-cidr = 10.0.0.1/16":   {Nodes: 1, PoolCIDR: mustPrefix("10.0.0.1/16")},
		"node-cidr = 172.16.0.0/30": {Nodes: 3, NodeCIDR: mustPrefix("172.16.0.0/30")},
		"prefix = \"Sim\"":          {Nodes: 1, Prefix: "Sim"},
	} {
		s.Defaults()
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: error %v, want it to start %q", s, err, want)
		}
	}
}
