// Package calc turns a snapshot of the datastore plus what a node knows of
// itself into the state that node's kernel must hold: routes for local and
// remote IPAM blocks, tunnel devices, VXLAN neighbour and FDB entries, the
// pool sets natOutgoing needs, and the pod MTU. It is where Calico's
// routing semantics live (calico-reference.md §6.2, §6.3, §6.5): which
// encapsulation for which peer, what a borrowed address needs, what a
// blackhole is for. It is a pure function — no kernel, no clock, no I/O —
// and is table-tested; the reconcilers in internal/dataplane apply its
// output.
//
// Compute works from a whole snapshot. Engine is the same calculation
// made incremental, for the node agent: it is fed one change at a time
// and keeps the desired state through indexes, so that a change costs
// work in proportion to what it touches. Compute is its oracle: a
// property test feeds both random change sequences and requires equal
// results.
package calc
