/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drop reasons, numbered as Cilium numbers them (bpf/lib/common.h there,
 * pkg/monitor/api/drop.go for the text), so tooling that knows Cilium's
 * numbers reads hivenet's drop events the same way. Stages return them
 * negated; events carry them positive.
 */
#ifndef HIVENET_DROP_H
#define HIVENET_DROP_H

#define DROP_INVALID_SIP 132        /* source IP is not the sending endpoint's */
#define DROP_POLICY 133             /* policy denied (issue 8) */
#define DROP_INVALID 134            /* malformed packet */
#define DROP_CT_INVALID_HDR 135     /* truncated or invalid L4 header */
#define DROP_WRITE_ERROR 141        /* a packet rewrite failed */
#define DROP_CT_CREATE_FAILED 155   /* conntrack entry could not be created */
#define DROP_NO_SERVICE 158         /* service without backends (rejected) */
#define DROP_POLICY_DENY 181        /* denied by a deny rule (issue 8) */

#endif /* HIVENET_DROP_H */
