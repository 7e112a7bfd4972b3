// Package routes keeps the node's main-table routes equal to the
// routes the calculation wants (calc.Desired.Routes), touching only routes
// tortie owns. IPv6 routes are read back and written once one is wanted
// (with the kernel's default IPv6 metric, 1024, which is part of their
// key); until then only the first read looks at the IPv6 table, to remove
// what a previous run left.
//
// Ownership. A route is tortie's when it carries conventions.ProtocolAgent (80, the
// number tortie-node writes its routes with), conventions.ProtocolCNI (81, the number the
// tortie CNI plugin gives the pod /32 routes it adds), or when it points down
// a workload interface (cali*), as Felix treats them. Routes the kernel made
// itself (proto kernel) are never touched, nor is any route of another owner:
// a foreign route at a destination tortie wants is reported as a Conflict and
// left in place.
//
// Adoption. A tortie route that already says what is wanted is kept as it
// is, whatever its protocol: the CNI plugin's pod routes become the agent's
// without being rewritten, and a restart finds everything right and writes
// nothing. Routes tortie-node wrote itself and no longer wants are deleted at
// once; routes it only adopted (the CNI's, or another tool's on a cali
// interface) are deleted only after being unwanted for a grace period, so a
// pod the plugin has just wired is not unwired before its endpoint reaches
// the agent (Felix waits 10 s for the same reason).
//
// Apply writes only the difference (RTM_NEWROUTE with create-exclusive for a
// missing route, with replace for a different one, RTM_DELROUTE for a stale
// one); with nothing to change it makes no writes at all. It compares with
// the table as it last read it plus its own writes, and reads the table
// back only on the first Apply, after Forget or a failed write, or when a
// write shows that memory wrong: an add that finds a route already there
// (the CNI plugin's, typically, which is then adopted, not rewritten) or an
// interface gone. Interfaces come from a links.Table shared with the other
// reconcilers. Workload routes are programmed only once their interface
// exists and is up; until then they are counted as skipped, not as errors,
// and their interface is looked up again on each Apply.
package routes
