package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/datastore"
)

// Sizes of the node-agent benchmarks (issue 6, item 7); 110 is
// Kubernetes' default maximum of pods per node.
var nodeSizes = []int{10, 110, 1000}

const nodeWrites = 50 // endpoints written, one at a time, per row of BenchmarkNodeEndpoint

// syncRepeats is how often each start is repeated (each time on a fresh
// datastore and, for the real dataplane, a fresh namespace): the table
// shows the median, as the machine's cores are shared.
const syncRepeats = 3

// BenchmarkNodeSync measures tortie-node's agent from start to in sync: from
// the call that starts it to the return of its first successful dataplane
// Apply, with the endpoints and their blocks already in the datastore. The
// agent runs in this process against the benchmark etcd, on a fake
// dataplane (the agent alone: connect, startup writes, list, compute) and
// on the real one inside a fresh network namespace, where each endpoint's
// interface exists (a veth standing in for the pod's), so every /32
// route, neighbour entry, per-interface sysctl and the nftables table is
// really programmed. "first start" finds no Node and an empty kernel;
// "restart" is a second agent on the same datastore and kernel. The
// baseline is one range read of all of /calico/, which in-sync includes.
func BenchmarkNodeSync(b *testing.B) {
	rootMsg := requireRootFor("the real-dataplane rows")
	fmt.Printf("\nNode agent: start to in sync (first successful dataplane Apply), in-process, embedded etcd; median of %d (load average %s)\n",
		syncRepeats, loadAvg())
	fmt.Printf("%-9s %-36s %24s %12s %14s %12s   %s\n", "endpoints", "", "in sync (min-max)", "kernel open", "Apply called", "Apply took", "routes / kernel writes")
	for _, n := range nodeSizes {
		keys, size, read := rangeRead(b, populate(b, n, 0))
		fmt.Printf("%-9d %-36s %24s\n", n, fmt.Sprintf("baseline: etcd read of /calico/ (%d keys, %d KB)", keys, size/1024), round3(read))
		for _, real := range []bool{false, true} {
			if real && rootMsg != "" {
				fmt.Printf("%-9d %s\n", n, rootMsg)
				continue
			}
			dp := map[bool]string{false: "fake", true: "real"}[real]
			starts := map[string][]*agentRun{}
			for range syncRepeats {
				populate(b, n, 0)
				var ns *benchNS
				if real {
					ns = newBenchNS(b, "sync")
					for i := range n {
						if err := ns.addWorkloadLink(benchIfName(i)); err != nil {
							b.Fatal(err)
						}
					}
				}
				cfg := agentConfig(b)
				for _, phase := range []string{"first start", "restart"} {
					r := startAgent(b, cfg, ns)
					r.waitSynced(b)
					r.stop(b)
					starts[phase] = append(starts[phase], r)
				}
			}
			for _, phase := range []string{"first start", "restart"} {
				rs := starts[phase]
				total, open, before, apply := &latencies{}, &latencies{}, &latencies{}, &latencies{}
				for _, r := range rs {
					total.d = append(total.d, r.probe.firstDone.Sub(r.start))
					before.d = append(before.d, r.probe.firstCall.Sub(r.start))
					apply.d = append(apply.d, r.probe.firstDone.Sub(r.probe.firstCall))
					if real {
						open.d = append(open.d, r.kernel.Sub(r.start))
					}
				}
				openCol := "-"
				if real {
					openCol = round3(open.pct(0.5)).String()
				}
				last := rs[len(rs)-1].probe.first
				what := fmt.Sprintf("%d routes", last.Routes)
				if real {
					what = fmt.Sprintf("%d routes (%d skipped), %d writes", last.Routes, last.RoutesSkipped, last.Changes)
				}
				spread := fmt.Sprintf("%s (%s-%s)", round3(total.pct(0.5)), round3(total.pct(0)), round3(total.pct(1)))
				fmt.Printf("%-9d %-36s %24s %12s %14s %12s   %s\n", n, dp+" dataplane, "+phase, spread, openCol,
					round3(before.pct(0.5)), round3(apply.pct(0.5)), what)
				b.ReportMetric(msOf(total.pct(0.5)), fmt.Sprintf("sync-ms-%dep-%s-%s", n, dp,
					map[string]string{"first start": "cold", "restart": "restart"}[phase]))
			}
		}
	}
	fmt.Printf("targets: in sync within 200 ms at 1,000 endpoints. Calico (Felix, from exec, 11 endpoints): first dataplane update +0.40 s cold, +0.24 s restart; 61 endpoints +0.29 s\n")
}

// rangeRead times one read of everything under /calico/ (the median of
// five), on a connection of its own.
func rangeRead(b *testing.B, f *nodeFixture) (keys, size int, took time.Duration) {
	b.Helper()
	l := &latencies{}
	for range 5 {
		t0 := time.Now()
		resp, err := f.store.Client().Get(context.Background(), datastore.Root, clientv3.WithPrefix())
		if err != nil {
			b.Fatal(err)
		}
		l.d = append(l.d, time.Since(t0))
		keys, size = len(resp.Kvs), 0
		for _, kv := range resp.Kvs {
			size += len(kv.Key) + len(kv.Value)
		}
	}
	return keys, size, l.pct(0.5)
}

