//go:build ignore

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Programs of the node-side veth of an endpoint (lxc*):
 *
 *   cil_from_container  tc ingress: packets the endpoint sends
 *   cil_to_container    tc egress: packets the kernel hands to the endpoint
 *
 * One pair of programs serves every endpoint; an endpoint is found by its
 * address in cilium_lxc. A packet from one endpoint to another on the same
 * node does not go through the kernel's routing: from-container runs the
 * destination's ingress side itself (ipv4_to_endpoint) and redirects the
 * packet into the destination's namespace with bpf_redirect_peer, as
 * Cilium does. to-container therefore only sees traffic the kernel routed:
 * from the node, from outside, from endpoints whose packets it had to handle
 * (fragments, expiring TTL).
 *
 * The stages of each direction, in order; the later issues add theirs at
 * the places marked "stage:":
 *
 *   from-container: parse -> source check -> service translation ->
 *                   conntrack (egress) -> egress policy -> flow event ->
 *                   local delivery or the kernel
 *   ipv4_to_endpoint: conntrack (ingress) -> reverse NAT of service
 *                     replies -> ingress policy -> flow event
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/conntrack.h"
#include "lib/drop.h"
#include "lib/endpoints.h"
#include "lib/flow.h"
#include "lib/ipcache.h"
#include "lib/l3.h"
#include "lib/lb.h"
#include "lib/parse.h"
#include "lib/policy.h"

char __license[] SEC("license") = "Dual BSD/GPL";

/* drop reports a dropped packet (always, whatever the aggregation) and
 * tells the kernel to drop it. */
static __always_inline int drop(const struct pkt *p, __u32 ifindex,
				__u8 obs_point, __u8 direction, int reason)
{
	flow_emit(p, ifindex, obs_point, direction, CT_NEW, FLOW_REASON_DROP,
		  reason);
	return TC_ACT_SHOT;
}

static __always_inline void identify_destination(struct pkt *p,
						 const struct endpoint_info *ep)
{
	if (ep) {
		p->dst_ep_id = ep->lxc_id;
		p->dst_identity = ep->sec_id;
	}
}

/*
 * ipv4_to_endpoint is the ingress side of the endpoint behind ifindex. It
 * returns CTX_OK when the packet may be delivered, or a negative drop
 * reason.
 */
static __always_inline int ipv4_to_endpoint(struct __sk_buff *ctx,
					    struct pkt *p, __u32 ifindex)
{
	struct ct_result ct = {};
	__u8 reason;
	int ret;

	ret = ct_lookup4(p, CT_INGRESS, ifindex, p->src_identity, &ct);
	if (ret < 0)
		return ret;

	/* Replies of service connections reach the client translated back. */
	if (ct.status == CT_REPLY && (ret = lb4_rev_nat(ctx, p, ct.rev_nat_index)) < 0)
		return ret;

	/* Ingress policy of the destination endpoint, by p->src_identity,
	 * for CT_NEW and CT_ESTABLISHED; replies pass (lib/policy.h). */
	if (ct.status != CT_REPLY &&
	    (ret = policy_verdict(p, p->dst_ep_id, p->src_identity, 0, p->len)) < 0)
		return ret;

	reason = flow_reason(ct.report, 0);
	if (reason)
		flow_emit(p, ifindex, OBS_TO_ENDPOINT, DIR_INGRESS, ct.status,
			  reason, 0);
	return CTX_OK;
}

static __always_inline int local_delivery(struct __sk_buff *ctx, struct pkt *p,
					  const struct endpoint_info *ep)
{
	int ret;

	ret = ipv4_to_endpoint(ctx, p, ep->ifindex);
	if (ret < 0)
		return drop(p, ep->ifindex, OBS_TO_ENDPOINT, DIR_INGRESS, ret);

	if (p->ttl <= 1)
		return TC_ACT_OK;
	ret = ipv4_l3_forward(ctx, ep);
	if (ret < 0)
		return drop(p, ep->ifindex, OBS_TO_ENDPOINT, DIR_INGRESS, ret);
	return bpf_redirect_peer(ep->ifindex, 0);
}

