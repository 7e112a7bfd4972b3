// Package links is the dataplane's one view of the namespace's interfaces,
// shared by the reconcilers that name them (neighbours, routes, sysctls).
//
// Listing every interface is the dearest read the dataplane makes: with a
// thousand workload veths one dump takes about 20 ms, where a route or
// neighbour dump takes well under one. So the Table remembers what it last
// read and is asked in rounds, one round per dataplane Apply: within a round
// it dumps at most once (whichever reconciler needs a full read first pays
// for it, the others share the answer) and looks each name up at most once
// (again only when a write showed the answer wrong: Invalidate). Outside
// full reads, interfaces are looked up one by one by name (one RTM_GETLINK
// request each), which costs the same on a full node as on an empty one.
//
// The Table holds no goroutine and subscribes to nothing: an interface that
// changes while nobody asks about it is seen at the next full read (the
// dataplane's periodic resync).
package links
