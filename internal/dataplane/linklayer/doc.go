// Package linklayer keeps the node's link layer equal to what the
// calculation wants (calc.Desired's IPIP, VXLAN, Neighbors and FDB): the
// tunnel devices, the static neighbour and forwarding entries the tunnels
// need, and the permanent neighbour entries of the workloads' interfaces.
//
// Devices. tunl0 is the kernel's fallback IP-in-IP device: it appears in
// every namespace once the ipip module is loaded and cannot be created or
// deleted, only configured. DetectIPIP finds out whether this kernel has it
// (tunl0 exists, or "modprobe ipip" succeeds and then it does) and reports
// ErrIPIPUnsupported otherwise; the answer is remembered. When IP-in-IP is
// wanted tunl0 gets its /32 address, MTU and up; when it is not, its
// addresses are removed (a released tunnel address may be given to a pod
// elsewhere) and nothing else changes.
//
// vxlan.calico is created with the wanted VNI, UDP port, MAC, local address
// and parent device, with learning off, then given its MTU, /32 address and
// up. A change of VNI, port, local address, parent or learning recreates it
// (the kernel cannot change them in place); MTU, MAC and address are changed
// in place. It is deleted when no VXLAN is wanted. Only a vxlan device by
// that name is ever touched: an interface of another kind there is reported,
// not removed.
//
// Neighbours and FDB. Permanent neighbour entries (VTEP address -> VTEP MAC
// on vxlan.calico; workload address -> workload MAC on its cali interface)
// and permanent FDB entries (VTEP MAC -> remote node address, "self", on
// vxlan.calico) are added or corrected; stale permanent entries are deleted
// only on devices tortie owns: vxlan.calico always, and a workload interface
// only when tortie wants entries on it (an interface the agent does not know
// yet belongs to the CNI plugin, which is wiring it). Entries the kernel
// learnt, and every other device's, are left alone.
//
// Each Apply writes only the difference: with nothing to change it makes no
// writes. Both ApplyDevices and ApplyNeighbors remember what they last read
// and wrote, and read the kernel again only when their input changes
// (devices), or on the first call, after Forget, after a failed write or a
// device change (entries); see ApplyNeighbors. Interfaces come from a
// links.Table shared with the other reconcilers.
package linklayer
