/*
 * load_sub: the counting subscriber of the load benchmark, run in a process
 * of its own (its CPU is measured apart from the generator's). One TLS MQTT
 * 5 session with a vendor role certificate, subscribed with QoS 1 to the
 * snapshot filter; it counts each stamped message (tests/bench/load_msg.h)
 * under its step, once per device and sequence number (duplicates are
 * counted apart), with its latency from publish to arrival.
 *
 * Protocol on two pipes, one line each way:
 *   -> "ready" once subscribed, or "error <why>" (then it exits 1)
 *   <- "step K SENT"   the generator published SENT messages of step K;
 *   -> "result K RECEIVED DUPLICATES LATE P50_MS P99_MS MAX_MS"
 *      as soon as RECEIVED reaches SENT, or late_ms after the request
 *      (whatever is missing then counts as lost). LATE: latency > late_ms.
 *   <- "quit"          disconnect and return 0
 */
#ifndef SMS_LOAD_SUB_H
#define SMS_LOAD_SUB_H

#include <stddef.h>

#define LOAD_SUB_MAX_STEPS 64

struct load_sub_cfg {
	const char *host, *cafile, *cert, *key, *client_id, *filter;
	int port;
	size_t max_devices; /* device indices in stamps are below this */
	int late_ms;
};

/* Runs until "quit" on cmd_fd (or its end); returns the exit status. */
int load_sub_run(const struct load_sub_cfg *cfg, int cmd_fd, int rep_fd);

#endif
