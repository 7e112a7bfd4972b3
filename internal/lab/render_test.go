package lab

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

func sampleStatus() *Status {
	return &Status{
		Name: "demo", Phase: PhaseUp, Underlay: "routed", CNI: "tortie", Pool: "10.244.0.0/16",
		Datastore: "http://172.31.1.1:2379",
		Subnets:   []SubnetStatus{{"s1", "172.31.1.0/24", "172.31.1.1", 1500}, {"s2", "172.31.2.0/24", "172.31.2.1", 1500}},
		Outside:   &OutsideStatus{Address: "198.51.100.1", CIDR: "172.31.254.0/24", Gateway: "172.31.254.1"},
		Nodes: []HostStatus{
			{Name: "node-a", Netns: "tl-demo.node.node-a", Agent: "running", NodeIP: "172.31.2.10/24", Blocks: []string{"10.244.5.0/26"},
				Interfaces: []IfaceStatus{{Name: "ens32", Subnet: "s1", Addrs: []string{"172.31.1.11/24"}, Up: true},
					{Name: "ens33", Subnet: "s2", Addrs: []string{"172.31.2.10/24"}, Up: true}}},
			{Name: "node-b", Netns: "tl-demo.node.node-b", Agent: "not built",
				Interfaces: []IfaceStatus{{Name: "eth1", Subnet: "s1", Addrs: []string{"172.31.1.10/24"}}}},
		},
		Routers: []HostStatus{{Name: "tor", Kind: "bird2", Interfaces: []IfaceStatus{{Name: "eth0", Subnet: "s1", Addrs: []string{"172.31.1.12/24"}, Up: true}}}},
		Pods: []PodStatus{
			{Key: "default/web", Node: "node-a", IPs: []string{"10.244.5.1/32"}, HostIf: "cali1234567890a", Labels: map[string]string{"app": "web", "tier": "front"}},
			{Key: "default/db", Node: "node-b", Error: "CNI ADD on node node-b: no pool"},
		},
		Blocks:    []BlockStatus{{CIDR: "10.244.5.0/26", Affinity: "host:node-a", InUse: 2, Size: 64}},
		Sessions:  []SessionStatus{{Node: "node-a", Peer: "node-b", Type: "node-to-node mesh", State: "Established"}},
		Processes: []ProcessStatus{{Role: "datastore", Pid: 42, Running: true, Log: "/run/tortie-lab/demo/datastore.log"}},
	}
}

func TestWriteStatusGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteStatus(&b, sampleStatus()); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.golden", b.Bytes())
}

func TestWriteDOTGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteDOT(&b, sampleStatus()); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.dot.golden", b.Bytes())
}

func TestWriteMatrixGolden(t *testing.T) {
	m := &Matrix{Expect: ExpectSameNode,
		Pods: []PingPod{{Key: "default/a1", Node: "n1", IP: "10.244.0.2"}, {Key: "default/a2", Node: "n1", IP: "10.244.0.3"}, {Key: "default/b1", Node: "n2", IP: "10.244.1.2"}},
		Cells: [][]Cell{
			{{Self: true}, {Expected: true, Reached: true}, {}},
			{{Expected: true}, {Self: true}, {Reached: true}},
			{{}, {}, {Self: true}},
		}}
	if m.Failed() != 1 {
		t.Errorf("Failed() = %d, want 1", m.Failed())
	}
	var b bytes.Buffer
	if err := WriteMatrix(&b, m); err != nil {
		t.Fatal(err)
	}
	golden(t, "matrix.golden", b.Bytes())
}

func TestWritePathGolden(t *testing.T) {
	p := &PathResult{From: "default/a", To: "default/b", Src: ip("10.244.1.2"), Dst: ip("10.244.2.2"),
		Hops: trace(twoNodes(true), "pa", ip("10.244.1.2"), ip("10.244.2.2")), Delivered: true}
	var b bytes.Buffer
	if err := WritePath(&b, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "path.golden", b.Bytes())
}
