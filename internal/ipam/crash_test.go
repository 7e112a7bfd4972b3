package ipam

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore/etcd"
)

const (
	crashChildEnv = "TORTIE_IPAM_CRASH_CHILD"
	crashEtcdEnv  = "TORTIE_IPAM_CRASH_ETCD"
	crashNode     = "crash-node"
	crashSlowAt   = 15 // the child dawdles before writing this pod's endpoint
)

// crashChild plays a CNI plugin: allocate, then write the endpoint, again
// and again, printing each step, until it is killed.
func crashChild() int {
	ctx := context.Background()
	s, err := etcd.New(ctx, etcd.Config{Endpoints: strings.Split(os.Getenv(crashEtcdEnv), ",")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c := client.New(s)
	m := New(c)
	for i := 0; ; i++ {
		handle := fmt.Sprintf("net.c%d", i)
		v4, _, err := m.AutoAssign(ctx, AutoAssignArgs{Num4: 1, HandleID: handle, Hostname: crashNode, Attrs: map[string]string{AttrNode: crashNode}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("A %d %s\n", i, v4[0].Addr())
		if i == crashSlowAt {
			time.Sleep(time.Minute)
		}
		if _, err := c.Create(ctx, wep(i, v4[0].Addr())); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("W %d\n", i)
	}
}

func wep(i int, a netip.Addr) *v3.WorkloadEndpoint {
	w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: fmt.Sprintf("crash--node-cni-c%d-eth0", i), Namespace: "default"}}
	w.Spec = v3.WorkloadEndpointSpec{Orchestrator: "cni", Node: crashNode, ContainerID: fmt.Sprintf("c%d", i), Endpoint: "eth0",
		IPNetworks: []string{netip.PrefixFrom(a, 32).String()}, InterfaceName: fmt.Sprintf("cali%011d", i)}
	return w
}

// TestCrashMidAllocation kills an allocating process with SIGKILL between
// an allocation and its endpoint. Check then reports exactly that address
// as leaked, and releasing from the report frees it and nothing else.
func TestCrashMidAllocation(t *testing.T) {
	e := newEnv(t)
	e.pool("p", "10.30.0.0/24", 29, nil)
	e.node(crashNode, nil)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashEtcdEnv+"="+strings.Join(etcdEndpoints, ","))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	withWEP := map[string]bool{}
	var leaked string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var kind, addr string
		var i int
		fmt.Sscanf(sc.Text(), "%s %d %s", &kind, &i, &addr)
		if kind == "A" && i == crashSlowAt {
			leaked = addr
			break
		}
		if kind == "A" {
			withWEP[addr] = true
		}
	}
	if leaked == "" {
		t.Fatal("the child stopped before it reached the crash point")
	}
	cmd.Process.Kill()
	cmd.Wait()

	r, err := e.ipam.Check(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Leaked) != 1 || r.Leaked[0].IP != leaked || r.Leaked[0].Handle != fmt.Sprintf("net.c%d", crashSlowAt) {
		t.Fatalf("leaked = %+v, want exactly %s", r.Leaked, leaked)
	}
	if n := len(r.HandleMismatches) + len(r.MissingHandles) + len(r.EmptyHandles); n != 0 {
		t.Errorf("the crash left inconsistent handles: %+v %+v %+v", r.HandleMismatches, r.MissingHandles, r.EmptyHandles)
	}
	released, err := e.ipam.ReleaseReport(e.ctx, ReleaseReportOptions{}, r)
	if err != nil || len(released) != 1 || released[0] != leaked {
		t.Fatalf("released %v (%v), want [%s]", released, err, leaked)
	}
	after, err := e.ipam.Check(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Problems() != 0 || after.Allocations != len(withWEP) {
		t.Errorf("after release: %d problems, %d allocations; want 0 and %d", after.Problems(), after.Allocations, len(withWEP))
	}
	for a := range withWEP {
		if _, ok, _ := e.ipam.GetAllocation(e.ctx, netip.MustParseAddr(a)); !ok {
			t.Errorf("address %s of a live endpoint was released", a)
		}
	}
}
