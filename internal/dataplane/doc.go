// Package dataplane applies a node's desired state (calc.Desired) to the
// Linux kernel. It is a thin facade over one reconciler per subsystem:
//
//   - sysctl: ip_forward and the workload interfaces' settings;
//   - tunnels: tunl0 and vxlan.calico, then their neighbour and FDB entries
//     (and the workload interfaces' neighbour entries);
//   - routes: the main table's IPv4 routes (protocol routes.ProtocolTortie);
//   - nat: natOutgoing in the nftables table "ip tortie".
//
// Apply runs them in that order, so a device exists before entries and
// routes point at it, and a route exists before traffic is masqueraded
// over it. Each reconciler compares with the kernel and writes only the
// difference, and owns only what tortie makes (see each package), so
// Apply is safe to call on every change, and a restarted agent that calls
// it on an unchanged kernel writes nothing.
//
// To keep Apply cheap on every change, the NAT table and the sysctls are
// read back only when their input changes; Resync also re-reads them, to
// repair drift: the agent calls Apply on each change and Resync on a timer.
//
// All kernel access happens in the network namespace the Dataplane was
// created in (netlink) or the one of the calling thread (nft, /proc/sys);
// for a normal process these are the same.
package dataplane
