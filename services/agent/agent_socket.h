/*
 * Snapshot intake over a local unix socket (SOCK_STREAM), for equipment
 * software that would rather hand over a snapshot than write a file.
 *
 * Protocol, one snapshot per connection: the client writes the snapshot
 * JSON and then shuts down its writing side (EOF marks the end of the
 * message); the agent answers one line and closes:
 *   "accepted <64 hex: SHA-256 of the envelope as published, the digest a
 *    receipt will list>\n"  -- only after the outbox entry is fsynced;
 *   "refused <reason>\n"    -- nothing was kept; a reason starting with
 *    "try again later" means the input was fine but the outbox cannot take
 *    it now (full disk).
 * The JSON is checked by the same code as the spool (intake_check). A
 * client that disconnects before EOF, sends more than max_file bytes or is
 * silent for longer than timeout_ms is refused (the answer may not reach
 * it) and nothing is kept. With uid/gid >= 0, the peer's SO_PEERCRED must
 * match, else it is refused before a byte is read.
 *
 * The socket is created with the configured mode (a stale socket at the
 * path is replaced, anything else there is an error) and removed at stop.
 * One thread serves one client at a time; store is called on that thread.
 */
#ifndef SMS_AGENT_SOCKET_H
#define SMS_AGENT_SOCKET_H

#include <stddef.h>

#include "services/agent/agent_intake.h"

#define SOCKET_DIGEST_HEX 65

/* Like intake_store_fn, plus the digest of what was stored (hex, on INTAKE_STORED). */
typedef intake_verdict (*socket_store_fn)(void *ud, const char *json, size_t len, char digest_hex[SOCKET_DIGEST_HEX],
                                          char *why, size_t whylen);

typedef struct {
	const char *path;
	unsigned int mode;
	long uid, gid;             /* -1: not checked */
	int timeout_ms;
	const intake_config *check; /* equipment, max_file, max_values */
	socket_store_fn store;
	void *ud;
} socket_intake_config;

typedef struct socket_intake socket_intake;

/* Binds and starts serving; NULL with err. */
socket_intake *socket_intake_start(const socket_intake_config *cfg, char *err, size_t errlen);
void socket_intake_counts(socket_intake *s, unsigned long long *accepted, unsigned long long *refused);
/* Stops the thread, closes and removes the socket. NULL is a no-op. */
void socket_intake_stop(socket_intake *s);

#endif
