/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing of Ethernet + IPv4 + TCP/UDP/ICMP into struct pkt. */
#ifndef HIVENET_PARSE_H
#define HIVENET_PARSE_H

#include "common.h"
#include "drop.h"

#define PARSE_NOT_IPV4 1

/*
 * parse_ipv4 fills p from the packet. It returns CTX_OK for an IPv4 packet,
 * PARSE_NOT_IPV4 for anything else (ARP, IPv6: the datapath hands those to
 * the kernel untouched), or a negative drop reason for a malformed packet.
 * Other L4 protocols parse with ports 0; fragments parse without ports.
 */
static __always_inline int parse_ipv4(struct __sk_buff *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 ihl;

	if ((void *)(eth + 1) > data_end)
		return PARSE_NOT_IPV4;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return PARSE_NOT_IPV4;

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -DROP_INVALID;
	if (ip->version != 4 || ip->ihl < 5)
		return -DROP_INVALID;

	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;
	p->ttl = ip->ttl;
	p->len = ctx->len;

	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) {
		p->fragment = true;
		return CTX_OK;
	}

	ihl = ip->ihl * 4;
	data = (void *)ip + ihl;

	switch (p->proto) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = data;

		if ((void *)(tcp + 1) > data_end)
			return -DROP_CT_INVALID_HDR;
		p->sport = tcp->source;
		p->dport = tcp->dest;
		p->tcp_flags = ((__u8 *)tcp)[13];
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = data;

		if ((void *)(udp + 1) > data_end)
			return -DROP_CT_INVALID_HDR;
		p->sport = udp->source;
		p->dport = udp->dest;
		break;
	}
	case IPPROTO_ICMP: {
		struct icmp4hdr *icmp = data;

		if ((void *)(icmp + 1) > data_end)
			return -DROP_CT_INVALID_HDR;
		p->icmp_type = icmp->type;
		p->icmp_code = icmp->code;
		/* Echo request and reply are one flow: the identifier takes
		 * the source port of the request and the destination port of
		 * the reply, so the reply's tuple is the request's reversed. */
		if (icmp->type == ICMP_ECHO)
			p->sport = icmp->id;
		else if (icmp->type == ICMP_ECHOREPLY)
			p->dport = icmp->id;
		break;
	}
	default:
		break;
	}
	return CTX_OK;
}

#endif /* HIVENET_PARSE_H */
