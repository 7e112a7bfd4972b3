package nft

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/ns/nstest"
)

func TestEncodeKeys(t *testing.T) {
	for _, c := range []struct {
		typ, text string
		want      []byte
	}{
		{"ifname", "cali1", append([]byte("cali1"), make([]byte, 11)...)},
		{"ifname . ipv4_addr", "cali1 . 10.0.1.2", append(append([]byte("cali1"), make([]byte, 11)...), 10, 0, 1, 2)},
		{"ipv4_addr . inet_proto . inet_service", "10.0.1.2 . tcp . 8080", []byte{10, 0, 1, 2, 6, 0, 0, 0, 0x1f, 0x90, 0, 0}},
	} {
		got, err := encodeKey(c.typ, c.text)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("encodeKey(%q, %q) = %v, %v; want %v", c.typ, c.text, got, err, c.want)
		}
	}
	if start, end, err := intervalKeys("10.0.4.0/23"); err != nil || !bytes.Equal(start, []byte{10, 0, 4, 0}) || !bytes.Equal(end, []byte{10, 0, 6, 0}) {
		t.Errorf("intervalKeys(10.0.4.0/23) = %v %v %v", start, end, err)
	}
	if _, _, err := intervalKeys("255.255.255.0/24"); err == nil {
		t.Error("a prefix at the top of the address space is left to nft")
	}
	if _, err := encodeKey("ipv6_addr", "::1"); err == nil {
		t.Error("an IPv6 key was encoded")
	}
}

// Element changes written over netlink leave exactly the table nft would
// have written: a fresh Owner reading it back writes nothing.
func TestDirectElementWrites(t *testing.T) {
	node := nstest.New(t, "tdw")
	base := policyFixture(t)
	grown := policyFixture(t)
	// A third endpoint like cali1, a member of every selector set and of
	// every named-port set.
	e := grown.Endpoints[0]
	e.Key, e.Interface, e.Addrs = "ns/pod3", "cali3", []netip.Prefix{netip.MustParsePrefix("10.0.3.1/32")}
	grown.Endpoints = append(grown.Endpoints, e)
	for id, s := range grown.Sets {
		s.Members = append(slices.Clone(s.Members), netip.MustParsePrefix("10.0.3.1/32"), netip.MustParsePrefix("10.0.3.2/32"), netip.MustParsePrefix("10.0.8.0/22"))
		grown.Sets[id] = s
	}
	for id, s := range grown.NamedPorts {
		grown.NamedPorts[id] = append(slices.Clone(s), policy.AddrPort{Addr: netip.MustParseAddr("10.0.3.1"), Protocol: policy.ProtoTCP, Port: 8081})
	}
	var nft *counting
	apply := func(o **Owner, direct bool, p *policy.Program) Result {
		t.Helper()
		var res Result
		if err := node.Do(func() error {
			if *o == nil {
				real, err := NewNFTables()
				if err != nil {
					return err
				}
				nft = &counting{Interface: real}
				*o = New(Config{NFT: nft, Direct: direct})
			}
			var err error
			res, err = (*o).Apply(context.Background(), Wanted{NAT: natWant(), Policy: p})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return res
	}
	var owner *Owner
	apply(&owner, true, base)
	for _, step := range []struct {
		name string
		p    *policy.Program
	}{{"grown", grown}, {"shrunk back", base}} {
		nft.runs = 0
		if res := apply(&owner, true, step.p); !res.ElementsOnly || nft.runs != 0 {
			t.Fatalf("%s: %+v with %d nft runs: the elements were not written directly", step.name, res, nft.runs)
		}
		var fresh *Owner
		if res := apply(&fresh, false, step.p); res.Rebuilt || nft.runs != 0 {
			t.Errorf("%s: the table written directly differs from nft's:\n%s", step.name, node.MustRun(t, "nft", "list", "table", "ip", "tortie"))
		}
	}
}

// Which element changes go straight to nf_tables: endpoint-shaped ones
// (dispatch maps, anti-spoofing, selector and named-port sets); not a
// merged set's (a concatenation of intervals), which nft writes.
func TestDirectChangesChoice(t *testing.T) {
	have, err := render(Wanted{NAT: natWant(), Policy: policyFixture(t)}, newRuns(nil))
	if err != nil {
		t.Fatal(err)
	}
	grown := policyFixture(t)
	e := grown.Endpoints[0]
	e.Interface, e.Addrs = "cali3", []netip.Prefix{netip.MustParsePrefix("10.0.3.1/32")}
	grown.Endpoints = append(grown.Endpoints, e)
	want, _ := render(Wanted{NAT: natWant(), Policy: grown}, newRuns(nil))
	changes, ok := directChanges(have, want)
	if !ok || len(changes) != 3 {
		t.Fatalf("a new endpoint: %v %+v, want its two dispatch elements and its source", ok, changes)
	}
	merged := want
	merged.sets = append(slices.Clone(want.sets), setDef{name: "run-x", typ: mergedType, flags: []knftables.SetFlag{knftables.IntervalFlag}, elements: []string{"tcp . 0.0.0.0/0 . 0.0.0.0/0 . 0-65535 . 80-80"}})
	if _, ok := directChanges(want, merged); ok {
		t.Error("a merged set's elements were to be written directly")
	}
}
