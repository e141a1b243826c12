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
// The datapath contract (for the policy stage in bpf/): the hash-of-maps
// cilium_policy_eps (key: __u32 endpoint id, value: the endpoint's map)
// is pinned under <bpf-root>/globals next to the inner maps
// cilium_policy_v2_<id>, LPM tries of [BPFKey] (struct policy_key: __u32
// prefixlen; __u32 sec_label; __u8 egress; __u8 protocol; __be16 dport) →
// [BPFValue] (struct policy_entry: __be16 proxy_port; __u8 flags, bit 0
// deny; __u8 auth_type; __u32 cookie; __u64 packets, bytes). A missing
// endpoint entry in the outer map means its policy is not computed yet.
// The cookie names the policy of a verdict: GET /v1/policy/cookies.
//
// Sentinel errors: [ErrInvalid], [ErrUnsupported].
package policy
