/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The endpoints map, cilium_lxc: local endpoint address -> where and who it
 * is. Key and value have the layout of Cilium's struct endpoint_key and
 * struct endpoint_info, so the map can be read with Cilium's tools.
 */
#ifndef HIVENET_ENDPOINTS_H
#define HIVENET_ENDPOINTS_H

#include "common.h"

#define ENDPOINT_KEY_IPV4 1
#define ENDPOINTS_MAP_SIZE 65535

/* Endpoint flags, Cilium's ENDPOINT_F_*. */
#define ENDPOINT_F_HOST 1 /* the node's own address, not a pod */

struct endpoint_key {
	/* Cilium's key is a union of an IPv4 and an IPv6 address; IPv4
	 * addresses use the first four bytes. */
	__be32 ip4;
	__u32 ip6_rest[3];
	__u8 family; /* ENDPOINT_KEY_IPV4 */
	__u8 key;    /* always 0: Cilium's per-endpoint key index */
	__u16 cluster_id;
} __attribute__((packed));

struct endpoint_info {
	__u32 ifindex;  /* node-side veth (lxc*) */
	__u16 unused;
	__u16 lxc_id;   /* endpoint id */
	__u32 flags;    /* ENDPOINT_F_* */
	__u32 pad0;
	__u8 mac[6];    /* the pod's eth0 */
	__u8 pad1[2];
	__u8 node_mac[6]; /* the node-side veth */
	__u8 pad2[2];
	__u32 sec_id;   /* security identity */
	__u32 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct endpoint_key);
	__type(value, struct endpoint_info);
	__uint(max_entries, ENDPOINTS_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_lxc SEC(".maps");

static __always_inline struct endpoint_info *lookup_endpoint4(__be32 addr)
{
	struct endpoint_key key = {
		.ip4 = addr,
		.family = ENDPOINT_KEY_IPV4,
	};

	return bpf_map_lookup_elem(&cilium_lxc, &key);
}

#endif /* HIVENET_ENDPOINTS_H */
