/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connection tracking, in Cilium's layout: struct ipv4_ct_tuple keys and
 * struct ct_entry values in two LRU maps, cilium_ct4_global for TCP and
 * cilium_ct_any4_global for everything else.
 *
 * Every endpoint a connection touches on this node has its own entry: the
 * client's from-container creates an OUT entry (tuple as the first packet
 * carries it), the server's ingress creates an IN entry. A packet matches
 * its own direction's entry (CT_ESTABLISHED), or the opposite direction's
 * entry with the tuple reversed (CT_REPLY), or neither (CT_NEW, an entry is
 * created).
 *
 * The maps are LRU, so nothing needs to collect garbage for them to keep
 * working; an entry found past its lifetime is replaced, and that is how the
 * datapath sees a connection expire.
 */
#ifndef HIVENET_CONNTRACK_H
#define HIVENET_CONNTRACK_H

#include "common.h"
#include "config.h"
#include "drop.h"

/* Tuple flags, Cilium's TUPLE_F_*. */
#define TUPLE_F_OUT 0
#define TUPLE_F_IN 1
#define TUPLE_F_RELATED 2
#define TUPLE_F_SERVICE 4

/* ct_entry.flags bits, in the order of Cilium's ct_entry bitfield. */
#define CT_F_RX_CLOSING (1 << 0)
#define CT_F_TX_CLOSING (1 << 1)
#define CT_F_LB_LOOPBACK (1 << 3)
#define CT_F_SEEN_NON_SYN (1 << 4)
#define CT_F_NODE_PORT (1 << 5)
#define CT_F_PROXY_REDIRECT (1 << 6)
#define CT_F_DSR_INTERNAL (1 << 7)
#define CT_F_FROM_L7LB (1 << 8)
#define CT_F_FROM_TUNNEL (1 << 10)

/* Lifetimes in seconds, Cilium's defaults. */
#define CT_LIFETIME_TCP 21600
#define CT_LIFETIME_SYN 60
#define CT_LIFETIME_CLOSE 10
#define CT_LIFETIME_NONTCP 60

/* Default map sizes; the loader sets the real ones from
 * bpf-ct-global-tcp-max and bpf-ct-global-any-max. */
#define CT_MAP_SIZE_TCP 524288
#define CT_MAP_SIZE_ANY 262144

enum ct_dir {
	CT_EGRESS,  /* packet leaves the endpoint (from-container) */
	CT_INGRESS, /* packet enters the endpoint (to-container) */
};

enum ct_status {
	CT_NEW,
	CT_ESTABLISHED,
	CT_REPLY,
	CT_RELATED,
};

struct ipv4_ct_tuple {
	__be32 daddr;
	__be32 saddr;
	__be16 dport;
	__be16 sport;
	__u8 nexthdr;
	__u8 flags;
} __attribute__((packed));

