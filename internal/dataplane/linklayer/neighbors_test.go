package linklayer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/calc"
)

func TestNeighbors(t *testing.T) {
	f, r := newTest()
	vx := f.AddDevice(&Device{Name: "vxlan.calico", Kind: "vxlan"}).Index
	cali1 := f.AddDevice(&Device{Name: "cali1", Kind: "veth"}).Index
	cali2 := f.AddDevice(&Device{Name: "cali2", Kind: "veth"}).Index
	f.Neigh = []Neighbor{
		{LinkIndex: vx, IP: addr("10.244.2.0"), MAC: mac("66:00:00:00:00:99"), Permanent: true},    // wrong MAC
		{LinkIndex: vx, IP: addr("10.244.9.0"), MAC: mac("66:00:00:00:00:09"), Permanent: true},    // stale
		{LinkIndex: vx, IP: addr("10.244.8.0"), MAC: mac("66:00:00:00:00:08")},                     // learnt: not ours
		{LinkIndex: cali1, IP: addr("10.244.1.9"), MAC: mac("aa:00:00:00:00:09"), Permanent: true}, // stale, on a known workload
		{LinkIndex: cali2, IP: addr("10.244.1.7"), MAC: mac("aa:00:00:00:00:07"), Permanent: true}, // the CNI's, not known yet
		{LinkIndex: 2, IP: addr("192.168.0.1"), MAC: mac("00:00:00:00:00:01"), Permanent: true},    // eth0: not ours
	}
	want := []calc.Neighbor{
		{Dev: "vxlan.calico", IP: addr("10.244.2.0"), MAC: mac("66:00:00:00:00:02")},
		{Dev: "vxlan.calico", IP: addr("10.244.3.0"), MAC: mac("66:00:00:00:00:03")},
		{Dev: "cali1", IP: addr("10.244.1.5"), MAC: mac("aa:00:00:00:00:05")},
		{Dev: "cali3", IP: addr("10.244.1.6"), MAC: mac("aa:00:00:00:00:06")}, // interface not there yet
	}
	res, err := r.ApplyNeighbors(ctx, want, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Neighbors != 3 || res.Skipped != 1 || res.Changes != 5 {
		t.Fatalf("result %+v, writes %v", res, f.Writes)
	}
	got := map[string]string{}
	for _, n := range f.Neigh {
		got[n.IP.String()] = n.MAC.String()
	}
	wantNeigh := map[string]string{
		"10.244.2.0": "66:00:00:00:00:02", "10.244.3.0": "66:00:00:00:00:03", "10.244.8.0": "66:00:00:00:00:08",
		"10.244.1.5": "aa:00:00:00:00:05", "10.244.1.7": "aa:00:00:00:00:07", "192.168.0.1": "00:00:00:00:00:01",
	}
	if len(got) != len(wantNeigh) {
		t.Fatalf("neighbours %v, want %v", got, wantNeigh)
	}
	for ip, m := range wantNeigh {
		if got[ip] != m {
			t.Errorf("neighbour %s = %q, want %q", ip, got[ip], m)
		}
	}
	f.Writes = nil
	if _, err := newRig(f, f).ApplyNeighbors(ctx, want, nil); err != nil || len(f.Writes) != 0 {
		t.Fatalf("second apply: writes %v, err %v", f.Writes, err)
	}
}

func TestNeighborOnMissingTunnelIsError(t *testing.T) {
	_, r := newTest()
	_, err := r.ApplyNeighbors(ctx, []calc.Neighbor{{Dev: "vxlan.calico", IP: addr("10.244.2.0"), MAC: mac("66:00:00:00:00:02")}}, nil)
	if err == nil || !strings.Contains(err.Error(), "vxlan.calico") {
		t.Fatalf("err = %v", err)
	}
}

func TestFDB(t *testing.T) {
	f, r := newTest()
	vx := f.AddDevice(&Device{Name: "vxlan.calico", Kind: "vxlan"}).Index
	other := f.AddDevice(&Device{Name: "vxlan.other", Kind: "vxlan"}).Index
	f.FDBs = []FDBEntry{
		{LinkIndex: vx, MAC: mac("66:00:00:00:00:02"), Dst: addr("192.168.0.99"), Permanent: true}, // moved node
		{LinkIndex: vx, MAC: mac("66:00:00:00:00:09"), Dst: addr("192.168.0.9"), Permanent: true},  // stale
		{LinkIndex: vx, MAC: mac("66:00:00:00:00:08"), Dst: addr("192.168.0.8")},                   // dynamic: not ours
		{LinkIndex: other, MAC: mac("66:00:00:00:00:07"), Dst: addr("192.168.0.7"), Permanent: true},
	}
	want := []calc.FDBEntry{
		{Dev: "vxlan.calico", MAC: mac("66:00:00:00:00:02"), Dst: addr("192.168.0.2")},
		{Dev: "vxlan.calico", MAC: mac("66:00:00:00:00:03"), Dst: addr("192.168.0.3")},
	}
	res, err := r.ApplyNeighbors(ctx, nil, want)
	if err != nil {
		t.Fatal(err)
	}
	if res.FDB != 2 || res.Changes != 4 {
		t.Fatalf("result %+v, writes %v", res, f.Writes)
	}
	got := map[string]string{}
	for _, e := range f.FDBs {
		got[e.MAC.String()] = e.Dst.String()
	}
	wantFDB := map[string]string{"66:00:00:00:00:02": "192.168.0.2", "66:00:00:00:00:03": "192.168.0.3",
		"66:00:00:00:00:08": "192.168.0.8", "66:00:00:00:00:07": "192.168.0.7"}
	if len(got) != len(wantFDB) {
		t.Fatalf("fdb %v, want %v", got, wantFDB)
	}
	for m, d := range wantFDB {
		if got[m] != d {
			t.Errorf("fdb %s -> %q, want %q", m, got[m], d)
		}
	}
	f.Writes = nil
	if _, err := r.ApplyNeighbors(ctx, nil, want); err != nil || len(f.Writes) != 0 {
		t.Fatalf("second apply: writes %v, err %v", f.Writes, err)
	}
	// Nothing wanted: vxlan.calico is swept clean of static entries.
	if _, err := r.ApplyNeighbors(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.FDB(vx); len(n) != 1 || n[0].Permanent {
		t.Fatalf("after sweep: %+v", n)
	}
}

func TestNeighborsIncremental(t *testing.T) {
	f, r := newTest()
	vx := f.AddDevice(&Device{Name: "vxlan.calico", Kind: "vxlan"}).Index
	cali1 := f.AddDevice(&Device{Name: "cali1", Kind: "veth"}).Index
	neigh := []calc.Neighbor{
		{Dev: "vxlan.calico", IP: addr("10.244.2.0"), MAC: mac("66:00:00:00:00:02")},
		{Dev: "cali1", IP: addr("10.244.1.5"), MAC: mac("aa:00:00:00:00:05")},
	}
	fdb := []calc.FDBEntry{{Dev: "vxlan.calico", MAC: mac("66:00:00:00:00:02"), Dst: addr("192.168.0.2")}}
	if _, err := r.ApplyNeighbors(ctx, neigh, fdb); err != nil {
		t.Fatal(err)
	}
	if want := []string{"links", "neighbors", fmt.Sprintf("fdb %d", vx)}; !slices.Equal(f.Reads, want) {
		t.Fatalf("first apply read %v, want %v", f.Reads, want)
	}
	cali2 := f.AddDevice(&Device{Name: "cali2", Kind: "veth"}).Index
	withPod := append(slices.Clone(neigh), calc.Neighbor{Dev: "cali2", IP: addr("10.244.1.6"), MAC: mac("aa:00:00:00:00:06")})
	moved := []calc.FDBEntry{{Dev: "vxlan.calico", MAC: mac("66:00:00:00:00:02"), Dst: addr("192.168.0.22")}}
	steps := []struct {
		name          string
		neigh         []calc.Neighbor
		fdb           []calc.FDBEntry
		reads, writes []string
	}{
		{"new pod", withPod, fdb, []string{"link cali2"}, []string{fmt.Sprintf("neigh set %d 10.244.1.6 aa:00:00:00:00:06", cali2)}},
		{"same again", withPod, fdb, nil, nil},
		{"pod gone, peer moved", neigh, moved, nil, []string{
			fmt.Sprintf("fdb del %d 66:00:00:00:00:02 192.168.0.2", vx), fmt.Sprintf("fdb set %d 66:00:00:00:00:02 192.168.0.22", vx)}},
		{"entry gone", neigh[1:], moved, nil, []string{fmt.Sprintf("neigh del %d 10.244.2.0", vx)}},
	}
	for _, s := range steps {
		f.Reads, f.Writes = nil, nil
		res, err := r.ApplyNeighbors(ctx, s.neigh, s.fdb)
		if err != nil || res.Read {
			t.Fatalf("%s: %+v %v", s.name, res, err)
		}
		if !slices.Equal(f.Reads, s.reads) || !slices.Equal(f.Writes, s.writes) {
			t.Errorf("%s: reads %q writes %q; want reads %q writes %q", s.name, f.Reads, f.Writes, s.reads, s.writes)
		}
	}
	// The gone pod's entry is left to go with its interface, as before.
	if len(f.Neigh) != 2 || f.Neigh[0].LinkIndex != cali1 || f.Neigh[1].LinkIndex != cali2 {
		t.Fatalf("neighbours %+v", f.Neigh)
	}
}

func TestNeighborsReadBackAfterFailure(t *testing.T) {
	f, r := newTest()
	vx := f.AddDevice(&Device{Name: "vxlan.calico", Kind: "vxlan"}).Index
	neigh := []calc.Neighbor{{Dev: "vxlan.calico", IP: addr("10.244.2.0"), MAC: mac("66:00:00:00:00:02")}}
	if _, err := r.ApplyNeighbors(ctx, neigh, nil); err != nil {
		t.Fatal(err)
	}
	// A failed write: the next apply reads everything back.
	f.Fail = func(string) error { return errors.New("boom") }
	cali1 := f.AddDevice(&Device{Name: "cali1", Kind: "veth"}).Index
	neigh = append(neigh, calc.Neighbor{Dev: "cali1", IP: addr("10.244.1.5"), MAC: mac("aa:00:00:00:00:05")})
	if _, err := r.ApplyNeighbors(ctx, neigh, nil); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
	f.Fail, f.Reads, f.Writes = nil, nil, nil
	res, err := r.ApplyNeighbors(ctx, neigh, nil)
	if err != nil || !res.Read || res.Changes != 1 || !slices.Contains(f.Reads, "links") || !slices.Contains(f.Reads, "neighbors") {
		t.Fatalf("after a failure: %+v %v, reads %v", res, err, f.Reads)
	}

	// An interface recreated between its lookup and the write: looked up
	// again, the table read back, the entry written on the new one.
	f.AddDevice(&Device{Name: "cali2", Kind: "veth"})
	f.Fail = func(w string) error {
		if strings.HasPrefix(w, "neigh set") {
			f.Fail = nil
			delete(f.Devices, "cali2")
			f.AddDevice(&Device{Name: "cali2", Kind: "veth", Index: 77})
			return ErrNoDevice
		}
		return nil
	}
	f.Reads, f.Writes = nil, nil
	neigh = append(neigh, calc.Neighbor{Dev: "cali2", IP: addr("10.244.1.6"), MAC: mac("aa:00:00:00:00:06")})
	res, err = r.ApplyNeighbors(ctx, neigh, nil)
	if err != nil || res.Changes != 1 || res.Neighbors != 3 {
		t.Fatalf("interface recreated: %+v %v, writes %v", res, err, f.Writes)
	}
	if want := []string{"link cali2", "neighbors", "link cali2", fmt.Sprintf("fdb %d", vx)}; !slices.Equal(f.Reads, want) {
		t.Fatalf("reads %v, want %v", f.Reads, want)
	}
	if n := f.Neigh[len(f.Neigh)-1]; n.LinkIndex != 77 {
		t.Fatalf("entry on %d, want 77", n.LinkIndex)
	}
	if n := f.Neigh[1]; n.LinkIndex != cali1 {
		t.Fatalf("entry on %d, want %d", n.LinkIndex, cali1)
	}
}

func TestDevicesRemembered(t *testing.T) {
	f, r := newTest()
	if _, err := r.ApplyDevices(ctx, nil, vxlanSpec()); err != nil {
		t.Fatal(err)
	}
	f.Reads, f.Writes = nil, nil
	if res, err := r.ApplyDevices(ctx, nil, vxlanSpec()); err != nil || res.Devices != 1 || len(f.Reads)+len(f.Writes) != 0 {
		t.Fatalf("repeat: %+v %v, reads %v writes %v; want no kernel call", res, err, f.Reads, f.Writes)
	}
	r.Forget()
	if res, err := r.ApplyDevices(ctx, nil, vxlanSpec()); err != nil || res.Changes != 0 || len(f.Reads) == 0 {
		t.Fatalf("after Forget: %+v %v, reads %v", res, err, f.Reads)
	}
}