SEC("tc")
int cil_from_container(struct __sk_buff *ctx)
{
	__u32 ifindex = ctx->ifindex;
	struct ct_result ct = {};
	struct endpoint_info *src, *dst;
	struct pkt p = {};
	__u8 reason;
	int ret;

	ret = parse_ipv4(ctx, &p);
	if (ret == PARSE_NOT_IPV4)
		return TC_ACT_OK;
	if (ret < 0)
		return drop(&p, ifindex, OBS_FROM_ENDPOINT, DIR_EGRESS, ret);

	/* An endpoint may only send from its own address. */
	src = lookup_endpoint4(p.saddr);
	if (!src || src->ifindex != ifindex)
		return drop(&p, ifindex, OBS_FROM_ENDPOINT, DIR_EGRESS,
			    -DROP_INVALID_SIP);
	p.src_ep_id = src->lxc_id;
	p.src_identity = src->sec_id;

	/* Service translation: may rewrite p.daddr and p.dport to a backend
	 * and set p.rev_nat_index, before conntrack so the entry holds the
	 * backend. A frontend without backends is rejected (lib/lb.h). */
	ret = lb4_from_container(ctx, &p);
	if (ret == -DROP_NO_SERVICE)
		return drop(&p, ifindex, OBS_FROM_ENDPOINT, DIR_EGRESS, ret), lb4_reject(ctx, &p, ifindex, true);
	if (ret < 0)
		return drop(&p, ifindex, OBS_FROM_ENDPOINT, DIR_EGRESS, ret);

	/* A hairpin reply goes back to its sender (lib/lb.h). */
	dst = lb4_is_hairpin_reply(&p) ? src : lookup_endpoint4(p.daddr);
	identify_destination(&p, dst);

	/* Fragments carry no ports to track; the kernel reassembles or
	 * forwards them. */
	if (p.fragment) {
		reason = flow_reason(CT_REPORT_NONE, 0);
		if (reason)
			flow_emit(&p, ifindex, OBS_FROM_ENDPOINT, DIR_EGRESS,
				  CT_NEW, reason, 0);
		return TC_ACT_OK;
	}

	ret = ct_lookup4(&p, CT_EGRESS, ifindex, p.src_identity, &ct);
	if (ret < 0)
		return drop(&p, ifindex, OBS_FROM_ENDPOINT, DIR_EGRESS, ret);

	/* Egress policy of the source endpoint, for CT_NEW and
	 * CT_ESTABLISHED, against the destination's identity (the ipcache's
	 * for addresses that are not local endpoints). */
	if (!dst)
		p.dst_identity = ipcache_identity4(p.daddr);
	if (ct.status != CT_REPLY &&
	    (ret = policy_verdict(&p, p.src_ep_id, p.dst_identity, 1, p.len)) < 0)
		return drop(&p, ifindex, OBS_FROM_ENDPOINT, DIR_EGRESS, ret);

	/* stage: masquerade and egress gateway steering for destinations
	 * outside the cluster. */

	reason = flow_reason(ct.report, 0);
	if (reason)
		flow_emit(&p, ifindex, OBS_FROM_ENDPOINT, DIR_EGRESS, ct.status,
			  reason, 0);

	if (dst && !(dst->flags & ENDPOINT_F_HOST))
		return local_delivery(ctx, &p, dst);
	return TC_ACT_OK;
}

SEC("tc")
int cil_to_container(struct __sk_buff *ctx)
{
	__u32 ifindex = ctx->ifindex;
	struct endpoint_info *src;
	struct pkt p = {};
	int ret;

	ret = parse_ipv4(ctx, &p);
	if (ret == PARSE_NOT_IPV4)
		return TC_ACT_OK;
	if (ret < 0)
		return drop(&p, ifindex, OBS_TO_ENDPOINT, DIR_INGRESS, ret);

	src = lookup_endpoint4(p.saddr);
	if (src) {
		p.src_ep_id = src->lxc_id;
		p.src_identity = src->sec_id;
	} else {
		/* Another node's pod, the node, the world (lib/ipcache.h). */
		p.src_identity = ipcache_identity4(p.saddr);
	}
	identify_destination(&p, lookup_endpoint4(p.daddr));

	if (p.fragment) {
		__u8 reason = flow_reason(CT_REPORT_NONE, 0);

		if (reason)
			flow_emit(&p, ifindex, OBS_TO_ENDPOINT, DIR_INGRESS,
				  CT_NEW, reason, 0);
		return TC_ACT_OK;
	}

	ret = ipv4_to_endpoint(ctx, &p, ifindex);
	if (ret < 0)
		return drop(&p, ifindex, OBS_TO_ENDPOINT, DIR_INGRESS, ret);
	return TC_ACT_OK;
}
