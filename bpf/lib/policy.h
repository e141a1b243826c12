/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy enforcement: each endpoint's policy map (Cilium's struct
 * policy_key LPM layout), filled by the agent's policy cell (cells/policy),
 * found through cilium_policy_eps by endpoint id. A packet is looked up
 * with its peer's identity and with identity 0 (any peer): a deny entry in
 * either drops it (DROP_POLICY_DENY), else an allow entry in either passes
 * it, else it is dropped by default deny (DROP_POLICY). An endpoint
 * without a map has no policy computed yet and passes.
 */
#ifndef HIVENET_POLICY_H
#define HIVENET_POLICY_H

#include "common.h"
#include "drop.h"

#define POLICY_MAP_SIZE 16384
#define POLICY_FULL_PREFIX 64 /* identity, direction, protocol, port */
#define POLICY_F_DENY 1

struct policy_key {
	__u32 prefixlen;
	__u32 sec_label;
	__u8 egress;
	__u8 protocol;
	__be16 dport;
};

struct policy_entry {
	__be16 proxy_port;
	__u8 flags;
	__u8 auth_type;
	__u32 cookie;
	__u64 packets;
	__u64 bytes;
};

/* Sizes rather than types: clang emits the inner map's types as forward
 * declarations only. */
struct policy_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(key_size, sizeof(struct policy_key));
	__uint(value_size, sizeof(struct policy_entry));
	__uint(max_entries, POLICY_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct policy_inner);
} cilium_policy_eps SEC(".maps");

/* policy_verdict checks the packet against endpoint ep_id's policy in one
 * direction, with peer the other side's identity, and counts the packet
 * on the entry that decided. */
static __always_inline int policy_verdict(struct pkt *p, __u16 ep_id,
					  __u32 peer, __u8 egress, __u32 len)
{
	__u32 key_ep = ep_id;
	struct policy_entry *e1, *e0, *e;
	struct policy_key k = {
		.prefixlen = POLICY_FULL_PREFIX,
		.sec_label = peer,
		.egress = egress,
		.protocol = p->proto,
	};
	void *inner;

	inner = bpf_map_lookup_elem(&cilium_policy_eps, &key_ep);
	if (!inner)
		return CTX_OK;
	if (p->proto == IPPROTO_ICMP)
		k.dport = bpf_htons(p->icmp_type);
	else if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP ||
		 p->proto == IPPROTO_SCTP)
		k.dport = p->dport;
	e1 = bpf_map_lookup_elem(inner, &k);
	k.sec_label = 0;
	e0 = bpf_map_lookup_elem(inner, &k);

	if (e1 && (e1->flags & POLICY_F_DENY))
		e = e1;
	else if (e0 && (e0->flags & POLICY_F_DENY))
		e = e0;
	else
		e = e1 ? e1 : e0;
	if (!e)
		return -DROP_POLICY;
	__sync_fetch_and_add(&e->packets, 1);
	__sync_fetch_and_add(&e->bytes, len);
	if (e->flags & POLICY_F_DENY)
		return -DROP_POLICY_DENY;
	return CTX_OK;
}

#endif /* HIVENET_POLICY_H */
