// Package veth wires one workload interface the way Calico wires it, and
// takes it apart again.
//
// A workload gets a veth pair: the host side, named cali<11 hex>, stays in
// the node's network namespace (the namespace the calling process is in) with
// the fixed MAC ee:ee:ee:ee:ee:ee and no address; the container side is
// created directly inside the pod's namespace under the runtime's interface
// name (eth0), so no temporary name ever appears on the node.
//
// Inside the pod the address is a /32 (/128), the only routes are
// "169.254.1.1 dev eth0 scope link" and "default via 169.254.1.1 dev eth0"
// (IPv6: default via the host side's fixed link-local address), and a
// permanent neighbour entry maps the gateway to ee:ee:ee:ee:ee:ee. Calico
// relies on the host's proxy ARP to answer for 169.254.1.1, which the kernel
// only does when the host has a route to 169.254.1.1: on a node without a
// default route its pods cannot send a single packet. With the permanent
// entry the pod never asks, so it reaches the node and the other pods
// whatever the node's routing table holds. The host side likewise gets a
// permanent neighbour entry for each pod address, and a /32 (/128) route
// marked with conventions.ProtocolCNI so that the node agent can tell the plugin's
// routes from its own and from everyone else's.
//
// All namespace switching goes through containernetworking's ns.Do, which
// runs the work on a locked OS thread and never returns a thread to the Go
// scheduler in the wrong namespace.
package veth
