package agentsock

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni/cniipam"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

func req(container string) cniipam.Request {
	return cniipam.Request{Network: "net", ContainerID: container, Node: "node-1", Args: "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod"}
}

// serve runs h on a unix socket for the test and returns the socket path.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return path
}

// The agent's allocator, asked over its socket, gives what AddWith and
// DelWith give in process: an address, the same one again for the same
// container, CNI errors with their codes, and a release.
func TestAgentIPAM(t *testing.T) {
	ctx := context.Background()
	c := client.New(datastore.NewMemory())
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "pool"}, Spec: v3.IPPoolSpec{CIDR: "10.9.0.0/30", BlockSize: 30}}
	if _, err := c.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	m := ipam.New(c, ipam.WithCache(time.Minute))
	a := NewIPAMClient(serve(t, IPAMHandler(m)))
	defer a.Close()

	first, err := a.Add(ctx, req("c1"))
	if err != nil || len(first.IPs) != 1 {
		t.Fatalf("add: %+v %v", first, err)
	}
	again, err := a.Add(ctx, req("c1"))
	if err != nil || !slices.Equal(addrs(again), addrs(first)) {
		t.Fatalf("repeated add gave %v (%v), first %v", addrs(again), err, addrs(first))
	}
	held, err := m.IPsByHandle(ctx, req("c1").Handle())
	if err != nil || len(held) != 1 {
		t.Fatalf("the handle holds %v (%v): want exactly one address", held, err)
	}

	for i := range 4 { // the /30 holds four
		_, err = a.Add(ctx, req(string(rune('x'+i))))
	}
	var te *types.Error
	if !errors.As(err, &te) || te.Code != types.ErrInternal || te.Msg == "" {
		t.Errorf("exhausted pool through the agent: %v, want a CNI error with code %d", err, types.ErrInternal)
	}

	if err := a.Del(ctx, req("c1")); err != nil {
		t.Fatalf("del: %v", err)
	}
	if held, _ := m.IPsByHandle(ctx, req("c1").Handle()); len(held) != 0 {
		t.Errorf("after del the handle still holds %v", held)
	}
}

// An agent that does not serve IPAM (an older one) says so, and the
// plugin then allocates itself.
func TestAgentWithoutIPAM(t *testing.T) {
	a := NewIPAMClient(serve(t, http.NotFoundHandler()))
	defer a.Close()
	if _, err := a.Add(context.Background(), req("c1")); !errors.Is(err, ErrNoIPAM) {
		t.Errorf("add against an agent without IPAM: %v, want ErrNoIPAM", err)
	}
}

func addrs(r *current.Result) []string {
	var out []string
	for _, ip := range r.IPs {
		out = append(out, ip.Address.String())
	}
	return out
}
