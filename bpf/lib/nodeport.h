/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NodePort, LoadBalancer and external IP translation for traffic from
 * outside the node, on the node's external device:
 *
 *   cil_from_netdev (tc ingress): a packet to a LoadBalancer or external IP
 *     frontend, or to the node's address and a NodePort, is DNATed to a
 *     backend chosen as from-container would (service conntrack, affinity,
 *     random or Maglev), and a NodePort conntrack entry (tuple flags
 *     TUPLE_F_SERVICE | TUPLE_F_IN, client -> backend) remembers the
 *     frontend. The kernel then routes the packet to the backend's veth.
 *   cil_to_netdev (tc egress): a reply leaving for the client is
 *     translated back to the frontend the client used.
 *
 * A local backend sees the client's address. A backend on another node
 * (externalTrafficPolicy: Cluster) gets the connection from the node's
 * address instead, with the client's source port, so that its replies come
 * back here: an entry keyed by the reply's tuple (flags TUPLE_F_NODEPORT_SNAT)
 * holds the client's address and port in ct_entry.reserved0, and the reply
 * is translated back on the way in and forwarded to the client. Two
 * clients using the same source port towards the same remote backend at
 * the same time would share that entry; Cilium avoids it with a NAT map
 * and port allocation, which hivenet does not have yet. The agent sets
 * accept_local on the device, since both directions carry the node's own
 * address as source when the kernel forwards them.
 */
#ifndef HIVENET_NODEPORT_H
#define HIVENET_NODEPORT_H

#include "common.h"
#include "conntrack.h"
#include "endpoints.h"
#include "lb.h"

/* The node's address on the external device, set by the loader: NodePort
 * frontends (0.0.0.0:<port>) answer on it. */
volatile const __be32 cfg_node_ipv4 = 0;

#define TUPLE_F_NODEPORT (TUPLE_F_SERVICE | TUPLE_F_IN)
#define TUPLE_F_NODEPORT_SNAT (TUPLE_F_SERVICE | TUPLE_F_RELATED)

static __always_inline struct lb4_service *nodeport_lookup(const struct pkt *p,
							   struct lb4_key *key)
{
	struct lb4_service *svc;

	svc = bpf_map_lookup_elem(&cilium_lb4_services_v2, key);
	if (svc && (svc->flags & (SVC_FLAG_EXTERNAL_IP | SVC_FLAG_LOADBALANCER)))
		return svc;
	if (p->daddr != cfg_node_ipv4)
		return NULL;
	key->address = 0;
	svc = bpf_map_lookup_elem(&cilium_lb4_services_v2, key);
	if (svc && (svc->flags & SVC_FLAG_NODEPORT))
		return svc;
	return NULL;
}

static __always_inline int nodeport_ct(const struct pkt *p, __u16 rev_nat_index)
{
	struct ipv4_ct_tuple tuple = {
		.daddr = p->daddr,
		.saddr = p->saddr,
		.dport = p->dport,
		.sport = p->sport,
		.nexthdr = p->proto,
		.flags = TUPLE_F_NODEPORT,
	};
	struct ct_entry entry = {
		.rev_nat_index = rev_nat_index,
		.flags = CT_F_NODE_PORT,
		.lifetime = mono_sec() + (p->proto == IPPROTO_TCP ? CT_LIFETIME_TCP : CT_LIFETIME_NONTCP),
	};
	struct ct_entry *e = bpf_map_lookup_elem(ct_map(p->proto), &tuple);

	if (e && e->rev_nat_index == rev_nat_index) {
		if (e->lifetime != entry.lifetime)
			e->lifetime = entry.lifetime;
		return CTX_OK;
	}
	if (bpf_map_update_elem(ct_map(p->proto), &tuple, &entry, BPF_ANY) < 0)
		return -DROP_CT_CREATE_FAILED;
	return CTX_OK;
}

/* nodeport_snat makes the node the source of a connection to a remote
 * backend, remembering the client for the replies. */
static __always_inline int nodeport_snat(struct __sk_buff *ctx, struct pkt *p,
					 __u16 rev_nat_index)
{
	struct ipv4_ct_tuple tuple = {
		.saddr = p->daddr,
		.daddr = cfg_node_ipv4,
		.sport = p->dport,
		.dport = p->sport,
		.nexthdr = p->proto,
		.flags = TUPLE_F_NODEPORT_SNAT,
	};
	struct ct_entry entry = {
		.reserved0 = (__u64)p->saddr | (__u64)p->sport << 32,
		.rev_nat_index = rev_nat_index,
		.flags = CT_F_NODE_PORT,
		.lifetime = mono_sec() + (p->proto == IPPROTO_TCP ? CT_LIFETIME_TCP : CT_LIFETIME_NONTCP),
	};
	struct ct_entry *e = bpf_map_lookup_elem(ct_map(p->proto), &tuple);
	int ret;

	if (!e || e->reserved0 != entry.reserved0 || e->rev_nat_index != rev_nat_index) {
		if (bpf_map_update_elem(ct_map(p->proto), &tuple, &entry, BPF_ANY) < 0)
			return -DROP_CT_CREATE_FAILED;
	} else if (e->lifetime != entry.lifetime) {
		e->lifetime = entry.lifetime;
	}
	ret = lb4_rewrite(ctx, p->proto, IP_SADDR_OFF, p->saddr, cfg_node_ipv4,
			  L4_SPORT_OFF, p->sport, p->sport);
	if (ret < 0)
		return ret;
	p->saddr = cfg_node_ipv4;
	return CTX_OK;
}

