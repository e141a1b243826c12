/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service load balancing (kube-proxy replacement), in Cilium's map layout:
 *
 *   cilium_lb4_services_v2  frontend (address, port, proto, scope, slot) ->
 *                           slot 0: the service (backend count, rev NAT id,
 *                           flags, affinity timeout); slots 1..N: backend ids
 *   cilium_lb4_backends_v3  backend id -> address, port, proto, state
 *   cilium_lb4_reverse_nat  rev NAT id -> frontend address and port
 *   cilium_lb4_affinity     (client, rev NAT id) -> backend, last used
 *   cilium_lb4_maglev       rev NAT id -> Maglev lookup table of backend ids
 *
 * from-container calls lb4_from_container before conntrack: a packet to a
 * frontend is DNATed to a backend and carries the rev NAT id into the
 * conntrack entry. A service conntrack entry (tuple flags TUPLE_F_SERVICE,
 * the client's address and the frontend's) remembers the backend, so a
 * connection stays on it while the backend set changes. Replies are
 * translated back where they reach the client (lb4_rev_nat, called on
 * CT_REPLY in ipv4_to_endpoint), so the client only ever sees the frontend.
 *
 * A pod that reaches itself through a service (hairpin) would receive a
 * packet from its own address, which its kernel drops as martian: the
 * source becomes LB_LOOPBACK_ADDR (Cilium's IPV4_LOOPBACK), and the reply to
 * that address is delivered back to the pod, translated.
 *
 * A frontend with no backends is rejected with an ICMP port unreachable
 * sent back to the client (kube-proxy's REJECT), so connects fail at once.
 */
#ifndef HIVENET_LB_H
#define HIVENET_LB_H

#include "common.h"
#include "conntrack.h"
#include "drop.h"

/* Default sizes; the loader sets them from bpf-lb-map-max. */
#define LB_MAP_SIZE 65536
#define LB_AFFINITY_MAP_SIZE 65536

/* Entries per Maglev lookup table (Cilium's bpf-lb-maglev-table-size; a
 * prime). A smaller table than Cilium's default keeps the map small at
 * 10k services; disruption on backend changes stays within 1/M. */
#define LB_MAGLEV_SIZE 1021

/* 169.254.42.1, Cilium's IPV4_LOOPBACK, in network byte order. */
#define LB_LOOPBACK_ADDR bpf_htonl(0xa9fe2a01)

/* Backend selection, the bpf-lb-algorithm setting. */
enum {
	LB_ALG_RANDOM = 0,
	LB_ALG_MAGLEV = 1,
};

volatile const __u8 cfg_lb_algorithm = LB_ALG_RANDOM;

/* lb4_service.flags, Cilium's SVC_FLAG_*. */
#define SVC_FLAG_EXTERNAL_IP (1 << 0)
#define SVC_FLAG_NODEPORT (1 << 1)
#define SVC_FLAG_EXT_LOCAL_SCOPE (1 << 2)
#define SVC_FLAG_AFFINITY (1 << 4)
#define SVC_FLAG_LOADBALANCER (1 << 5)
#define SVC_FLAG_ROUTABLE (1 << 6)
/* lb4_service.flags2. */
#define SVC_FLAG_INT_LOCAL_SCOPE (1 << 4)

/* lb4_backend.flags: the backend's state, Cilium's BE_STATE_*. */
#define BE_STATE_ACTIVE 0
#define BE_STATE_TERMINATING 1
#define BE_STATE_QUARANTINED 2

/* lb4_key.scope. */
#define LB_LOOKUP_SCOPE_EXT 0
#define LB_LOOKUP_SCOPE_INT 1

struct lb4_key {
	__be32 address;     /* frontend address; 0.0.0.0 for NodePort */
	__be16 dport;       /* frontend port */
	__u16 backend_slot; /* 0: the service; 1..count: its backends */
	__u8 proto;
	__u8 scope;         /* LB_LOOKUP_SCOPE_* */
	__u8 pad[2];
};

struct lb4_service {
	union {
		__u32 backend_id;       /* slots 1..count */
		__u32 affinity_timeout; /* slot 0: seconds */
	};
	__u16 count;         /* slot 0: number of backend slots */
	__u16 rev_nat_index; /* the service's id */
	__u8 flags;          /* SVC_FLAG_* */
	__u8 flags2;
	__u16 qcount;        /* quarantined backends after the active ones */
};

struct lb4_backend {
	__be32 address;
	__be16 port;
	__u8 proto;
	__u8 flags; /* BE_STATE_* */
	__u16 cluster_id;
	__u8 zone;
	__u8 pad;
};

struct lb4_reverse_nat {
	__be32 address;
	__be16 port;
	__u16 pad;
};

struct lb4_affinity_key {
	__be32 client_ip;
	__u32 client_pad; /* Cilium's key holds a 64-bit netns cookie here */
	__u16 rev_nat_id;
	__u8 netns_cookie; /* always 0: keyed by client address */
	__u8 pad1;
	__u32 pad2;
};

struct lb_affinity_val {
	__u64 last_used; /* seconds of CLOCK_MONOTONIC */
	__u32 backend_id;
	__u32 pad;
};

struct lb4_maglev {
	__u32 backend_ids[LB_MAGLEV_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_key);
	__type(value, struct lb4_service);
	__uint(max_entries, LB_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_lb4_services_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb4_backend);
	__uint(max_entries, LB_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_lb4_backends_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, struct lb4_reverse_nat);
	__uint(max_entries, LB_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_lb4_reverse_nat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb4_affinity_key);
	__type(value, struct lb_affinity_val);
	__uint(max_entries, LB_AFFINITY_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_lb4_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, struct lb4_maglev);
	__uint(max_entries, LB_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_lb4_maglev SEC(".maps");

#define IP_SADDR_OFF (IP_OFF + offsetof(struct iphdr, saddr))
#define IP_DADDR_OFF (IP_OFF + offsetof(struct iphdr, daddr))
#define L4_OFF (IP_OFF + sizeof(struct iphdr))

/*
 * lb4_rewrite replaces the address at addr_off and the L4 port at port_off
 * (relative to the L4 header), fixing the IP and L4 checksums. Only packets
 * without IP options reach it (lb4_from_container checks).
 */
static __always_inline int lb4_rewrite(struct __sk_buff *ctx, __u8 proto,
				       __u32 addr_off, __be32 old_addr,
				       __be32 new_addr, __u32 port_off,
				       __be16 old_port, __be16 new_port)
{
	__u32 csum_off = 0;
	__u64 l4flags = BPF_F_PSEUDO_HDR;

	if (proto == IPPROTO_TCP) {
		csum_off = L4_OFF + offsetof(struct tcphdr, check);
	} else if (proto == IPPROTO_UDP) {
		csum_off = L4_OFF + offsetof(struct udphdr, check);
		l4flags |= BPF_F_MARK_MANGLED_0;
	}

	if (old_addr != new_addr) {
		if (bpf_l3_csum_replace(ctx, IP_CSUM_OFF, old_addr, new_addr, 4) < 0)
			return -DROP_WRITE_ERROR;
		if (csum_off &&
		    bpf_l4_csum_replace(ctx, csum_off, old_addr, new_addr, l4flags | 4) < 0)
			return -DROP_WRITE_ERROR;
		if (bpf_skb_store_bytes(ctx, addr_off, &new_addr, 4, 0) < 0)
			return -DROP_WRITE_ERROR;
	}
	if (csum_off && old_port != new_port) {
		if (bpf_l4_csum_replace(ctx, csum_off, old_port, new_port,
					(l4flags & BPF_F_MARK_MANGLED_0) | 2) < 0)
			return -DROP_WRITE_ERROR;
		if (bpf_skb_store_bytes(ctx, L4_OFF + port_off, &new_port, 2, 0) < 0)
			return -DROP_WRITE_ERROR;
	}
	return CTX_OK;
}

/* Source and destination port offsets are the same in TCP and UDP. */
#define L4_SPORT_OFF 0
#define L4_DPORT_OFF 2

static __always_inline bool lb4_has_ip_options(struct __sk_buff *ctx)
{
	__u8 vihl;

	if (bpf_skb_load_bytes(ctx, IP_OFF, &vihl, 1) < 0)
		return true;
	return (vihl & 0x0f) != 5;
}

static __always_inline __u32 lb4_hash(const struct pkt *p)
{
	/* A cheap mix of the tuple (Jenkins' one-at-a-time finaliser): the
	 * Maglev table spreads it over the backends. */
	__u32 h = p->saddr ^ (p->daddr * 0x9e3779b1);

	h ^= ((__u32)p->sport << 16 | p->dport) + p->proto;
	h += h << 10;
	h ^= h >> 6;
	h += h << 3;
	h ^= h >> 11;
	h += h << 15;
	return h;
}

static __always_inline __u32 lb4_select_backend(const struct pkt *p,
						struct lb4_key *key,
						const struct lb4_service *svc)
{
	struct lb4_service *slot;

	if (cfg_lb_algorithm == LB_ALG_MAGLEV) {
		__u16 id = svc->rev_nat_index;
		struct lb4_maglev *m = bpf_map_lookup_elem(&cilium_lb4_maglev, &id);

		if (m) {
			__u32 idx = lb4_hash(p) % LB_MAGLEV_SIZE;

			/* The verifier does not bound a modulo: bound it
			 * again where the compiler cannot drop the check. */
			asm volatile("" : "+r"(idx));
			if (idx >= LB_MAGLEV_SIZE)
				return 0;
			return m->backend_ids[idx];
		}
		/* No table yet: fall back to random slots. */
	}
	key->backend_slot = (bpf_get_prandom_u32() % svc->count) + 1;
	slot = bpf_map_lookup_elem(&cilium_lb4_services_v2, key);
	key->backend_slot = 0;
	return slot ? slot->backend_id : 0;
}

static __always_inline __u32 lb4_affinity_backend(const struct pkt *p,
						  const struct lb4_service *svc,
						  __u64 now)
{
	struct lb4_affinity_key k = {
		.client_ip = p->saddr,
		.rev_nat_id = svc->rev_nat_index,
	};
	struct lb_affinity_val *v = bpf_map_lookup_elem(&cilium_lb4_affinity, &k);

	if (!v || v->last_used + svc->affinity_timeout < now)
		return 0;
	return v->backend_id;
}

static __always_inline void lb4_affinity_update(const struct pkt *p,
						const struct lb4_service *svc,
						__u32 backend_id, __u64 now)
{
	struct lb4_affinity_key k = {
		.client_ip = p->saddr,
		.rev_nat_id = svc->rev_nat_index,
	};
	struct lb_affinity_val v = {
		.last_used = now,
		.backend_id = backend_id,
	};

	bpf_map_update_elem(&cilium_lb4_affinity, &k, &v, BPF_ANY);
}

/*
 * lb4_service_ct finds the backend a connection to a service is on, or
 * chooses one and remembers it. It returns the backend and its id, or NULL
 * when the service has none to offer.
 */
static __always_inline struct lb4_backend *
lb4_service_ct(const struct pkt *p, struct lb4_key *key,
	       const struct lb4_service *svc, __u32 *backend_id)
{
	struct ipv4_ct_tuple tuple = {
		.daddr = p->daddr,
		.saddr = p->saddr,
		.dport = p->dport,
		.sport = p->sport,
		.nexthdr = p->proto,
		.flags = TUPLE_F_SERVICE,
	};
	void *map = ct_map(p->proto);
	__u32 now = mono_sec();
	struct lb4_backend *be = NULL;
	struct ct_entry *e;
	__u32 id = 0;
	__u32 lifetime;

	lifetime = p->proto != IPPROTO_TCP ? CT_LIFETIME_NONTCP :
		   (p->tcp_flags & TCP_FLAG_SYN) ? CT_LIFETIME_SYN :
						   CT_LIFETIME_TCP;

	e = bpf_map_lookup_elem(map, &tuple);
	if (e && e->lifetime >= now) {
		id = e->backend_id;
		be = bpf_map_lookup_elem(&cilium_lb4_backends_v3, &id);
		if (be) {
			/* Keep the entry as long as the connection. */
			if (e->lifetime < now + lifetime)
				e->lifetime = now + lifetime;
			*backend_id = id;
			return be;
		}
		/* The backend went away: choose again. */
	}

	if (svc->flags & SVC_FLAG_AFFINITY) {
		id = lb4_affinity_backend(p, svc, now);
		if (id)
			be = bpf_map_lookup_elem(&cilium_lb4_backends_v3, &id);
	}
	if (!be) {
		id = lb4_select_backend(p, key, svc);
		if (!id)
			return NULL;
		be = bpf_map_lookup_elem(&cilium_lb4_backends_v3, &id);
		if (!be)
			return NULL;
	}
	if (svc->flags & SVC_FLAG_AFFINITY)
		lb4_affinity_update(p, svc, id, now);

	{
		struct ct_entry entry = {
			.backend_id = id,
			.rev_nat_index = svc->rev_nat_index,
			.lifetime = now + lifetime,
		};

		if (bpf_map_update_elem(map, &tuple, &entry, BPF_ANY) < 0)
			return NULL;
	}
	*backend_id = id;
	return be;
}

/*
 * lb4_reject turns the packet into an ICMP port unreachable from the
 * frontend to the client and sends it back: into the client's namespace
 * (peer, ifindex the client's node-side veth) or out of the device it came
 * in on. It returns a TC action.
 */
static __always_inline int lb4_reject(struct __sk_buff *ctx, const struct pkt *p,
				      __u32 ifindex, bool peer)
{
	struct ethhdr eth;
	struct {
		struct iphdr ip;
		struct icmp4hdr icmp;
		__u8 orig[28]; /* the offending IP header and 8 bytes of L4 */
	} r = {};
	__s64 csum;

	_Static_assert(sizeof(r) == 56, "ICMP error without padding");

	if (bpf_skb_load_bytes(ctx, 0, &eth, sizeof(eth)) < 0 ||
	    bpf_skb_load_bytes(ctx, IP_OFF, r.orig, sizeof(r.orig)) < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_change_tail(ctx, ETH_HLEN + sizeof(r), 0) < 0)
		return TC_ACT_SHOT;

	r.ip.version = 4;
	r.ip.ihl = 5;
	r.ip.tot_len = bpf_htons(sizeof(r));
	r.ip.ttl = 64;
	r.ip.protocol = IPPROTO_ICMP;
	r.ip.saddr = p->daddr;
	r.ip.daddr = p->saddr;
	r.icmp.type = 3; /* destination unreachable */
	r.icmp.code = 3; /* port unreachable */

	csum = bpf_csum_diff(NULL, 0, (__be32 *)&r.icmp, sizeof(r.icmp) + sizeof(r.orig), 0);
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	r.icmp.checksum = ~csum;
	csum = bpf_csum_diff(NULL, 0, (__be32 *)&r.ip, sizeof(r.ip), 0);
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	r.ip.check = ~csum;

	{
		__u8 mac[ETH_ALEN];

		__builtin_memcpy(mac, eth.h_dest, ETH_ALEN);
		__builtin_memcpy(eth.h_dest, eth.h_source, ETH_ALEN);
		__builtin_memcpy(eth.h_source, mac, ETH_ALEN);
	}
	if (bpf_skb_store_bytes(ctx, 0, &eth, sizeof(eth), 0) < 0 ||
	    bpf_skb_store_bytes(ctx, IP_OFF, &r, sizeof(r), 0) < 0)
		return TC_ACT_SHOT;
	if (peer)
		return bpf_redirect_peer(ifindex, 0);
	return bpf_redirect(ifindex, 0);
}

/*
 * lb4_from_container translates a packet to a frontend into one to a
 * backend: p->daddr, p->dport and the packet are rewritten, p->rev_nat_index
 * is set. Packets to anything else pass untouched. It returns CTX_OK, a
 * negative drop reason, or -DROP_NO_SERVICE for a frontend without
 * backends, which the caller rejects with lb4_reject.
 */
static __always_inline int lb4_from_container(struct __sk_buff *ctx, struct pkt *p)
{
	struct lb4_key key = {
		.address = p->daddr,
		.dport = p->dport,
		.proto = p->proto,
		.scope = LB_LOOKUP_SCOPE_EXT,
	};
	struct lb4_service *svc;
	struct lb4_backend *be;
	__u32 backend_id = 0;
	__be32 saddr;
	int ret;

	if (p->fragment || (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP))
		return CTX_OK;
	svc = bpf_map_lookup_elem(&cilium_lb4_services_v2, &key);
	if (!svc)
		return CTX_OK;
	if (svc->flags & SVC_FLAG_NODEPORT)
		return CTX_OK;
	if (lb4_has_ip_options(ctx))
		return -DROP_INVALID;
	if (svc->count == 0)
		return -DROP_NO_SERVICE;

	be = lb4_service_ct(p, &key, svc, &backend_id);
	if (!be)
		return -DROP_NO_SERVICE;

	/* Hairpin: the client is the backend. */
	saddr = p->saddr;
	if (be->address == p->saddr) {
		saddr = LB_LOOPBACK_ADDR;
		ret = lb4_rewrite(ctx, p->proto, IP_SADDR_OFF, p->saddr, saddr,
				  L4_SPORT_OFF, p->sport, p->sport);
		if (ret < 0)
			return ret;
	}
	ret = lb4_rewrite(ctx, p->proto, IP_DADDR_OFF, p->daddr, be->address,
			  L4_DPORT_OFF, p->dport, be->port);
	if (ret < 0)
		return ret;
	p->saddr = saddr;
	p->daddr = be->address;
	p->dport = be->port;
	p->rev_nat_index = svc->rev_nat_index;
	return CTX_OK;
}

/*
 * lb4_hairpin_dest is the endpoint a packet to LB_LOOPBACK_ADDR goes to: the
 * sender itself, answering a connection it made to its own service.
 */
static __always_inline bool lb4_is_hairpin_reply(const struct pkt *p)
{
	return p->daddr == LB_LOOPBACK_ADDR;
}

/*
 * lb4_rev_nat translates a reply of a service connection back, just
 * before it reaches the client: the source becomes the frontend, and a
 * hairpin reply's destination the client's own address again.
 */
static __always_inline int lb4_rev_nat(struct __sk_buff *ctx, struct pkt *p,
				       __u16 rev_nat_index)
{
	struct lb4_reverse_nat *nat;
	__be32 client = p->daddr;
	int ret;

	if (!rev_nat_index || p->fragment ||
	    (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP))
		return CTX_OK;
	nat = bpf_map_lookup_elem(&cilium_lb4_reverse_nat, &rev_nat_index);
	if (!nat)
		return CTX_OK;
	if (lb4_has_ip_options(ctx))
		return -DROP_INVALID;
	if (client == LB_LOOPBACK_ADDR) {
		client = p->saddr;
		ret = lb4_rewrite(ctx, p->proto, IP_DADDR_OFF, p->daddr, client,
				  L4_DPORT_OFF, p->dport, p->dport);
		if (ret < 0)
			return ret;
	}
	ret = lb4_rewrite(ctx, p->proto, IP_SADDR_OFF, p->saddr, nat->address,
			  L4_SPORT_OFF, p->sport, nat->port);
	if (ret < 0)
		return ret;
	p->daddr = client;
	p->saddr = nat->address;
	p->sport = nat->port;
	return CTX_OK;
}

#endif /* HIVENET_LB_H */