struct ct_entry {
	__u64 reserved0;
	__u64 backend_id;  /* service backend (issue 7) */
	__u64 packets;
	__u64 bytes;
	__u32 lifetime;    /* expiry, seconds of CLOCK_MONOTONIC */
	__u16 flags;       /* CT_F_* */
	__u16 rev_nat_index;
	__u16 ifindex;
	__u8 tx_flags_seen; /* TCP flags seen in the entry's direction */
	__u8 rx_flags_seen; /* TCP flags seen in replies */
	__u32 src_sec_id;
	__u32 last_tx_report; /* seconds, last flow event in the entry's direction */
	__u32 last_rx_report; /* seconds, last flow event of a reply */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ipv4_ct_tuple);
	__type(value, struct ct_entry);
	__uint(max_entries, CT_MAP_SIZE_TCP);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_ct4_global SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ipv4_ct_tuple);
	__type(value, struct ct_entry);
	__uint(max_entries, CT_MAP_SIZE_ANY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_ct_any4_global SEC(".maps");

/* Why a packet's conntrack step asks for a flow event. */
enum ct_report {
	CT_REPORT_NONE = 0,
	CT_REPORT_NEW,      /* connection start */
	CT_REPORT_CLOSE,    /* FIN or RST */
	CT_REPORT_FLAGS,    /* first time this TCP flag is seen in this direction */
	CT_REPORT_INTERVAL, /* periodic report */
	CT_REPORT_EXPIRED,  /* an expired entry was replaced */
};

struct ct_result {
	enum ct_status status;
	enum ct_report report;
	__u32 src_sec_id; /* identity stored in the entry at creation */
	__u16 rev_nat_index;
};

static __always_inline __u32 mono_sec(void)
{
	return bpf_ktime_get_ns() / NSEC_PER_SEC;
}

static __always_inline void *ct_map(__u8 proto)
{
	if (proto == IPPROTO_TCP)
		return &cilium_ct4_global;
	return &cilium_ct_any4_global;
}

static __always_inline __u8 ct_report_mask(void)
{
	if (cfg_monitor_aggregation == AGG_LOW)
		return 0xff;
	if (cfg_monitor_aggregation == AGG_MEDIUM)
		return TCP_FLAG_SYN | TCP_FLAG_FIN | TCP_FLAG_RST;
	return 0;
}

static __always_inline __u32 ct_lifetime(const struct pkt *p, __u16 flags)
{
	if (p->proto != IPPROTO_TCP)
		return CT_LIFETIME_NONTCP;
	if ((flags & (CT_F_RX_CLOSING | CT_F_TX_CLOSING)) ==
	    (CT_F_RX_CLOSING | CT_F_TX_CLOSING))
		return CT_LIFETIME_CLOSE;
	if (flags & CT_F_SEEN_NON_SYN)
		return CT_LIFETIME_TCP;
	return CT_LIFETIME_SYN;
}

/*
 * ct_account updates an existing entry for a packet seen in the entry's
 * direction (tx) or as a reply (rx) and says whether to report it.
 */
static __always_inline enum ct_report ct_account(struct ct_entry *e,
						 const struct pkt *p, bool rx,
						 __u32 now)
{
	enum ct_report report = CT_REPORT_NONE;
	__u8 flags = p->tcp_flags;
	__u16 ctflags = e->flags;
	__u8 seen;

	__sync_fetch_and_add(&e->packets, 1);
	__sync_fetch_and_add(&e->bytes, p->len);

	if (p->proto == IPPROTO_TCP) {
		seen = rx ? e->rx_flags_seen : e->tx_flags_seen;
		if (flags & ~seen) {
			if (flags & ~seen & ct_report_mask())
				report = CT_REPORT_FLAGS;
			if (rx)
				e->rx_flags_seen = seen | flags;
			else
				e->tx_flags_seen = seen | flags;
		}
		if (!(flags & TCP_FLAG_SYN))
			ctflags |= CT_F_SEEN_NON_SYN;
		if (flags & TCP_FLAG_RST)
			ctflags |= CT_F_RX_CLOSING | CT_F_TX_CLOSING;
		else if (flags & TCP_FLAG_FIN)
			ctflags |= rx ? CT_F_RX_CLOSING : CT_F_TX_CLOSING;
		if (flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
			report = CT_REPORT_CLOSE;
		if (ctflags != e->flags)
			e->flags = ctflags;
	}

	{
		__u32 lifetime = now + ct_lifetime(p, ctflags);

		/* Skip the write when nothing changed: entries are shared
		 * between CPUs and every write bounces the cache line. */
		if (e->lifetime != lifetime)
			e->lifetime = lifetime;
	}

	if (cfg_monitor_interval_sec && cfg_monitor_aggregation != AGG_MAXIMUM) {
		__u32 *last = rx ? &e->last_rx_report : &e->last_tx_report;

		if (now - *last >= cfg_monitor_interval_sec) {
			*last = now;
			if (report == CT_REPORT_NONE)
				report = CT_REPORT_INTERVAL;
		}
	}
	return report;
}

static __always_inline void ct_tuple_reverse(struct ipv4_ct_tuple *t)
{
	__be32 addr = t->daddr;
	__be16 port = t->dport;

	t->daddr = t->saddr;
	t->saddr = addr;
	t->dport = t->sport;
	t->sport = port;
	t->flags ^= TUPLE_F_IN;
}

/*
 * ct_lookup4 finds or creates the conntrack entry of p as seen by an
 * endpoint in direction dir. ifindex is the endpoint's node-side veth and
 * src_sec_id the source identity, both stored in a new entry.
 */
static __always_inline int ct_lookup4(const struct pkt *p, enum ct_dir dir,
				      __u32 ifindex, __u32 src_sec_id,
				      struct ct_result *res)
{
	struct ipv4_ct_tuple tuple = {
		.daddr = p->daddr,
		.saddr = p->saddr,
		.dport = p->dport,
		.sport = p->sport,
		.nexthdr = p->proto,
		.flags = dir == CT_INGRESS ? TUPLE_F_IN : TUPLE_F_OUT,
	};
	void *map = ct_map(p->proto);
	__u32 now = mono_sec();
	struct ct_entry *e;
	bool expired = false;

	e = bpf_map_lookup_elem(map, &tuple);
	if (e) {
		/* A SYN on an entry that is closing reuses the tuple for a new
		 * connection: start over. */
		bool reopen = p->proto == IPPROTO_TCP &&
			      (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN &&
			      (e->flags & (CT_F_RX_CLOSING | CT_F_TX_CLOSING));

		if (e->lifetime >= now && !reopen) {
			res->status = CT_ESTABLISHED;
			res->report = ct_account(e, p, false, now);
			res->src_sec_id = e->src_sec_id;
			res->rev_nat_index = e->rev_nat_index;
			return CTX_OK;
		}
		expired = e->lifetime < now;
	}

	ct_tuple_reverse(&tuple);
	e = bpf_map_lookup_elem(map, &tuple);
	if (e && e->lifetime >= now) {
		res->status = CT_REPLY;
		res->report = ct_account(e, p, true, now);
		res->src_sec_id = e->src_sec_id;
		res->rev_nat_index = e->rev_nat_index;
		return CTX_OK;
	}
	ct_tuple_reverse(&tuple);

	{
		struct ct_entry entry = {
			.ifindex = ifindex,
			.src_sec_id = src_sec_id,
			.rev_nat_index = p->rev_nat_index,
			.packets = 1,
			.bytes = p->len,
			.last_tx_report = now,
		};

		if (p->proto == IPPROTO_TCP) {
			entry.tx_flags_seen = p->tcp_flags;
			if (!(p->tcp_flags & TCP_FLAG_SYN))
				entry.flags |= CT_F_SEEN_NON_SYN;
		}
		entry.lifetime = now + ct_lifetime(p, entry.flags);
		if (bpf_map_update_elem(map, &tuple, &entry, BPF_ANY) < 0)
			return -DROP_CT_CREATE_FAILED;
	}
	res->status = CT_NEW;
	res->report = expired ? CT_REPORT_EXPIRED : CT_REPORT_NEW;
	res->src_sec_id = src_sec_id;
	res->rev_nat_index = p->rev_nat_index;
	return CTX_OK;
}

#endif /* HIVENET_CONNTRACK_H */
