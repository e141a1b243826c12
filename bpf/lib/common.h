/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Common definitions of the hivenet datapath: kernel headers, return codes,
 * and the per-packet context (struct pkt) that every stage reads and writes.
 *
 * Stages are static __always_inline functions in their own headers. Each
 * returns CTX_OK to let the packet continue, or a negative DROP_* reason; the
 * program that runs the stages turns a drop into a flow event and TC_ACT_SHOT.
 */
#ifndef HIVENET_COMMON_H
#define HIVENET_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <stdbool.h>
#include <stddef.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define CTX_OK 0

#define NSEC_PER_SEC 1000000000ULL

/* IPv4 header flag bits in frag_off (network order converted). */
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

/* TCP flags as they appear in byte 13 of the TCP header. */
#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10
#define TCP_FLAG_URG 0x20

/* Fixed header offsets: the datapath only runs on Ethernet veths and parses
 * IPv4 headers without options for rewrites, so checksum fixups use constant
 * offsets the verifier can follow. */
#define IP_OFF ETH_HLEN
#define IP_TTL_OFF (IP_OFF + offsetof(struct iphdr, ttl))
#define IP_CSUM_OFF (IP_OFF + offsetof(struct iphdr, check))

/* The minimal ICMP header; linux/icmp.h pulls in libc headers. */
struct icmp4hdr {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be16 id;
	__be16 sequence;
};

#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

/* Traffic direction relative to the endpoint, numbered as Hubble's
 * TrafficDirection. */
enum {
	DIR_UNKNOWN = 0,
	DIR_INGRESS = 1,
	DIR_EGRESS = 2,
};

/* Identities reserved by Cilium that the datapath itself can name. */
#define IDENTITY_UNKNOWN 0

/*
 * struct pkt is the parsed packet plus what the stages learned about it.
 * Addresses and ports are in network byte order, as on the wire.
 */
struct pkt {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;    /* TCP/UDP source port; ICMP echo identifier */
	__be16 dport;    /* TCP/UDP destination port */
	__u8 proto;      /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, or other */
	__u8 tcp_flags;  /* TCP_FLAG_* of this segment */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 ttl;
	bool fragment;   /* part of a fragmented datagram: no L4 ports */
	__u16 pad;
	__u32 len;       /* skb->len */

	/* Endpoint ids and security identities of both ends, 0 when the
	 * address is not a local endpoint. Policy (issue 8) fills the
	 * identities of remote addresses from the ipcache. */
	__u16 src_ep_id;
	__u16 dst_ep_id;
	__u32 src_identity;
	__u32 dst_identity;

	/* Reverse NAT index of a service translation (issue 7); stored in the
	 * conntrack entry so replies can be translated back. */
	__u16 rev_nat_index;
	__u16 pad2;
};

#endif /* HIVENET_COMMON_H */
