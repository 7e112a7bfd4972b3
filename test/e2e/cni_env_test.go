package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni"
	"github.com/tortienet/tortie/internal/cni/cnitest"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/datastore"
)

// Aliases for the node's addresses (see cnitest).
const (
	cniNodeIP       = cnitest.NodeIP
	cniEtcdInNode   = cnitest.EtcdInNode
	cniNodeName     = "tcni-node"
	cniDefaultRange = cnitest.DefaultRange
)

var (
	tortieOnce sync.Once
	tortiePath string
	tortieErr  error
)

// tortieBin is the tortie binary from binDir, built there if missing.
func tortieBin(t *testing.T) string {
	t.Helper()
	tortieOnce.Do(func() {
		tortiePath = bin("tortie")
		if _, err := os.Stat(tortiePath); err == nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", tortiePath, "github.com/tortienet/tortie/cmd/tortie").CombinedOutput()
		if err != nil {
			tortieErr = fmt.Errorf("build tortie: %v: %s", err, out)
		}
	})
	if tortieErr != nil {
		t.Fatal(tortieErr)
	}
	return tortiePath
}

// cniEnv is one node for CNI tests (see cnitest.Node), its namespaces
// named tcni-<run id>-*.
type cniEnv struct {
	*cnitest.Node
	t    *testing.T
	id   string
	node *cnitest.NetNS
	rt   *cnitest.Runtime
	cl   *client.Client
}

func newCNIEnv(t *testing.T) *cniEnv {
	t.Helper()
	cnitest.RequireRoot(t)
	cnitest.RequireTools(t, "cnitool", "host-local")
	id := cnitest.RunID()
	n := cnitest.NewNode(t, "tcni-"+id+"-", cniNodeName, tortieBin(t), "host-local", "portmap", "bandwidth")
	e := &cniEnv{Node: n, t: t, id: id, node: n.NS, rt: n.Runtime, cl: n.Client}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(n.LogFile); err == nil {
				t.Logf("plugin log:\n%s", b)
			}
		}
	})
	return e
}

func (e *cniEnv) startEtcd()                                         { e.StartEtcd(e.t) }
func (e *cniEnv) writeState(name, content string)                    { e.WriteState(e.t, name, content) }
func (e *cniEnv) pod(name string) *cnitest.NetNS                     { return e.Pod(e.t, name) }
func (e *cniEnv) tortieConf(ranges ...map[string]any) map[string]any { return e.TortieConf(ranges...) }

// network writes a conflist and returns its name.
func (e *cniEnv) network(name, version string, plugins ...map[string]any) string {
	return e.Network(e.t, name, version, plugins...)
}

// add runs cnitool add and decodes the result.
func (e *cniEnv) add(network string, pod *cnitest.NetNS, env ...string) cniResult {
	e.t.Helper()
	c := e.rt.Cnitool("add", network, pod.Path(), env...)
	if c.Err != nil {
		e.t.Fatal(c.Err)
	}
	var r cniResult
	if err := json.Unmarshal([]byte(c.Stdout), &r); err != nil {
		e.t.Fatalf("decode result %q: %v", c.Stdout, err)
	}
	return r
}

func (e *cniEnv) del(network string, pod *cnitest.NetNS) {
	e.t.Helper()
	if c := e.rt.Cnitool("del", network, pod.Path()); c.Err != nil {
		e.t.Fatal(c.Err)
	}
}

// cniResult is a result of any version, as JSON.
type cniResult struct {
	CNIVersion string `json:"cniVersion"`
	Interfaces []struct {
		Name, Mac, Sandbox string
		Mtu                int
	} `json:"interfaces"`
	IPs []struct {
		Version   string `json:"version"`
		Address   string `json:"address"`
		Gateway   string `json:"gateway"`
		Interface *int   `json:"interface"`
	} `json:"ips"`
	Routes []struct{ Dst, GW string } `json:"routes"`
}

// containerID is the ID cnitool gives a pod namespace.
func containerID(pod *cnitest.NetNS) string { return cnitest.ContainerID(pod.Path()) }

// workload is the plugin's identity of a cnitool pod.
func workload(network string, pod *cnitest.NetNS) cni.Workload {
	return cni.NewWorkload(network, containerID(pod), "eth0", "")
}

// wep reads a pod's WorkloadEndpoint; nil when there is none.
func (e *cniEnv) wep(network string, pod *cnitest.NetNS) *v3.WorkloadEndpoint {
	e.t.Helper()
	w := workload(network, pod)
	kind, _ := v3.LookupKind("WorkloadEndpoint")
	r, err := e.cl.Get(context.Background(), kind, w.Namespace, w.WEPName(cniNodeName))
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		e.t.Fatal(err)
	}
	return r.(*v3.WorkloadEndpoint)
}

func isNotFound(err error) bool { return errors.Is(err, datastore.ErrNotFound) }

// weps lists every WorkloadEndpoint's name.
func (e *cniEnv) weps() []string {
	e.t.Helper()
	kind, _ := v3.LookupKind("WorkloadEndpoint")
	rs, _, err := e.cl.List(context.Background(), kind, "")
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.GetObjectMeta().Name)
	}
	return names
}

// allocations lists the addresses host-local holds for a network.
func (e *cniEnv) allocations(network string) []string {
	e.t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.IPAMDir, network))
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range ents {
		if n := d.Name(); n != "lock" && !strings.HasPrefix(n, "last_reserved_ip") {
			out = append(out, n)
		}
	}
	return out
}

// caliLinks lists the node's cali* interfaces.
func (e *cniEnv) caliLinks() []string {
	e.t.Helper()
	out := e.node.MustIP(e.t, "-o", "link", "show")
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && strings.HasPrefix(f[1], conventions.HostIfPrefix) {
			names = append(names, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	return names
}

// plugin runs the tortie binary directly (not through cnitool) inside the
// node namespace, to see the exact CNI error JSON.
func (e *cniEnv) plugin(command string, conf map[string]any, cniVersion, netName string, pod *cnitest.NetNS) (string, *types.Error) {
	e.t.Helper()
	conf = cloneMap(conf)
	conf["cniVersion"], conf["name"] = cniVersion, netName
	b, _ := json.Marshal(conf)
	cmd := exec.Command(tortieBin(e.t))
	cmd.Env = append(os.Environ(), "CNI_COMMAND="+command, "CNI_PATH="+e.rt.PluginDir, "CNI_IFNAME=eth0")
	if pod != nil {
		cmd.Env = append(cmd.Env, "CNI_CONTAINERID="+containerID(pod), "CNI_NETNS="+pod.Path())
	}
	cmd.Stdin = strings.NewReader(string(b))
	var out strings.Builder
	cmd.Stdout = &out
	err := e.node.Run(cmd)
	if err == nil {
		return out.String(), nil
	}
	te := &types.Error{}
	if jerr := json.Unmarshal([]byte(out.String()), te); jerr != nil {
		e.t.Fatalf("%s failed (%v) without error JSON: %q", command, err, out.String())
	}
	return out.String(), te
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// eventually retries f for a few seconds.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
