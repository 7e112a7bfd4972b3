package dataplane

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
)

// remoteNodes is desired() with n remote nodes over VXLAN instead of one:
// per node a /26 route on vxlan.calico, a neighbour entry and an FDB
// entry, as the calculation wants them in a VXLAN Always pool.
func remoteNodes(n int) calc.Desired {
	want := desired()
	want.Routes = want.Routes[:1]
	want.Neighbors, want.FDB = nil, nil
	for i := range n {
		block := netip.AddrFrom4([4]byte{10, byte(100 + i>>10), byte(i >> 2), byte(i&3) << 6})
		m := net.HardwareAddr{0x66, 0, 0, 1, byte(i >> 8), byte(i)}
		want.Routes = append(want.Routes, calc.Route{Dst: netip.PrefixFrom(block, 26), Dev: conventions.VXLANDevice, Gw: block, OnLink: true})
		want.Neighbors = append(want.Neighbors, calc.Neighbor{Dev: conventions.VXLANDevice, IP: block, MAC: m})
		want.FDB = append(want.FDB, calc.FDBEntry{Dev: conventions.VXLANDevice, MAC: m, Dst: netip.AddrFrom4([4]byte{192, 168, byte(1 + i>>8), byte(i)})})
	}
	return want
}

// BenchmarkKernelFirstApply is the agent's first Apply on a node of a
// cluster of 5,000 nodes over VXLAN (5,000 routes, neighbour and FDB
// entries), in a namespace of its own, each time on a fresh
// vxlan.calico. It reports the process's CPU per Apply (user and
// system) beside the wall time.
func BenchmarkKernelFirstApply(b *testing.B) {
	ns := nodeNamespace(b)
	want := remoteNodes(5000)
	var cpu time.Duration
	err := ns.Do(func() error {
		for b.Loop() {
			b.StopTimer()
			if _, err := ns.Run("ip", "link", "del", conventions.VXLANDevice); err != nil && b.N > 1 {
				_ = err // absent the first time
			}
			before := processCPU()
			b.StartTimer()
			d, err := New(Config{})
			if err != nil {
				return err
			}
			st, err := d.Apply(ctx, want)
			d.Close()
			if err != nil {
				return err
			}
			if st.Routes != len(want.Routes) || st.FDB != len(want.FDB) || st.Neighbors != len(want.Neighbors) {
				return fmt.Errorf("first apply: %+v", st)
			}
			b.StopTimer()
			cpu += processCPU() - before
			b.StartTimer()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// processCPU is the process's CPU time so far, user and system.
func processCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkKernelDelta is the dataplane's part of one remote change on a
// node of a cluster of 5,000 nodes over VXLAN: a block route added, then
// removed, each an ApplyDelta (so two per op), in a namespace of its own.
func BenchmarkKernelDelta(b *testing.B) {
	ns := nodeNamespace(b)
	want := remoteNodes(5000)
	block := calc.Route{Dst: pfx("10.99.0.0/26"), Dev: conventions.VXLANDevice, Gw: addr("10.100.0.0"), OnLink: true}
	with := want
	with.Routes = append(append([]calc.Route(nil), want.Routes...), block)
	var cpu time.Duration
	err := ns.Do(func() error {
		d, err := New(Config{})
		if err != nil {
			return err
		}
		defer d.Close()
		for range 2 { // the second does the deferred sysctl checks
			if _, err := d.Apply(ctx, want); err != nil {
				return err
			}
		}
		before := processCPU()
		for b.Loop() {
			if st, err := d.ApplyDelta(ctx, with, calc.Delta{AddedRoutes: []calc.Route{block}}); err != nil || st.Changes != 1 {
				return fmt.Errorf("add: %+v %v", st, err)
			}
			if st, err := d.ApplyDelta(ctx, want, calc.Delta{RemovedRoutes: []calc.Route{block}}); err != nil || st.Changes != 1 {
				return fmt.Errorf("remove: %+v %v", st, err)
			}
		}
		cpu = processCPU() - before
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
}
