package dataplane

import (
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/dataplane/nstest"
)

// TestKernelRestart applies a whole node state to a fresh namespace, then
// restarts (a new Dataplane on the same kernel) and checks that nothing is
// written.
func TestKernelRestart(t *testing.T) {
	ns := nstest.New(t)
	for _, c := range [][]string{
		{"ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"},
		{"ip", "addr", "add", "192.168.0.10/24", "dev", "eth0"},
		{"ip", "link", "add", "cali0000000001", "type", "veth", "peer", "name", "peer1"},
		{"ip", "link", "set", "eth0", "up"}, {"ip", "link", "set", "peer0", "up"},
		{"ip", "link", "set", "cali0000000001", "up"}, {"ip", "link", "set", "peer1", "up"},
	} {
		ns.MustRun(t, c[0], c[1:]...)
	}
	run := func(resync bool) (Stats, error) {
		var st Stats
		err := ns.Do(func() error {
			d, err := New(Config{})
			if err != nil {
				return err
			}
			defer d.Close()
			if resync {
				st, err = d.Resync(ctx, desired())
			} else {
				st, err = d.Apply(ctx, desired())
			}
			return err
		})
		return st, err
	}
	st, err := run(false)
	if err != nil || st.Routes != 3 || st.Devices != 1 || st.Neighbors != 2 || st.FDB != 1 || st.Changes == 0 {
		t.Fatalf("first apply: %+v %v", st, err)
	}
	mustHave := map[string][]string{
		"ip route":   {"blackhole 10.244.1.0/26 proto 80", "10.244.2.0/26 via 10.244.2.0 dev vxlan.calico proto 80 onlink", "10.244.1.5 dev cali0000000001 proto 80 scope link"},
		"nft":        {"ip saddr @masq-ipam-pools ip daddr != @all-ipam-pools masquerade"},
		"ip_forward": {"1"},
		"ip neigh":   {"10.244.1.5 dev cali0000000001 lladdr aa:00:00:00:00:05 PERMANENT"},
	}
	outs := map[string]string{
		"ip route":   ns.MustRun(t, "ip", "route"),
		"nft":        ns.MustRun(t, "nft", "list", "table", "ip", "tortie"),
		"ip_forward": ns.MustRun(t, "sysctl", "-n", "net.ipv4.ip_forward"),
		"ip neigh":   ns.MustRun(t, "ip", "neigh"),
	}
	for what, subs := range mustHave {
		for _, s := range subs {
			if !strings.Contains(outs[what], s) {
				t.Errorf("%s lacks %q:\n%s", what, s, outs[what])
			}
		}
	}
	for _, resync := range []bool{false, true} {
		if st, err := run(resync); err != nil || st.Changes != 0 {
			t.Fatalf("restart (resync %v): %+v %v; want no changes", resync, st, err)
		}
	}
}
