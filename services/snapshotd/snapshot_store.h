/*
 * PostgreSQL side of the snapshot subscriber (libpq). One store per worker
 * thread (a PGconn is not shared). Each call is one round trip to a function
 * of sql/001 and commits on its own: when it returns STORE_OK or
 * STORE_DUPLICATE the effect is durable, so the caller may acknowledge.
 *
 * Errors are sorted so the caller can act: STORE_RETRY means the database
 * could not be reached or asked us to try again (connection lost, shutdown,
 * serialization failure, deadlock, out of resources) and nothing was stored;
 * STORE_REJECTED means the database refused this message for good (unit
 * mismatch, a value PostgreSQL cannot hold) and it belongs in the
 * dead-letter table.
 */
#ifndef SMS_SNAPSHOT_STORE_H
#define SMS_SNAPSHOT_STORE_H

#include <stddef.h>

#include "common/snapshot_json.h"
#include "common/snapshot_topic.h"

typedef enum {
	STORE_OK = 0,
	STORE_DUPLICATE,   /* digest (or device+taken_at+seq) seen before; nothing stored */
	STORE_RETRY,
	STORE_REJECTED
} store_result;

typedef struct snapshot_store snapshot_store;

snapshot_store *snapshot_store_new(const char *conninfo, const char *application_name);
void snapshot_store_free(snapshot_store *s);

/* Connects (if not connected), checks the schema is migrated and prepares
 * the statements. 0 or -1 with err. Called implicitly by the calls below. */
int snapshot_store_connect(snapshot_store *s, char *err, size_t errlen);

/* Monthly partitions around now (sms_ensure_partitions). */
store_result snapshot_store_ensure_partitions(snapshot_store *s, char *err, size_t errlen);

store_result snapshot_store_put(snapshot_store *s, const unsigned char digest[32], const char *topic,
                                const snapshot_topic *t, const snapshot *snap, const char *originator,
                                long long *snapshot_id, char *err, size_t errlen);

/* STORE_OK: recorded; STORE_DUPLICATE: this digest was handled before. */
store_result snapshot_store_dead_letter(snapshot_store *s, const unsigned char digest[32],
                                        const char *topic, const unsigned char *payload, size_t len,
                                        const char *reason, const char *detail,
                                        char *err, size_t errlen);

#endif
