// Package lab builds a tortie cluster out of network namespaces on one
// machine: an underlay (one bridge per subnet in an "underlay" namespace
// that also routes between the subnets and to an optional "outside"
// namespace), node namespaces with their own underlay interfaces, the
// embedded datastore, per-node agents and CNI configuration, and pods made
// through libcni exactly as a container runtime would.
//
// Safety: everything the lab makes lives inside namespaces it made; the
// host's own namespace is never entered for writing: veth pairs are
// created directly between lab namespaces, and no host route, address,
// sysctl or nftables rule is touched. Host addresses the lab uses are from
// 172.31.0.0/16 (underlay), 10.244.0.0/16 (pods) and 198.51.100.0/24 (the
// outside), all confined to the lab's namespaces.
//
// Cleanup: the lab keeps a state file (State) and records every namespace,
// link, process and file in it before making it, so Down removes all of it
// even after the process that brought the lab up was killed. Down also
// sweeps namespaces named with the lab's prefix and kills processes still
// inside them, so a torn state file cannot leak a namespace.
//
// Changes: a running lab takes pods (AddPod, DelPod) and has its processes
// stopped and started again (Stop, Start, Restart); each change locks the
// lab, re-reads the state file and records what it does, so Status, Ping,
// Path and Down see the lab as it now is.
package lab
