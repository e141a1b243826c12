/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load-time configuration. The loader rewrites these read-only globals
 * before the programs are loaded, so the verifier sees constants and dead
 * branches cost nothing. Changing them takes a reload, which a restarting
 * agent does anyway (it swaps the programs of its pinned links).
 */
#ifndef HIVENET_CONFIG_H
#define HIVENET_CONFIG_H

#include "common.h"

/* Monitor aggregation levels, named as Cilium's --monitor-aggregation. */
enum {
	AGG_NONE = 0,    /* an event for every packet */
	AGG_LOW = 1,     /* start, end, drops, first of every TCP flag, interval */
	AGG_MEDIUM = 2,  /* start, end, drops, first SYN/FIN/RST, interval */
	AGG_MAXIMUM = 3, /* start, end, drops */
};

volatile const __u8 cfg_monitor_aggregation = AGG_MEDIUM;

/* Seconds between periodic reports of one connection direction; 0 turns
 * periodic reports off. */
volatile const __u32 cfg_monitor_interval_sec = 5;

/* Report 1 in cfg_events_sample_rate of the packets that aggregation would
 * not report; 0 turns sampling off. */
volatile const __u32 cfg_events_sample_rate = 0;

/* Bytes of flow events waiting in the ring buffer before a program wakes
 * the reader; the reader polls at a fixed interval for fewer. */
volatile const __u32 cfg_flow_wakeup_bytes = 32768;

#endif /* HIVENET_CONFIG_H */
