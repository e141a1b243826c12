//go:build ignore

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Programs of the node's external device (the one outside clients reach
 * the node through): NodePort, LoadBalancer and external IP translation
 * (lib/nodeport.h). They share the load-balancer and conntrack maps with
 * bpf_lxc.c through their pins.
 */
#include "lib/common.h"
#include "lib/conntrack.h"
#include "lib/drop.h"
#include "lib/endpoints.h"
#include "lib/lb.h"
#include "lib/nodeport.h"
#include "lib/parse.h"

char __license[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int cil_from_netdev(struct __sk_buff *ctx)
{
	struct pkt p = {};
	int ret;

	ret = parse_ipv4(ctx, &p);
	if (ret == PARSE_NOT_IPV4 || ret < 0)
		return TC_ACT_OK;
	ret = nodeport_snat_reply(ctx, &p);
	if (ret < 0)
		return TC_ACT_SHOT;
	if (ret > 0)
		return TC_ACT_OK;
	ret = nodeport_from_netdev(ctx, &p);
	if (ret == -DROP_NO_SERVICE)
		return lb4_reject(ctx, &p, ctx->ifindex, false);
	if (ret < 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc")
int cil_to_netdev(struct __sk_buff *ctx)
{
	struct pkt p = {};
	int ret;

	ret = parse_ipv4(ctx, &p);
	if (ret == PARSE_NOT_IPV4 || ret < 0)
		return TC_ACT_OK;
	if (nodeport_rev_nat(ctx, &p) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}
