package bgp

import (
	"net/netip"
	"reflect"
	"slices"
)

// peerDiff is what turns the sessions held into the sessions wanted.
type peerDiff struct {
	Add    []Peer
	Delete []Peer
	// Replace holds the new form of sessions whose settings changed.
	Replace []Peer
}

// diffPeers compares the sessions held with the sessions wanted, both keyed
// by address. Unchanged sessions appear nowhere.
func diffPeers(held map[netip.Addr]Peer, want []Peer) peerDiff {
	var d peerDiff
	seen := map[netip.Addr]bool{}
	for _, p := range want {
		seen[p.Address] = true
		old, ok := held[p.Address]
		switch {
		case !ok:
			d.Add = append(d.Add, p)
		case !samePeer(old, p):
			d.Replace = append(d.Replace, p)
		}
	}
	for a, p := range held {
		if !seen[a] {
			d.Delete = append(d.Delete, p)
		}
	}
	slices.SortFunc(d.Delete, func(x, y Peer) int { return x.Address.Compare(y.Address) })
	return d
}

// samePeer says whether two forms of a session need no reset: filters
// change without one (setFilters).
func samePeer(a, b Peer) bool {
	a.Import, a.Export, b.Import, b.Export = nil, nil, nil, nil
	a.NextHopKeep, a.NextHopSelf, b.NextHopKeep, b.NextHopSelf = false, false, false, false
	return reflect.DeepEqual(a, b)
}

// routeDiff is what turns the routes originated into the routes wanted.
type routeDiff struct {
	// Announce holds new routes and routes whose attributes changed.
	Announce []Route
	Withdraw []Route
}

func diffRoutes(held map[netip.Prefix]Route, want []Route) routeDiff {
	var d routeDiff
	seen := map[netip.Prefix]bool{}
	for _, r := range want {
		seen[r.Prefix] = true
		if old, ok := held[r.Prefix]; !ok || !reflect.DeepEqual(old, r) {
			d.Announce = append(d.Announce, r)
		}
	}
	for p, r := range held {
		if !seen[p] {
			d.Withdraw = append(d.Withdraw, r)
		}
	}
	slices.SortFunc(d.Withdraw, func(x, y Route) int { return x.Prefix.Addr().Compare(y.Prefix.Addr()) })
	return d
}
