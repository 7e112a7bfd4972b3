// Package autodetect chooses the address a node routes with, the way
// calico-node does from its IP / IP6 and IP_AUTODETECTION_METHOD /
// IP6_AUTODETECTION_METHOD environment variables.
//
// The decision is a pure function of what a Host reports (its interfaces
// and addresses, the kernel's route to a destination, name resolution), so
// every method is table-tested against FakeHost; NetlinkHost is the thin
// edge that reads the network namespace the process runs in. Nothing here
// changes the host.
//
// Calico's rules, kept exactly because users' manifests depend on them:
//
//   - Interfaces are walked in the reverse of the kernel's order (highest
//     ifindex first). Calico keeps that order for compatibility with its
//     older releases; it is why first-found on a two-NIC machine usually
//     picks the NIC that was added last.
//   - interface= and skip-interface= take comma-separated regular
//     expressions, unanchored and ORed together: the order of the list does
//     not matter, only the order of the interfaces does.
//   - first-found and skip-interface= leave out the default exclusions
//     (DefaultExcludes); interface= and cidr= do not.
//   - The first address of the wanted family that is global unicast (not
//     loopback, link-local, multicast or unspecified) wins; addresses of an
//     interface are taken in the kernel's order. An interface's up/down
//     state does not matter.
//   - can-reach= asks the kernel which source address it would use towards
//     the destination (no packet is sent) and takes the prefix length from
//     the interface that holds exactly that address.
//
// Every decision comes with its reasoning: each interface and address
// considered and why it was accepted or rejected (Result.Steps), so that
// `tortiectl node autodetect` and the node agent's log can show why an
// address was picked.
package autodetect
