// Package nft owns tortie's nftables table, "ip tortie", and nothing else:
// other tables are never read for writing, flushed or deleted.
//
// The table is built from parts, each in its own file, each the rendering
// of one piece of the desired state that lives in nftables: natOutgoing
// (nat.go), workload policy (policy.go, merge.go, shape.go) and host
// endpoints (host.go, tohost.go). A part says which sets and chains it wants
// (content.go); the Owner merges every part into one table and writes it
// in one knftables transaction, so no part can erase another's objects and
// the kernel never holds a half-written table.
//
// natOutgoing: traffic from a pool with natOutgoing to any destination
// outside all pools leaves masqueraded to the node's address; pod-to-pod
// traffic (destination in any pool) never is. Two interval sets of pool
// CIDRs (the natOutgoing pools and all pools, as Calico's masq-ipam-pools
// and all-ipam-pools IP sets) and one base chain hooked at postrouting with
// the single rule
//
//	ip saddr @masq-ipam-pools ip daddr != @all-ipam-pools masquerade
//
// so adding a pool changes set elements, never rules. An empty list of
// natOutgoing pools keeps the table with an empty masq set: the rule then
// matches nothing, and the table's presence still tells an operator that
// tortie manages NAT on this node.
//
// Apply compares the table with the wanted one before writing anything, so
// neither a repeated Apply nor a restart rewrites a table that is already
// right (existing connections keep their conntrack entries in any case).
// When something differs, the difference is written in one nft
// transaction (update.go), which the kernel applies atomically: there is
// no moment without the rules. Every rule carries a comment with a digest
// of its chain's definition, so a fresh Owner (a restart) reads back which
// chains are right and which sets and maps hold what (read.go) and writes
// the rest; a table written by a tortie version that defines it
// differently (no chain with a wanted digest) is replaced whole (add,
// delete, then define it afresh).
package nft
