package sysctl

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/ns/nstest"
)

var ctx = context.Background()

func TestApply(t *testing.T) {
	f := NewFake(map[string]string{"net/ipv4/ip_forward": "0"})
	f.AddInterface("cali1")
	f.AddInterface("cali3")
	delete(f.Values, "net/ipv6/conf/cali3/accept_ra") // IPv6 disabled
	links := map[string]int{"cali1": 5, "cali3": 7, "eth0": 2}
	r := New(Config{FS: f, Index: lookup(links)})

	res, err := r.Apply(ctx, []string{"cali1", "cali2", "cali3"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Interfaces != 2 || res.Written != 1+5+4 {
		t.Fatalf("result %+v, writes %v", res, f.Writes)
	}
	for name, want := range map[string]string{
		"net/ipv4/ip_forward": "1", "net/ipv4/conf/cali1/route_localnet": "1", "net/ipv4/conf/cali1/proxy_arp": "1",
		"net/ipv4/neigh/cali1/proxy_delay": "0", "net/ipv4/conf/cali1/forwarding": "1", "net/ipv6/conf/cali1/accept_ra": "0",
	} {
		if f.Values[name] != want {
			t.Errorf("%s = %q, want %q", name, f.Values[name], want)
		}
	}

	f.Reads, f.Writes = 0, nil
	if res, err := r.Apply(ctx, []string{"cali1", "cali2", "cali3"}); err != nil || f.Reads+len(f.Writes) != 0 || res.Interfaces != 2 {
		t.Fatalf("repeat: %+v %v, %d reads, writes %v; want no I/O", res, err, f.Reads, f.Writes)
	}

	// A new interface under an old name is checked again; so is everything
	// after Forget, and a restart only reads.
	links["cali1"] = 9
	f.AddInterface("cali1")
	if res, _ := r.Apply(ctx, []string{"cali1"}); res.Written != 5 {
		t.Fatalf("recreated interface: %+v", res)
	}
	f.Writes = nil
	r.Forget()
	if _, err := r.Apply(ctx, []string{"cali1", "cali3"}); err != nil || len(f.Writes) != 0 || f.Reads == 0 {
		t.Fatalf("after Forget: %v, writes %v, %d reads", err, f.Writes, f.Reads)
	}
}

// IPv6: the node-wide forwarding once IPv6 is on, and an IPv6 workload
// interface's own IPv6 settings (an interface that gains IPv6 is checked
// again); IPv4-only interfaces are not touched beyond accept_ra.
func TestApplyIPv6(t *testing.T) {
	f := NewFake(map[string]string{"net/ipv4/ip_forward": "1", "net/ipv6/conf/all/forwarding": "0"})
	f.AddWiredInterface("cali1")
	f.AddWiredInterface("cali2")
	for _, k := range []string{"proxy_ndp", "forwarding", "accept_dad"} {
		f.Values["net/ipv6/conf/cali1/"+k] = "x"
		f.Values["net/ipv6/conf/cali2/"+k] = "x"
	}
	r := New(Config{FS: f, Index: lookup(map[string]int{"cali1": 5, "cali2": 6})})
	if res, err := r.Apply(ctx, []string{"cali1", "cali2"}); err != nil || res.Written != 0 {
		t.Fatalf("IPv4 only: %+v %v, writes %v; want none", res, err, f.Writes)
	}
	r.SetIPv6()
	r.SetIPv6Interfaces(map[string]bool{"cali1": true})
	if _, err := r.Apply(ctx, []string{"cali1", "cali2"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"net/ipv6/conf/all/forwarding=1", "net/ipv6/conf/cali1/accept_dad=0",
		"net/ipv6/conf/cali1/proxy_ndp=1", "net/ipv6/conf/cali1/forwarding=1"}
	if !slices.Equal(f.Writes, want) {
		t.Errorf("writes %q, want %q", f.Writes, want)
	}
}

func TestWriteFailure(t *testing.T) {
	f := NewFake(map[string]string{"net/ipv4/ip_forward": "0"})
	r := New(Config{FS: readOnly{f}, Index: lookup(nil)})
	_, err := r.Apply(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "net/ipv4/ip_forward=1") {
		t.Fatalf("err = %v", err)
	}
}

func lookup(links map[string]int) func(string) (int, bool) {
	return func(name string) (int, bool) {
		i, ok := links[name]
		return i, ok
	}
}

func TestDeferred(t *testing.T) {
	f := NewFake(map[string]string{"net/ipv4/ip_forward": "1"})
	links := map[string]int{}
	var names []string
	for i := range 5 {
		name := fmt.Sprintf("cali%d", i)
		f.AddInterface(name)
		links[name] = 10 + i
		names = append(names, name)
	}
	r := New(Config{FS: f, Index: lookup(links), Batch: 2})
	r.Defer(names)
	if f.Reads+len(f.Writes) != 0 {
		t.Fatalf("Defer read %d, wrote %v", f.Reads, f.Writes)
	}
	// A new interface is checked at once; the deferred ones wait for the
	// Apply after, then are checked two at a time.
	f.AddInterface("cali9")
	links["cali9"] = 19
	names = append(names, "cali9")
	if res, err := r.Apply(ctx, names); err != nil || res.Interfaces != 1 || res.Deferred != 5 || res.Written != 5 {
		t.Fatalf("first apply: %+v %v", res, err)
	}
	res, err := r.Apply(ctx, names)
	if err != nil || res.Interfaces != 3 || res.Deferred != 3 || res.Written != 2*5 {
		t.Fatalf("second apply: %+v %v", res, err)
	}
	for _, n := range []string{"cali9", "cali0", "cali1"} {
		if f.Values["net/ipv4/conf/"+n+"/proxy_arp"] != "1" {
			t.Errorf("%s not checked", n)
		}
	}
	// One deferred interface goes away; the others are checked in turn.
	delete(links, "cali2")
	names = slices.DeleteFunc(names, func(n string) bool { return n == "cali2" })
	if res, err := r.Apply(ctx, names); err != nil || res.Interfaces != 5 || res.Deferred != 0 {
		t.Fatalf("third apply: %+v %v", res, err)
	}
	f.Reads, f.Writes = 0, nil
	if res, err := r.Apply(ctx, names); err != nil || res.Interfaces != 5 || f.Reads+len(f.Writes) != 0 {
		t.Fatalf("fourth apply: %+v %v, %d reads; want none", res, err, f.Reads)
	}
	// Forget drops what was deferred too: everything is checked at once.
	r.Defer([]string{"cali0"}) // right already: not deferred
	r.Forget()
	if res, _ := r.Apply(ctx, names); res.Interfaces != 5 || f.Reads != 1+5*5 {
		t.Fatalf("after Forget: %+v, %d reads", res, f.Reads)
	}
}

type readOnly struct{ *Fake }

func (readOnly) Write(name, value string) error { return os.ErrPermission }

func TestProcInNamespace(t *testing.T) {
	ns := nstest.New(t, "tdp")
	hostBefore, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	ns.MustRun(t, "ip", "link", "add", "cali0000000001", "type", "veth", "peer", "name", "peer0")
	ns.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=0")
	var res Result
	err := ns.Do(func() error {
		var err error
		res, err = New(Config{}).Apply(ctx, []string{"cali0000000001", "cali-missing"})
		return err
	})
	if err != nil || res.Interfaces != 1 || res.Written == 0 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	out := ns.MustRun(t, "sysctl", "net.ipv4.ip_forward", "net.ipv4.conf.cali0000000001.proxy_arp",
		"net.ipv4.conf.cali0000000001.route_localnet", "net.ipv4.neigh.cali0000000001.proxy_delay",
		"net.ipv4.conf.cali0000000001.forwarding")
	for _, w := range []string{"ip_forward = 1", "proxy_arp = 1", "route_localnet = 1", "proxy_delay = 0", "cali0000000001.forwarding = 1"} {
		if !strings.Contains(out, w) {
			t.Errorf("sysctls lack %q:\n%s", w, out)
		}
	}
	err = ns.Do(func() error {
		var err error
		res, err = New(Config{}).Apply(ctx, []string{"cali0000000001"})
		return err
	})
	if err != nil || res.Written != 0 {
		t.Fatalf("restart: %+v %v", res, err)
	}
	if hostAfter, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(hostAfter) != string(hostBefore) {
		t.Fatalf("the host's ip_forward changed: %q -> %q", hostBefore, hostAfter)
	}
}
