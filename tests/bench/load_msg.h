/*
 * load_msg: the stamp the load generator writes over the first bytes of
 * every payload it publishes, and the counting subscriber reads back: which
 * step of the run, which device, the device's sequence number (from 1) and
 * when it was handed to libmosquitto (CLOCK_MONOTONIC nanoseconds: one clock
 * for every process on the machine). The rest of the payload is opaque.
 */
#ifndef SMS_LOAD_MSG_H
#define SMS_LOAD_MSG_H

#include <stddef.h>
#include <stdint.h>

#define LOAD_MSG_STAMP_LEN 32

struct load_msg_stamp {
	uint32_t step, device;
	uint64_t seq;
	int64_t sent_ns;
};

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t load_msg_now_ns(void);
/* Writes the stamp over buf[0 .. LOAD_MSG_STAMP_LEN); len must be >= that. */
void load_msg_stamp(unsigned char *buf, const struct load_msg_stamp *s);
/* 0 and the stamp, or -1 when the payload carries none. */
int load_msg_read(const void *payload, size_t len, struct load_msg_stamp *s);

#endif
