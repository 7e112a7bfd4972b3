// Package policy is Calico's network policy model, pure: resources in, a
// Model out, and the Model answers what the dataplane must enforce and
// why.
//
// Build turns the datastore's policies, tiers, profiles, network sets and
// endpoints into compiled form: every policy with its selector and rules
// parsed once, its types inferred as Calico infers them, its rule
// selectors scoped to its namespace (unless the rule has a namespace
// selector), and every endpoint with its effective labels (its own, the
// projectcalico.org/namespace, orchestrator and serviceaccount labels, and
// its profiles' labelsToApply, its own winning).
//
// Semantics (reference §3.3), which the dataplane renderer and `tortiectl
// policy explain` both take from here:
//
//   - An endpoint's ingress (or egress) is an ordered list of tiers
//     (ascending order, nil last, ties by name), each holding the policies
//     of that type that select the endpoint (ascending order, nil last,
//     ties by name).
//   - In a policy, rules are tried in order: Allow accepts and stops, Deny
//     drops and stops, Pass skips the rest of the tier, Log carries on.
//   - A tier with at least one policy for the endpoint in which no rule
//     decided applies its defaultAction: Deny (end-of-tier drop) or Pass.
//   - When no tier has a policy for the endpoint, or every tier passed, the
//     endpoint's profiles decide, in order; when none does, the packet is
//     dropped.
//   - Traffic between two endpoints must pass the sender's egress and the
//     receiver's ingress.
//
// The package does no I/O and reads no clock.
package policy
