package cniipam

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

func newClient(t *testing.T, cidr string) *client.Client {
	t.Helper()
	c := client.New(datastore.NewMemory())
	p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "pool"}}
	p.Spec.CIDR, p.Spec.BlockSize = cidr, 30
	if _, err := c.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return c
}

func req(container string) Request {
	return Request{Network: "net", ContainerID: container, Node: "node-1", Args: "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod"}
}

func addrs(r *current.Result) []string {
	var out []string
	for _, ip := range r.IPs {
		out = append(out, ip.Address.String())
	}
	return out
}

func code(err error) uint {
	var te *types.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// ADD allocates under "<network>.<container>" with the pod's attributes, a
// repeated ADD returns the same address, CHECK sees it, DEL releases it,
// and once the node's first /30 is full the next ADD claims another block
// (read ahead or not, allocations never collide).
func TestAddCheckDelGC(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, "10.9.0.0/24")
	got := map[string]bool{}
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		r, err := Add(ctx, c, req(id))
		if err != nil {
			t.Fatalf("ADD %s: %v", id, err)
		}
		for _, a := range addrs(r) {
			if got[a] || !strings.HasSuffix(a, "/32") {
				t.Fatalf("ADD %s: %s given twice or not a /32", id, a)
			}
			got[a] = true
		}
	}
	first, _ := Add(ctx, c, req("a"))
	again, err := Add(ctx, c, req("a"))
	if err != nil || len(again.IPs) != 1 || again.IPs[0].Address.String() != first.IPs[0].Address.String() {
		t.Fatalf("repeated ADD: %v, %v; want %v", again, err, first)
	}
	m := ipam.New(c)
	ips, err := m.IPsByHandle(ctx, "net.a")
	if err != nil || len(ips) != 1 {
		t.Fatalf("handle net.a holds %v (%v)", ips, err)
	}
	alloc, ok, err := m.GetAllocation(ctx, ips[0])
	if err != nil || !ok || alloc.Attrs[ipam.AttrPod] != "pod" || alloc.Attrs[ipam.AttrNamespace] != "ns" || alloc.Attrs[ipam.AttrNode] != "node-1" {
		t.Errorf("allocation of %s: %+v %v %v", ips[0], alloc, ok, err)
	}
	if err := Check(ctx, c, req("a"), first); err != nil {
		t.Errorf("CHECK: %v", err)
	}
	wrong := &current.Result{IPs: []*current.IPConfig{{Address: net.IPNet{IP: net.ParseIP("10.9.9.9"), Mask: net.CIDRMask(32, 32)}}}}
	if err := Check(ctx, c, req("a"), wrong); code(err) != types.ErrInternal || !strings.Contains(err.Error(), "tortie-ipam: 10.9.9.9 is not allocated to net.a") {
		t.Errorf("CHECK of a foreign address: %v", err)
	}
	if err := Del(ctx, c, req("a")); err != nil {
		t.Fatal(err)
	}
	if err := Del(ctx, c, req("a")); err != nil {
		t.Errorf("repeated DEL: %v", err)
	}
	if err := Check(ctx, c, req("a"), nil); code(err) != types.ErrInternal {
		t.Errorf("CHECK after DEL: %v", err)
	}
	if err := GC(ctx, c, "net", []types.GCAttachment{{ContainerID: "b", IfName: "eth0"}}); err != nil {
		t.Fatal(err)
	}
	hs, _ := m.Handles(ctx, "net.")
	if len(hs) != 1 || hs[0] != "net.b" {
		t.Errorf("after GC: handles %v, want [net.b]", hs)
	}
}

func TestAddErrors(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, "10.9.0.0/30")
	no := "false"
	none := req("x")
	none.Conf.AssignIPv4 = &no
	if _, err := Add(ctx, c, none); code(err) != types.ErrInvalidNetworkConfig {
		t.Errorf("nothing to assign: %v", err)
	}
	for _, id := range []string{"1", "2", "3", "4"} {
		if _, err := Add(ctx, c, req(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Add(ctx, c, req("5")); code(err) != types.ErrInternal || !strings.HasPrefix(err.(*types.Error).Msg, "tortie-ipam: ") {
		t.Errorf("exhausted: %v", err)
	}
	if _, err := ParseConf([]byte(`{"ipam":{"assign_ipv6":"yes"}}`)); code(err) != types.ErrInvalidNetworkConfig {
		t.Errorf("assign_ipv6 = yes: %v", err)
	}
}

// A key written after it was read ahead is read afresh; every read is
// answered ahead at most once.
func TestReadAheadForgetsWrittenKeys(t *testing.T) {
	ctx := context.Background()
	mem := datastore.NewMemory()
	h := ipam.ConfigKey // one of the keys read ahead
	if _, err := mem.Create(ctx, h, []byte(`{"old":1}`)); err != nil {
		t.Fatal(err)
	}
	r := newReadAhead(ctx, mem, "node-1", []string{"ipv4"})
	kv, err := r.Get(ctx, h)
	if err != nil || string(kv.Value) != `{"old":1}` {
		t.Fatalf("read ahead: %s %v", kv.Value, err)
	}
	if _, err := mem.Update(ctx, h, []byte(`{"new":1}`), 0); err != nil {
		t.Fatal(err)
	}
	if kv, _ := r.Get(ctx, h); string(kv.Value) != `{"new":1}` {
		t.Errorf("second read answered ahead again: %s", kv.Value)
	}

	r = newReadAhead(ctx, mem, "node-1", []string{"ipv4"})
	if _, err := r.Txn(ctx, datastore.Op{Type: datastore.OpUpdate, Key: h, Value: []byte(`{"txn":1}`)}); err != nil {
		t.Fatal(err)
	}
	if kv, _ := r.Get(ctx, h); string(kv.Value) != `{"txn":1}` {
		t.Errorf("read after a write through the read-ahead: %s", kv.Value)
	}
}
