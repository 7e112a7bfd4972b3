// Package dataplane applies a node's desired state (calc.Desired) to the
// Linux kernel. It is a thin facade over one reconciler per subsystem:
//
//   - linklayer: tunl0 and vxlan.calico, then their neighbour and FDB
//     entries, and the workload interfaces' neighbour entries;
//   - routes: the main table's IPv4 and IPv6 routes (protocol conventions.ProtocolAgent);
//   - nft: the nftables table "ip tortie", built from its parts
//     (natOutgoing today);
//   - sysctl: ip_forward and the workload interfaces' settings.
//
// Apply runs them in that order, so a device exists before entries and
// routes point at it, a route exists before traffic is masqueraded over
// it, and the routes are in before any /proc/sys file is read. Each
// reconciler writes only the difference, and owns only what tortie makes
// (see each package), so Apply is safe to call on every change, and a
// restarted agent that calls it on an unchanged kernel writes nothing.
//
// Apply is incremental. Each reconciler remembers the kernel state it last
// read plus its own writes since, and compares the next desired state with
// that memory rather than with fresh dumps: a new workload costs one
// interface lookup by name, one neighbour write, one route write and its
// interface's sysctls, however many workloads the node has. A part reads
// everything back on the first Apply, on Resync, after one of its writes
// failed, and (neighbours and routes) after a tunnel device changed; a
// write that shows the memory wrong (a route already there, an interface
// gone) makes that part read back and retry at once. The interfaces come
// from one links.Table shared by the reconcilers, so an Apply dumps the
// link table (the dear read: ~20 ms with a thousand veths) at most once.
// What others change behind the agent's back is not seen until the next
// full read: the agent calls Apply on each change and Resync on a timer,
// which re-reads everything and repairs drift.
//
// Apply still compares every wanted route and entry with that memory. When
// the caller knows the change (the calc Engine's Delta), ApplyDelta writes
// just it, in work proportional to the change rather than to the table:
// a remote block or borrowed address is one route planned and written. It
// does so only for a change of routes alone, none of a local workload, on
// top of an apply that wrote all it was asked; anything else is an Apply.
// TryDelta is the same without that fallback: it writes nothing and says
// so, and reads nothing of the desired state but the policy program, so
// the agent builds the full route lists only when a full Apply needs them.
//
// The per-interface sysctls of the interfaces present at the first Apply
// are not read before the agent is in sync: the CNI plugin set them when it
// made each interface, so their check is deferred to the following Applies,
// a batch at a time (see sysctl.Reconciler.Defer), and Resync checks all.
//
// All kernel access happens in the network namespace the Dataplane was
// created in (netlink) or the one of the calling thread (nft, /proc/sys);
// for a normal process these are the same.
package dataplane