// BenchmarkNodeEndpoint measures, with the agent running and in sync over
// n endpoints, the delay from a new WorkloadEndpoint being written to (a)
// the dataplane receiving a desired state holding its /32 and, on the real
// dataplane, (b) the route appearing in the namespace's main table (seen
// through a netlink route subscription). Each endpoint's interface is
// created just before it is written, as the CNI plugin does. The baseline
// is the etcd write of the endpoint itself: the write returns when etcd
// has committed it, and the clock for (a) and (b) starts before it.
func BenchmarkNodeEndpoint(b *testing.B) {
	rootMsg := requireRootFor("the real-dataplane rows")
	fmt.Printf("\nNode agent: WorkloadEndpoint written -> route programmed, %d endpoints written one at a time, p50 / p95 / max (load average %s)\n",
		nodeWrites, loadAvg())
	fmt.Printf("%-9s %-15s %-30s %-30s %s\n", "endpoints", "dataplane", "baseline: etcd write of the WEP", "desired state at the dataplane", "route in the kernel")
	for _, n := range nodeSizes {
		for _, real := range []bool{false, true} {
			if real && rootMsg != "" {
				fmt.Printf("%-9d %s\n", n, rootMsg)
				continue
			}
			write, desired, kernel := endpointLatencies(b, n, real)
			dp, kcol := "fake", "-"
			if real {
				dp, kcol = "real", pcts(kernel)
			}
			fmt.Printf("%-9d %-15s %-30s %-30s %s\n", n, dp, pcts(write), pcts(desired), kcol)
			b.ReportMetric(msOf(write.pct(0.5)), fmt.Sprintf("etcd-write-p50-ms-%dep-%s", n, dp))
			b.ReportMetric(msOf(desired.pct(0.5)), fmt.Sprintf("desired-p50-ms-%dep-%s", n, dp))
			if real {
				b.ReportMetric(msOf(kernel.pct(0.5)), fmt.Sprintf("route-p50-ms-%dep", n))
				b.ReportMetric(msOf(kernel.pct(0.95)), fmt.Sprintf("route-p95-ms-%dep", n))
			}
		}
	}
	fmt.Printf("target: an endpoint programmed within 10 ms. Calico (Felix): endpoint programmed 71-97 ms (median ~93 ms) after cnitool add returned\n")
}

// endpointLatencies runs one row of BenchmarkNodeEndpoint.
func endpointLatencies(b *testing.B, n int, real bool) (write, desired, kernel *latencies) {
	b.Helper()
	ctx := context.Background()
	f := populate(b, n, nodeWrites)
	var ns *benchNS
	var inKernel arrivals
	if real {
		ns = newBenchNS(b, "wep")
		for i := range n {
			if err := ns.addWorkloadLink(benchIfName(i)); err != nil {
				b.Fatal(err)
			}
		}
		updates, done := make(chan netlink.RouteUpdate, 1024), make(chan struct{})
		defer close(done)
		if err := netlink.RouteSubscribeWithOptions(updates, done, netlink.RouteSubscribeOptions{Namespace: &ns.nsh,
			ErrorCallback: func(err error) {
				select {
				case <-done: // closing the subscription
				default:
					fmt.Fprintf(os.Stderr, "route subscription: %v\n", err)
				}
			}}); err != nil {
			b.Fatal(err)
		}
		go func() {
			for u := range updates {
				if u.Type != unix.RTM_NEWROUTE || u.Dst == nil {
					continue
				}
				if ones, _ := u.Dst.Mask.Size(); ones == 32 {
					if a, ok := netip.AddrFromSlice(u.Dst.IP.To4()); ok {
						inKernel.seen(a, time.Now())
					}
				}
			}
		}()
	}
	r := startAgent(b, agentConfig(b), ns)
	defer r.stop(b)
	r.waitSynced(b)
	time.Sleep(100 * time.Millisecond) // let the start-up settle

	write, desired, kernel = &latencies{n: nodeWrites}, &latencies{n: nodeWrites}, &latencies{n: nodeWrites}
	wait := func(ch <-chan time.Time, what string) time.Time {
		select {
		case t := <-ch:
			return t
		case <-time.After(10 * time.Second):
			r.probe.mu.Lock()
			err := r.probe.lastErr
			r.probe.mu.Unlock()
			b.Fatalf("%s not seen within 10s (last dataplane error: %v)", what, err)
		}
		return time.Time{}
	}
	for i := range nodeWrites {
		k := n + i
		if real {
			if err := ns.addWorkloadLink(benchIfName(k)); err != nil {
				b.Fatal(err)
			}
		}
		ip := f.ips[k]
		dch, kch := r.probe.desired.expect(ip), inKernel.expect(ip)
		t0 := time.Now()
		if _, err := f.c.Create(ctx, f.endpoint(k)); err != nil {
			b.Fatal(err)
		}
		write.d = append(write.d, time.Since(t0))
		desired.d = append(desired.d, wait(dch, "desired state with "+ip.String()).Sub(t0))
		if real {
			kernel.d = append(kernel.d, wait(kch, "route to "+ip.String()).Sub(t0))
		}
		time.Sleep(20 * time.Millisecond) // one endpoint at a time: let the Apply finish
	}
	return write, desired, kernel
}

// pcts is "p50 / p95 / max" of l.
func pcts(l *latencies) string {
	return fmt.Sprintf("%s / %s / %s", round3(l.pct(0.5)), round3(l.pct(0.95)), round3(l.pct(1)))
}

// round3 keeps three significant figures or so: 12.3ms, 1.23ms, 123µs.
func round3(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
