// Package topo describes a namespace lab: its subnets (the underlay), nodes
// and their interfaces, pods, optional router namespaces and the "outside"
// network, as a small YAML document or from a few flags.
//
// It is pure: Parse, Generate and Resolve turn input into a validated,
// fully addressed Topology, and name every network namespace and link the
// lab will make, without touching the kernel. A user's mistake is reported
// with the field and value that caused it (see ValidationError).
//
// Every name the lab gives the host is derived from the lab name, so that
// labs (and tests) never see each other's objects: namespaces are
// "tl-<lab>.<kind>[.<name>]". A lab name cannot contain a dot, so the
// prefix "tl-<lab>." belongs to exactly one lab.
package topo