/* nodeport_snat_reply translates a remote backend's reply back to the
 * client; it returns 1 if the packet was one, 0 if not, or a negative drop
 * reason. */
static __always_inline int nodeport_snat_reply(struct __sk_buff *ctx, struct pkt *p)
{
	struct ipv4_ct_tuple tuple = {
		.saddr = p->saddr,
		.daddr = p->daddr,
		.sport = p->sport,
		.dport = p->dport,
		.nexthdr = p->proto,
		.flags = TUPLE_F_NODEPORT_SNAT,
	};
	struct lb4_reverse_nat *nat;
	struct ct_entry *e;
	__be32 client, fe;
	__be16 client_port;
	int ret;

	if (p->fragment || p->daddr != cfg_node_ipv4 ||
	    (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP))
		return 0;
	e = bpf_map_lookup_elem(ct_map(p->proto), &tuple);
	if (!e)
		return 0;
	{
		__u16 id = e->rev_nat_index;

		nat = bpf_map_lookup_elem(&cilium_lb4_reverse_nat, &id);
	}
	if (!nat)
		return 0;
	if (lb4_has_ip_options(ctx))
		return -DROP_INVALID;
	client = (__be32)e->reserved0;
	client_port = (__be16)(e->reserved0 >> 32);
	fe = nat->address ? nat->address : cfg_node_ipv4;
	ret = lb4_rewrite(ctx, p->proto, IP_DADDR_OFF, p->daddr, client,
			  L4_DPORT_OFF, p->dport, client_port);
	if (ret < 0)
		return ret;
	ret = lb4_rewrite(ctx, p->proto, IP_SADDR_OFF, p->saddr, fe,
			  L4_SPORT_OFF, p->sport, nat->port);
	if (ret < 0)
		return ret;
	return 1;
}

/*
 * nodeport_from_netdev translates a packet from outside to a frontend.
 * It returns CTX_OK (translated or not a frontend), -DROP_NO_SERVICE for a
 * frontend without backends, or another negative drop reason.
 */
static __always_inline int nodeport_from_netdev(struct __sk_buff *ctx, struct pkt *p)
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
	int ret;

	if (p->fragment || (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP))
		return CTX_OK;
	svc = nodeport_lookup(p, &key);
	if (!svc)
		return CTX_OK;
	if (lb4_has_ip_options(ctx))
		return -DROP_INVALID;
	if (svc->count == 0)
		return -DROP_NO_SERVICE;
	be = lb4_service_ct(p, &key, svc, &backend_id);
	if (!be)
		return -DROP_NO_SERVICE;
	ret = lb4_rewrite(ctx, p->proto, IP_DADDR_OFF, p->daddr, be->address,
			  L4_DPORT_OFF, p->dport, be->port);
	if (ret < 0)
		return ret;
	p->daddr = be->address;
	p->dport = be->port;
	p->rev_nat_index = svc->rev_nat_index;
	if (!(svc->flags & SVC_FLAG_EXT_LOCAL_SCOPE) && !lookup_endpoint4(be->address))
		return nodeport_snat(ctx, p, svc->rev_nat_index);
	return nodeport_ct(p, svc->rev_nat_index);
}

/* nodeport_rev_nat translates a reply leaving for an outside client. */
static __always_inline int nodeport_rev_nat(struct __sk_buff *ctx, struct pkt *p)
{
	struct ipv4_ct_tuple tuple = {
		.daddr = p->saddr,
		.saddr = p->daddr,
		.dport = p->sport,
		.sport = p->dport,
		.nexthdr = p->proto,
		.flags = TUPLE_F_NODEPORT,
	};
	struct lb4_reverse_nat *nat;
	struct ct_entry *e;
	__be32 addr;

	if (p->fragment || (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP))
		return CTX_OK;
	e = bpf_map_lookup_elem(ct_map(p->proto), &tuple);
	if (!e || !e->rev_nat_index)
		return CTX_OK;
	{
		__u16 id = e->rev_nat_index;

		nat = bpf_map_lookup_elem(&cilium_lb4_reverse_nat, &id);
	}
	if (!nat)
		return CTX_OK;
	if (lb4_has_ip_options(ctx))
		return -DROP_INVALID;
	addr = nat->address ? nat->address : cfg_node_ipv4;
	return lb4_rewrite(ctx, p->proto, IP_SADDR_OFF, p->saddr, addr,
			   L4_SPORT_OFF, p->sport, nat->port);
}

#endif /* HIVENET_NODEPORT_H */
