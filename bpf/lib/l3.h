/* SPDX-License-Identifier: Apache-2.0 */
/* L3 forwarding to a local endpoint without the kernel's routing. */
#ifndef HIVENET_L3_H
#define HIVENET_L3_H

#include "common.h"
#include "drop.h"
#include "endpoints.h"

/*
 * ipv4_l3_forward does what the kernel's forwarding would do before
 * handing the packet to the endpoint's veth: decrement the TTL (fixing the
 * header checksum) and set the Ethernet addresses to those of the link
 * between the node and the endpoint. The caller leaves packets with a TTL
 * of 1 or less to the kernel, which answers them with ICMP time exceeded.
 */
static __always_inline int ipv4_l3_forward(struct __sk_buff *ctx,
					   const struct endpoint_info *ep)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;
	__be16 old, new;

	if ((void *)(ip + 1) > data_end)
		return -DROP_INVALID;

	__builtin_memcpy(eth->h_dest, ep->mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, ep->node_mac, ETH_ALEN);

	/* TTL and protocol form one 16-bit word of the header. */
	old = *(__be16 *)&ip->ttl;
	ip->ttl--;
	new = *(__be16 *)&ip->ttl;

	if (bpf_l3_csum_replace(ctx, IP_CSUM_OFF, old, new, sizeof(new)) < 0)
		return -DROP_WRITE_ERROR;
	return CTX_OK;
}

#endif /* HIVENET_L3_H */
