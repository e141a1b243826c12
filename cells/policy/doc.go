// Package policy turns Kubernetes NetworkPolicy, CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy objects into the entries of per-endpoint
// BPF policy maps.
//
// The path is: parse and validate each object into a [Policy] (a set of
// [Rule]s over label selectors, entities, CIDRs and ports, plus the
// directions in which it puts the endpoints it selects into default deny);
// an invalid object is rejected as a whole with an error naming the object
// and field, and never changes what other policies enforce. A [Resolver]
// then computes, per security identity, the [MapKey] → verdict entries
// (Cilium's policy map layout: identity, direction, protocol, port prefix)
// and keeps them up to date incrementally as policies, identities and
// endpoints change: only the identities whose result can change are
// recomputed. The agent [Cell] writes the result per endpoint into the
// policy-entries table, which a reconciler writes into one pinned map per
// endpoint (cilium_policy_v2_<endpoint id>).
//
// Verdict semantics (the datapath's, see bpf/README.md): a packet is looked
// up with its peer's identity and with identity 0 (any); a deny from either
// drops it, otherwise an allow from either passes it, otherwise it is
// dropped by default deny. Deny wins over allow at computation time too: an
// allow entry inside a deny entry's range is not written.
//
// Sentinel errors: [ErrInvalid], [ErrUnsupported].
package policy
