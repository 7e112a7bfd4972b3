// Package cni is the tortie CNI plugin: it wires pods the way Calico's
// calico plugin does and records them as WorkloadEndpoints, so that a
// Calico conflist works with "type": "tortie" and Calico's tools see the
// same endpoints.
//
// # Commands
//
//   - ADD: addresses from the IPAM plugin (tortie-ipam runs in this
//     process, package cniipam, on the plugin's datastore connection;
//     host-local and any other type are delegated by CNI exec), a veth pair wired as package
//     veth describes, the network's Profile (created once) and the
//     WorkloadEndpoint. Any failure undoes what was done (the addresses
//     released, the veth removed, the endpoint deleted). A repeated ADD of
//     a complete attachment returns the same result without touching
//     anything; a half-made one (an ADD killed midway) is made again.
//   - DEL: the endpoint (if it is still this container's), the veth and
//     the addresses; whatever is gone already counts as done.
//   - CHECK: everything ADD made, against prevResult; Calico's did nothing.
//   - STATUS: the node agent has started and the datastore answers.
//   - GC: IPAM's stale allocations (delegated) and this node's endpoints
//     of the network that the runtime no longer lists.
//
// # Names
//
// The host side is "cali" + the first 11 hex characters of SHA-1 of the
// workload's identity: namespace.pod for Kubernetes (Calico's and Felix's
// name), network.containerID otherwise. Calico used containerID[:11] for
// the latter, so containers whose IDs share a prefix (every cnitool ID
// starts "cnitool-") got the same interface, and one pod's ADD deleted
// another's. WorkloadEndpoints are named node-orchestrator-workload-endpoint
// with dashes doubled, in namespace "default" for orchestrator cni.
//
// # Speed
//
// The plugin is a short-lived process per command, so it does no work it
// does not need (no Kubernetes client) and overlaps what does not depend
// on each other, and keeps to one datastore connection per command,
// in-process IPAM included. ADD: the datastore connection (and the network's profile,
// which also makes the client read the cluster objects it checks on its
// first write) and the veth pair (which needs no address) are made while
// the IPAM plugin runs; then the pair's addresses and routes are set while
// the endpoint is written. DEL: the veth deletion, IPAM DEL and the
// endpoint's deletion run at the same time, and the kernel's wait after a
// veth is gone (an RCU barrier, 10-30 ms) is left to a detached "ip link
// del" (veth.RemoveContainer), so the runtime does not wait for it.
//
// # Files shared with the node agent
//
// <state_dir>/nodename (default /var/lib/tortie/nodename, or
// nodename_file) exists once tortie-node has started; without it ADD fails
// with "try again later" unless nodename_file_optional is set.
// <state_dir>/mtu (or mtu_file) holds the MTU when the conflist's mtu is 0.
package cni
