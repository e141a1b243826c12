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
 * The client's address is kept (no SNAT), so the backend sees it, as
 * externalTrafficPolicy: Local promises; a backend on another node is
 * therefore not reachable through this node (its replies would not come
 * back here) and the derivation gives these frontends local backends.
 */
#ifndef HIVENET_NODEPORT_H
#define HIVENET_NODEPORT_H

#include "common.h"
#include "conntrack.h"
#include "lb.h"

/* The node's address on the external device, set by the loader: NodePort
 * frontends (0.0.0.0:<port>) answer on it. */
volatile const __be32 cfg_node_ipv4 = 0;

#define TUPLE_F_NODEPORT (TUPLE_F_SERVICE | TUPLE_F_IN)

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
