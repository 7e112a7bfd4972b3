package cni

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/cni/veth"
	"github.com/tortienet/tortie/internal/datastore"
)

// fakeNet is an in-memory Dataplane: host links by name, pod links by
// netns and name.
type fakeNet struct {
	mu        sync.Mutex
	host      map[string]*veth.Link
	pod       map[string]*veth.Link // key netns/ifname
	specs     map[string]veth.Spec  // by host name
	setupErr  error                 // Configure fails
	createErr error
	removeErr error // RemoveContainer fails
	nextIdx   int
}

func newFakeNet() *fakeNet {
	return &fakeNet{host: map[string]*veth.Link{}, pod: map[string]*veth.Link{}, specs: map[string]veth.Spec{}, nextIdx: 10}
}

func (f *fakeNet) Probe(s *veth.Spec) (veth.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return veth.State{Host: f.host[s.HostIfName], Container: f.pod[s.NetNS+"/"+s.IfName]}, nil
}

func (f *fakeNet) Create(s *veth.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return f.createErr
	}
	if f.host[s.HostIfName] != nil || f.pod[s.NetNS+"/"+s.IfName] != nil {
		return errors.New("exists")
	}
	h := &veth.Link{Name: s.HostIfName, Kind: "veth", Index: f.nextIdx, PeerIndex: 2, MAC: veth.HostMAC}
	c := &veth.Link{Name: s.IfName, Kind: "veth", Index: 2, PeerIndex: f.nextIdx, MAC: s.ContainerMAC}
	f.nextIdx++
	f.host[s.HostIfName], f.pod[s.NetNS+"/"+s.IfName] = h, c
	return nil
}

func (f *fakeNet) Configure(s *veth.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setupErr != nil {
		return f.setupErr
	}
	c := f.pod[s.NetNS+"/"+s.IfName]
	if c == nil || f.host[s.HostIfName] == nil {
		return errors.New("not created")
	}
	c.Addrs = slices.Clone(s.Addrs)
	f.specs[s.HostIfName] = *s
	return nil
}

func (f *fakeNet) Verify(s *veth.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	got, ok := f.specs[s.HostIfName]
	if !ok || got.NetNS != s.NetNS || !slices.Equal(got.Addrs, s.Addrs) {
		return fmt.Errorf("fake: %s not as specified", s.HostIfName)
	}
	return nil
}

func (f *fakeNet) RemoveContainer(netns, ifName string) (bool, error) {
	if f.removeErr != nil {
		return false, f.removeErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.pod[netns+"/"+ifName]
	if c == nil || c.Kind != "veth" {
		return false, nil
	}
	delete(f.pod, netns+"/"+ifName)
	for name, h := range f.host {
		if h.Index == c.PeerIndex {
			delete(f.host, name)
			delete(f.specs, name)
		}
	}
	return true, nil
}

func (f *fakeNet) RemoveHost(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.host[name]
	if h == nil {
		return nil
	}
	if h.Kind != "veth" {
		return errors.New("not a veth")
	}
	delete(f.host, name)
	delete(f.specs, name)
	for k, c := range f.pod {
		if c.PeerIndex == h.Index {
			delete(f.pod, k)
		}
	}
	return nil
}

// fakeIPAM hands out 10.244.0.N/26 per container ID and remembers them.
type fakeIPAM struct {
	mu        sync.Mutex
	container string // the CNI_CONTAINERID the next call sees
	held      map[string]netip.Addr
	next      int
	addErr    error
	adds      int
	gcs       int
}

func newFakeIPAM() *fakeIPAM { return &fakeIPAM{held: map[string]netip.Addr{}, next: 1} }

func (f *fakeIPAM) Add(context.Context, []byte) (*current.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adds++
	if f.addErr != nil {
		return nil, f.addErr
	}
	if _, ok := f.held[f.container]; ok {
		return nil, types.NewError(types.ErrInternal, "duplicate allocation", "")
	}
	a := netip.AddrFrom4([4]byte{10, 244, 0, byte(f.next)})
	f.next++
	f.held[f.container] = a
	return &current.Result{CNIVersion: "1.1.0", IPs: []*current.IPConfig{{Address: net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(26, 32)}}}}, nil
}

