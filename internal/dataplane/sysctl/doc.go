// Package sysctl keeps the node's kernel settings that tortie needs:
// net.ipv4.ip_forward=1 (and net.ipv6.conf.all.forwarding=1 once the node
// routes IPv6 workloads), and on each workload interface the settings of
// reference §6.1 (route_localnet=1, proxy_arp=1, neigh proxy_delay=0,
// forwarding=1, and IPv6 accept_ra=0 where IPv6 exists; for a workload
// with an IPv6 address also disable_ipv6=0, accept_dad=0, proxy_ndp=1 and
// IPv6 forwarding=1). The CNI plugin sets
// the per-interface ones when it creates an interface; the agent checks them
// and repairs what differs, as Felix does. rp_filter is left as the interface
// inherited it from conf/default, which is what Calico sets it to.
//
// Settings are read through /proc/sys, which shows the network namespace of
// the calling thread, and written only when they differ. An interface once
// found right is not read again (while its ifindex stays the same) until
// Forget: the periodic resync. Interfaces the agent finds at its start are
// checked later, a batch per Apply (Defer), so that a restart on a full
// node need not read five files per workload before it is in sync.
package sysctl
