// Package bgp is tortie-node's BGP speaker: the sessions calc says the node
// must hold, the routes it originates, and what it learns from its peers.
//
// The engine is GoBGP v4, embedded as a library and kept behind the small
// Speaker interface so that its API (which has broken between majors) is
// spelled in this package only. GoBGP never touches the kernel: the best
// paths it learns are reported to the caller (Learned, Changed), which
// installs them with the routes reconciler.
//
// The caller hands over whole desired states (SetPeers, SetRoutes); the
// speaker applies only the difference, so a changed BGPPeer resets only
// the sessions it touches and the speaker itself never restarts. A change
// of the global settings (AS number, router ID, listen port) needs a new
// speaker, as it needs a BIRD restart in Calico.
//
// What the speaker sends to its peers is limited to what it originates,
// and, on a route reflector, what it reflects from iBGP peers: a node is
// never a transit for routes it learned over eBGP (calico-reference.md
// §7.5, rule 7).
package bgp
