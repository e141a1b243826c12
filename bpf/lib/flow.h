/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow events: one struct flow_event per reported packet, written to the
 * hivenet_flows ring buffer and read by the agent (bpf.FlowReader in Go).
 *
 * Writing an event per packet halves throughput, so the programs report a
 * packet only when conntrack says the connection started, ended, saw a new
 * TCP flag or is due for its periodic report, when the packet is dropped, or
 * when it is sampled (see config.h); monitor-aggregation=none reports all.
 */
#ifndef HIVENET_FLOW_H
#define HIVENET_FLOW_H

#include "common.h"
#include "config.h"
#include "conntrack.h"

#define FLOW_RINGBUF_SIZE (1 << 20)

/* Verdicts, numbered as Hubble's Verdict. */
enum {
	VERDICT_FORWARDED = 1,
	VERDICT_DROPPED = 2,
};

/* Observation points, numbered as Hubble's TraceObservationPoint. */
enum {
	OBS_TO_STACK = 3,
	OBS_FROM_ENDPOINT = 5,
	OBS_TO_ENDPOINT = 101,
};

/* Why the event was emitted: ct_report values, then these. */
enum {
	FLOW_REASON_DROP = 16,
	FLOW_REASON_SAMPLE = 17,
	FLOW_REASON_ALL = 18, /* monitor-aggregation=none */
};

struct flow_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 ifindex;
	__u32 src_identity;
	__u32 dst_identity;
	__u32 len;
	__u16 src_ep_id;
	__u16 dst_ep_id;
	__u8 proto;
	__u8 tcp_flags;
	__u8 verdict;      /* VERDICT_* */
	__u8 drop_reason;  /* DROP_*, 0 unless dropped */
	__u8 obs_point;    /* OBS_* */
	__u8 direction;    /* DIR_* */
	__u8 ct_status;    /* enum ct_status */
	__u8 reason;       /* enum ct_report or FLOW_REASON_* */
	__u8 icmp_type;
	__u8 icmp_code;
	__u16 pad;
};

/* Anchors struct flow_event in BTF, where bpf2go finds it to generate the
 * Go type; nothing reads it. */
const struct flow_event *const flow_event_btf_anchor __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FLOW_RINGBUF_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hivenet_flows SEC(".maps");

/* Events lost because the ring buffer was full, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hivenet_flows_lost SEC(".maps");

/*
 * flow_reason decides whether a packet is reported and why: 0 means no
 * event. ct_report is what conntrack said, drop a drop reason or 0.
 */
static __always_inline __u8 flow_reason(enum ct_report ct_report, int drop)
{
	if (drop)
		return FLOW_REASON_DROP;
	if (cfg_monitor_aggregation == AGG_NONE)
		return FLOW_REASON_ALL;
	if (ct_report != CT_REPORT_NONE)
		return ct_report;
	if (cfg_events_sample_rate &&
	    bpf_get_prandom_u32() % cfg_events_sample_rate == 0)
		return FLOW_REASON_SAMPLE;
	return 0;
}

static __always_inline void flow_emit(const struct pkt *p, __u32 ifindex,
				      __u8 obs_point, __u8 direction,
				      __u8 ct_status, __u8 reason, int drop)
{
	struct flow_event ev = {
		.ts_ns = bpf_ktime_get_ns(),
		.saddr = p->saddr,
		.daddr = p->daddr,
		.sport = p->sport,
		.dport = p->dport,
		.ifindex = ifindex,
		.src_identity = p->src_identity,
		.dst_identity = p->dst_identity,
		.len = p->len,
		.src_ep_id = p->src_ep_id,
		.dst_ep_id = p->dst_ep_id,
		.proto = p->proto,
		.tcp_flags = p->tcp_flags,
		.verdict = drop ? VERDICT_DROPPED : VERDICT_FORWARDED,
		.drop_reason = drop < 0 ? -drop : drop,
		.obs_point = obs_point,
		.direction = direction,
		.ct_status = ct_status,
		.reason = reason,
		.icmp_type = p->icmp_type,
		.icmp_code = p->icmp_code,
	};

	/* Waking the reader for every event costs more than writing it:
	 * wake it only once a batch has piled up; it polls for the rest. */
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&hivenet_flows, BPF_RB_AVAIL_DATA) >= cfg_flow_wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;

	if (bpf_ringbuf_output(&hivenet_flows, &ev, sizeof(ev), flags) < 0) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&hivenet_flows_lost, &zero);

		if (lost)
			*lost += 1;
	}
}

#endif /* HIVENET_FLOW_H */
