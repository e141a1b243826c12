/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cilium_ipcache: prefix -> security identity (+ tunnel endpoint), an LPM
 * trie in Cilium's layout, filled by the agent's ipcache cell
 * (cells/ipcache). The datapath asks it who a peer outside this node's
 * endpoints is; an address nothing claims is the world.
 */
#ifndef HIVENET_IPCACHE_H
#define HIVENET_IPCACHE_H

#include "common.h"

#define IPCACHE_MAP_SIZE 512000
#define IPCACHE_STATIC_PREFIX 32 /* cluster_id, pad, family */
#define IPCACHE_FAMILY_IPV4 1
#define WORLD_ID 2

struct ipcache_key {
	__u32 prefixlen;
	__u16 cluster_id;
	__u8 pad1;
	__u8 family;
	__be32 ip4;
	__u32 pad4;
	__u32 pad5;
	__u32 pad6;
};

struct remote_endpoint_info {
	__u32 sec_identity;
	__be32 tunnel_endpoint;
	__u32 pad_tunnel[3];
	__u16 pad;
	__u8 key;
	__u8 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ipcache_key);
	__type(value, struct remote_endpoint_info);
	__uint(max_entries, IPCACHE_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_ipcache SEC(".maps");

/* ipcache_identity4 returns the identity of addr: its longest prefix in
 * the ipcache, else the world. */
static __always_inline __u32 ipcache_identity4(__be32 addr)
{
	struct ipcache_key key = {
		.prefixlen = IPCACHE_STATIC_PREFIX + 32,
		.family = IPCACHE_FAMILY_IPV4,
		.ip4 = addr,
	};
	struct remote_endpoint_info *info = bpf_map_lookup_elem(&cilium_ipcache, &key);

	return info ? info->sec_identity : WORLD_ID;
}

#endif /* HIVENET_IPCACHE_H */
