/*
 * PostgreSQL side of the snapshot subscriber (libpq, through pg_session).
 * One store per thread (a PGconn is not shared). Each call commits on its
 * own (snapshot_store_put_batch: one transaction per batch): when it returns STORE_OK,
 * STORE_DUPLICATE or STORE_REPLAY the effect is durable (or, for
 * STORE_REPLAY, nothing was written and the caller dead-letters the message).
 *
 * Errors are sorted so the caller can act, and only STORE_REJECTED is about
 * the message:
 *   STORE_RETRY     the database could not be reached or asked us to try
 *                   again (connection lost, shutdown, deadlock, resources);
 *   STORE_SETUP     the deployment is wrong (privileges, missing objects,
 *                   schema version): not this message's fault, retry once
 *                   someone fixes it, never dead-letter;
 *   STORE_REJECTED  the database refused this message (unit mismatch, a
 *                   value PostgreSQL cannot hold): dead-letter it.
 * Nothing was stored after STORE_RETRY, STORE_SETUP or STORE_REJECTED.
 */
#ifndef SMS_SNAPSHOT_STORE_H
#define SMS_SNAPSHOT_STORE_H

#include <stddef.h>
#include <time.h>

#include "common/snapshot_json.h"
#include "common/snapshot_topic.h"

typedef enum {
	STORE_OK = 0,
	STORE_DUPLICATE,   /* (digest, topic) or device+taken_at+seq seen before; nothing stored */
	STORE_RETRY,
	STORE_SETUP,
	STORE_REJECTED,
	STORE_REPLAY       /* these bytes came before on receipt.first_topic; nothing stored */
} store_result;

typedef struct {
	long long snapshot_id;               /* stored or earlier snapshot, 0 if none */
	long long missing_from, missing_to;  /* seqs the device skipped before this one; 0 0 if none */
	char first_topic[256];               /* STORE_REPLAY */
} store_receipt;

typedef struct {
	long long id;
	char *topic;
	unsigned char *payload;
	size_t len;
	unsigned char digest[32];
} store_dead_letter;

/* A verified snapshot signature, stored with the snapshot in one transaction. */
typedef struct {
	const unsigned char *der;            /* the SignedData as signed */
	size_t der_len;
	const char *signer;
	time_t signing_time;
} store_signature;

typedef struct snapshot_store snapshot_store;

snapshot_store *snapshot_store_new(const char *conninfo, const char *application_name);
void snapshot_store_free(snapshot_store *s);

/* Connects (if not connected) and prepares the statements. 0 or -1 with
 * err. Called implicitly by the calls below. */
int snapshot_store_connect(snapshot_store *s, char *err, size_t errlen);

/* At start: the database answers (waiting up to 30 s for it), the role is
 * allowed in, the schema is at the version built for, and the role holds
 * every privilege sms-snapshotd uses. 0, or -1 with one line saying what
 * is missing. */
int snapshot_store_check_ready(snapshot_store *s, char *err, size_t errlen);

/* Monthly partitions around now (sms_ensure_partitions). */
store_result snapshot_store_ensure_partitions(snapshot_store *s, char *err, size_t errlen);

/* sig: NULL for an unsigned snapshot. replay_of: the dead letter this
 * snapshot is a replay of, 0 normally. */
store_result snapshot_store_put(snapshot_store *s, const unsigned char digest[32], const char *topic,
                                const snapshot_topic *t, const snapshot *snap, const char *originator,
                                const store_signature *sig, long long replay_of, store_receipt *receipt,
                                char *err, size_t errlen);

/* One snapshot of a group commit: snapshot_store_put's arguments (no
 * replay) and, after snapshot_store_put_batch, its results. */
typedef struct {
	const unsigned char *digest;
	const char *topic;
	const snapshot_topic *t;
	const snapshot *snap;
	const char *originator;
	const store_signature *sig;
	store_result result;
	store_receipt rc;
	char err[512];
} store_item;

/* Group commit: n (1 or more) snapshots in one transaction, one commit (one
 * WAL flush) for all: sms_ingest_head per snapshot, pipelined, and one
 * binary COPY of all their value rows (sql/007_ingest_by_copy.sql). When
 * any of them fails, or the transaction does, nothing of it stays and each
 * is stored on its own with snapshot_store_put, so every item's result
 * means exactly what snapshot_store_put's would. */
void snapshot_store_put_batch(snapshot_store *s, store_item *items, size_t n);

/* The device of t was heard from now, with this E2E certificate (serial
 * hex, issuer, notAfter ISO 8601; empty strings leave NULL): what sms-db
 * devices lists. Its own statement after the snapshot's commit. */
store_result snapshot_store_device_seen(snapshot_store *s, const snapshot_topic *t, const char *serial,
                                        const char *issuer, const char *not_after, char *err, size_t errlen);

/* Records a rejected message: its digest and full length, and at most keep
 * bytes of the payload (which may be empty). STORE_OK: recorded;
 * STORE_DUPLICATE: this (digest, topic) was handled before. */
store_result snapshot_store_dead_letter(snapshot_store *s, const unsigned char digest[32],
                                        const char *topic, const unsigned char *payload, size_t len,
                                        size_t keep, const char *reason, const char *detail,
                                        char *err, size_t errlen);

/* Up to max dead letters an operator asked to replay (never truncated
 * ones), oldest first. Free with snapshot_store_replay_free. */
store_result snapshot_store_replay_fetch(snapshot_store *s, int max, store_dead_letter **rows, size_t *n,
                                         char *err, size_t errlen);
void snapshot_store_replay_free(store_dead_letter *rows, size_t n);
/* The replay was refused again: the dead letter stays, outcome recorded. */
store_result snapshot_store_replay_failed(snapshot_store *s, long long id, const char *outcome,
                                          char *err, size_t errlen);

#endif