func (f *fakeIPAM) Del(context.Context, []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held, f.container)
	return nil
}

func (f *fakeIPAM) Check(context.Context, []byte) error  { return nil }
func (f *fakeIPAM) Status(context.Context, []byte) error { return nil }
func (f *fakeIPAM) GC(context.Context, []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gcs++
	return nil
}

func (f *fakeIPAM) holding() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.held)
}

// env is one node's plugin with fakes around it and an in-memory store.
type env struct {
	t     *testing.T
	net   *fakeNet
	ipam  *fakeIPAM
	store *datastore.Memory
	state string
	// storeErr makes OpenStore fail; writeErr makes every write and
	// read after it fail (a datastore that goes away mid-command).
	storeErr, writeErr error
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, net: newFakeNet(), ipam: newFakeIPAM(), store: datastore.NewMemory(), state: t.TempDir()}
	writeFile(t, e.state+"/nodename", "node-1\n")
	return e
}

func (e *env) client() *client.Client {
	var s datastore.Store = nopClose{e.store}
	if e.writeErr != nil {
		s = failingStore{s, e.writeErr}
	}
	return client.New(s,
		client.WithClock(func() time.Time { return time.Date(2026, 11, 22, 12, 4, 6, 0, time.UTC) }),
		client.WithUIDs(func() string { return "uid-1" }))
}

// nopClose keeps the shared memory store open when a command closes its
// client.
type nopClose struct{ datastore.Store }

func (nopClose) Close() error { return nil }

// failingStore fails every call but Close with err.
type failingStore struct {
	datastore.Store
	err error
}

func (f failingStore) Get(context.Context, string) (datastore.KV, error) {
	return datastore.KV{}, f.err
}
func (f failingStore) List(context.Context, string) ([]datastore.KV, int64, error) {
	return nil, 0, f.err
}
func (f failingStore) Create(context.Context, string, []byte) (int64, error) { return 0, f.err }
func (f failingStore) Update(context.Context, string, []byte, int64) (int64, error) {
	return 0, f.err
}
func (f failingStore) Delete(context.Context, string, int64) (datastore.KV, error) {
	return datastore.KV{}, f.err
}
func (f failingStore) Txn(context.Context, ...datastore.Op) (int64, error) { return 0, f.err }

const testConf = `{"cniVersion":"1.0.0","name":"ca-net","type":"tortie","nodename_file":"%s/nodename",
  "mtu":1450,"ipam":{"type":"fake-ipam"},"log_level":"warning","unknown_field":{"x":[1,2]}}`

func (e *env) plugin(confJSON string) *Plugin {
	e.t.Helper()
	if confJSON == "" {
		confJSON = fmt.Sprintf(testConf, e.state)
	}
	conf, err := ParseConf([]byte(confJSON))
	if err != nil {
		e.t.Fatal(err)
	}
	return &Plugin{
		Conf: conf, Stdin: []byte(confJSON), Log: slog.New(slog.DiscardHandler),
		IPAM: e.ipam, Net: e.net,
		OpenStore: func(context.Context) (*client.Client, error) {
			if e.storeErr != nil {
				return nil, e.storeErr
			}
			return e.client(), nil
		},
	}
}

func (e *env) args(container, netns string) *skel.CmdArgs {
	e.ipam.mu.Lock()
	e.ipam.container = container
	e.ipam.mu.Unlock()
	return &skel.CmdArgs{ContainerID: container, Netns: netns, IfName: "eth0"}
}

// keys lists the store's keys under a prefix.
func (e *env) keys(prefix string) []string {
	kvs, _, err := e.store.List(context.Background(), prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, kv := range kvs {
		out = append(out, kv.Key)
	}
	return out
}
