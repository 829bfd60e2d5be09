/*
 * The customer's store: one SQLite file (WAL, synchronous=FULL) holding
 * every message exactly as received and what analysis derived from it.
 *
 *   messages(id, received_at, topic, payload, digest, qos, retain,
 *            deliveries, chain)   raw, one row per distinct (topic, payload
 *            digest); a redelivery or an identical re-send counts in
 *            deliveries. chain = SHA-256(previous chain || id || received_at
 *            || topic || digest), the first previous chain 32 zero bytes:
 *            a row changed, inserted or deleted by hand breaks it.
 *   derived(message_id, kind, equipment, originator, recipients, for_us,
 *            seq, taken_at, signed_at, content, findings)
 *   receipted(message_id, digest)   digests a verified receipt lists
 *
 * store_put commits the raw row and the derived rows in one transaction
 * before it returns; only then may the caller acknowledge the message.
 * A store is used by one thread.
 */
#ifndef SMS_AUDIT_STORE_H
#define SMS_AUDIT_STORE_H

#include <stddef.h>
#include <time.h>

#include "services/audit/audit_analysis.h"
#include "services/audit/audit_report.h"

#define STORE_DIGEST_LEN 32

typedef struct audit_store audit_store;

/* Opens (creating the schema unless readonly). NULL with err. */
audit_store *store_open(const char *path, int readonly, char *err, size_t errlen);
void store_close(audit_store *s);

typedef enum { STORE_PUT_NEW, STORE_PUT_DUPLICATE, STORE_PUT_RETRY, STORE_PUT_FAILED } store_put_result;

/* STORE_PUT_RETRY: busy or I/O trouble, nothing committed, try again;
 * STORE_PUT_FAILED: the store cannot take it (err). */
store_put_result store_put(audit_store *s, const char *topic, const unsigned char *payload, size_t len, int qos,
                           int retain, time_t received, const analysis *a, char *err, size_t errlen);

/* A raw message as verify reads it. */
typedef struct {
	long long id;
	const char *received_at, *topic;
	const unsigned char *payload, *digest, *chain;
	size_t len, digest_len, chain_len;
} store_raw;

/* Calls fn for every message in id order (stops when fn returns non-zero,
 * and returns that); -1 with err on a store error. */
int store_each_raw(audit_store *s, int (*fn)(void *ud, const store_raw *m), void *ud, char *err, size_t errlen);
/* The derived rows of message id in analysis_canonical form (malloc'd);
 * NULL when there are none. */
char *store_derived_canonical(audit_store *s, long long id);
/* One read snapshot from _begin to _end (verify must not see rows that
 * arrive while it runs). 0, or -1 with err. */
int store_read_begin(audit_store *s, char *err, size_t errlen);
void store_read_end(audit_store *s);
/* Messages and derived rows counted. */
long long store_count(audit_store *s, const char *table);
/* The chain link of a row (out: STORE_DIGEST_LEN bytes). */
int store_chain_link(const unsigned char prev[STORE_DIGEST_LEN], long long id, const char *received_at,
                     const char *topic, const unsigned char digest[STORE_DIGEST_LEN],
                     unsigned char out[STORE_DIGEST_LEN]);

typedef struct {
	const char *device;  /* "ma/acc/eq" or just "eq"; NULL: all */
	const char *since;   /* ISO 8601 prefix compared as text; NULL: all */
	time_t now;
	long long grace;     /* seconds before an unreceipted snapshot is a finding */
} store_filter;

/* Fills the report model (messages with their findings, the cross-message
 * ones added: never_receipted, receipt_unseen). 0, or -1 with err. */
int store_load_report(audit_store *s, const store_filter *f, report_model *out, char *err, size_t errlen);

/* Decrypted snapshots for export: fn(ud, equipment, received_at, digest hex,
 * findings, json) per snapshot with content, in id order. */
int store_each_snapshot(audit_store *s, const store_filter *f,
                        int (*fn)(void *ud, const char *equipment, const char *received_at, const char *digest,
                                  const char *findings, const char *json),
                        void *ud, char *err, size_t errlen);

#endif
