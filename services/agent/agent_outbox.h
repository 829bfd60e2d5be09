/*
 * The agent's durable outbox (DESIGN.md "Receipts"): one file per accepted
 * snapshot, holding the CMS payload exactly as it is published, named
 * "<created, hex ns since the epoch>-<hex SHA-256 of the payload>.cms", so
 * names sort oldest first and every entry carries its own integrity check.
 *
 * - outbox_add writes a temporary file, fsyncs it, renames it into place and
 *   fsyncs the directory: only after it returned 0 does a snapshot count as
 *   accepted. A full disk (ENOSPC, EDQUOT) gives OUTBOX_NO_SPACE and leaves
 *   the outbox as it was.
 * - Bounds (entries, bytes, age): to make room for a new entry the oldest
 *   ones are evicted, each counted and logged; outbox_expire evicts what is
 *   older than max_age by the wall clock, but only by time the agent can
 *   believe: a device that lost its clock stamps entries before
 *   OUTBOX_CLOCK_FLOOR, and those are never aged out; a clock that jumps
 *   forward while the agent runs (NTP after a cold start) does not age the
 *   entries made before the jump (their age counts from the jump). A clock
 *   set back only delays eviction. A clock corrected forward while the agent
 *   was stopped is not seen: that one can evict early.
 * - A payload larger than an entry may be gives OUTBOX_TOO_LARGE: no
 *   eviction can make room for it, so the caller refuses that input.
 * - An entry leaves otherwise only through outbox_remove, called with the
 *   digests of a receipt that verified.
 * - An entry that cannot be read or whose content does not match the digest
 *   in its name (truncated, corrupted) is moved to <dir>/corrupt/ with a log
 *   line, at open or when it is next read; leftover temporary files of an
 *   interrupted write are deleted at open.
 * Thread-safe: one lock around the index.
 */
#ifndef SMS_AGENT_OUTBOX_H
#define SMS_AGENT_OUTBOX_H

#include <stddef.h>
#include <time.h>

#define OUTBOX_DIGEST_LEN 32

typedef struct agent_outbox agent_outbox;

typedef struct {
	size_t max_entries;
	unsigned long long max_bytes;
	long long max_age_s;      /* 0: no age bound */
} outbox_limits;

typedef struct {
	size_t entries;
	unsigned long long bytes;
	unsigned long long added, removed, evicted, corrupt;
} outbox_stats;

typedef enum { OUTBOX_OK = 0, OUTBOX_NO_SPACE, OUTBOX_TOO_LARGE, OUTBOX_ERROR } outbox_status;

/* 2026-01-01T00:00:00Z: a wall clock before it was never set. */
#define OUTBOX_CLOCK_FLOOR ((time_t)1767225600)
/* A wall clock that gains this much more than the monotonic one jumped. */
#define OUTBOX_CLOCK_JUMP_S 600

/* Creates dir (and dir/corrupt) when missing, reads the index. NULL with err. */
agent_outbox *outbox_open(const char *dir, const outbox_limits *lim, char *err, size_t errlen);
void outbox_close(agent_outbox *o);

outbox_status outbox_add(agent_outbox *o, const unsigned char *payload, size_t len,
                         const unsigned char digest[OUTBOX_DIGEST_LEN], char *err, size_t errlen);

/* Removes the entries with these digests; returns how many there were. */
size_t outbox_remove(agent_outbox *o, const unsigned char (*digests)[OUTBOX_DIGEST_LEN], size_t n);

/* Evicts entries older than max_age at wall clock now; mono is
 * monotonic_seconds() (common/monotonic.h), which tells a jump of the
 * wall clock from time that passed. Returns how many were evicted. */
size_t outbox_expire(agent_outbox *o, time_t now, double mono);

/*
 * The oldest entry not sent since resend_s seconds (monotonic now), marked
 * as sent at now: 1 with *payload (free()) and digest, 0 when none is due.
 * Corrupted entries met on the way are moved aside.
 */
int outbox_next_due(agent_outbox *o, double now, double resend_s, unsigned char **payload, size_t *len,
                    unsigned char digest[OUTBOX_DIGEST_LEN]);
/* Every entry becomes due at once (the broker lost our session). */
void outbox_all_due(agent_outbox *o);

void outbox_get_stats(agent_outbox *o, outbox_stats *out);

#endif
