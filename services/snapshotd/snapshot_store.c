/* PostgreSQL store for snapshots; contract in snapshot_store.h. */
#include "services/snapshotd/snapshot_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "common/db_privileges.h"
#include "common/log.h"
#include "services/snapshotd/snapshot_copy.h"
#include "services/snapshotd/snapshot_layout.h"

/* How long the start-up check waits for a database that is not up yet. */
#define READY_WAIT_MS 30000
/* Layouts a connection remembers as recorded (a few per device type). */
#define LAYOUTS_REMEMBERED 1024

struct snapshot_store {
	pg_session *db;
	layout_set *layouts;   /* recorded in t_channel_layout, seen on this connection */
};

/* A growable string for the array literals. */
typedef struct {
	char *buf;
	size_t len, cap;
	int failed;
} strbuf;

static void sb_reserve(strbuf *b, size_t more)
{
	char *p;
	size_t cap;

	if (b->failed || b->len + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->buf, cap);
	if (p == NULL) {
		b->failed = 1;
		return;
	}
	b->buf = p;
	b->cap = cap;
}

static void sb_putc(strbuf *b, char c)
{
	sb_reserve(b, 1);
	if (b->failed)
		return;
	b->buf[b->len++] = c;
	b->buf[b->len] = '\0';
}

static void sb_puts(strbuf *b, const char *s)
{
	size_t n = strlen(s);

	sb_reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->buf + b->len, s, n + 1);
	b->len += n;
}

/* One element of a PostgreSQL array literal: always quoted, so no content
 * (commas, braces, "NULL") can change the array's shape. */
static void sb_array_elem(strbuf *b, const char *s)
{
	if (b->len > 1)
		sb_putc(b, ',');
	if (s == NULL) {
		sb_puts(b, "NULL");
		return;
	}
	sb_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_putc(b, '\\');
		sb_putc(b, *s);
	}
	sb_putc(b, '"');
}

snapshot_store *snapshot_store_new(const char *conninfo, const char *application_name)
{
	snapshot_store *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->db = pg_session_new(conninfo, application_name);
	s->layouts = layout_set_new(LAYOUTS_REMEMBERED);
	if (s->db == NULL || s->layouts == NULL) {
		pg_session_free(s->db);
		layout_set_free(s->layouts);
		free(s);
		return NULL;
	}
	return s;
}

void snapshot_store_free(snapshot_store *s)
{
	if (s == NULL)
		return;
	pg_session_free(s->db);
	layout_set_free(s->layouts);
	free(s);
}

static store_result to_store_result(pg_class c)
{
	switch (c) {
	case PG_OK: return STORE_OK;
	case PG_TRANSIENT: return STORE_RETRY;
	case PG_SETUP: return STORE_SETUP;
	case PG_DATA: return STORE_REJECTED;
	}
	return STORE_RETRY;
}

static const char ingest_sql[] =
	"SELECT outcome, snapshot_id, first_topic, missing_from, missing_to FROM sms_ingest_signed_snapshot("
	"$1, $2, $3, $4, $5, $6, $7::timestamptz, $8::bigint, $9, "
	"$10::text[], $11::text[], $12::text[], $13::float8[], $14::text[], $15::bigint, "
	"$16::bytea, $17, $18::timestamptz)";
static const char ingest_head_sql[] =
	"SELECT outcome, snapshot_id, first_topic, missing_from, missing_to, channel_ids, taken_at_us"
	" FROM sms_ingest_head($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::bigint, $9, $10::integer, $11::bytea,"
	" NULL, $12::bytea, $13, $14::timestamptz)";
static const char channel_layout_sql[] =
	"SELECT recorded FROM sms_channel_layout($1, $2::bytea, $3::text[], $4::text[], $5::text[])";
static const char dead_letter_sql[] = "SELECT sms_dead_letter($1, $2, $3, $4::bigint, $5, $6)";
static const char replay_fetch_sql[] =
	"SELECT id, topic, payload, digest FROM t_dead_letter"
	" WHERE replay_requested_at IS NOT NULL ORDER BY id LIMIT $1::int";
static const char replay_failed_sql[] = "SELECT sms_dead_letter_replay_failed($1::bigint, $2)";
static const char device_seen_sql[] =
	"SELECT sms_device_seen($1, $2, $3, nullif($4, ''), nullif($5, ''), nullif($6, '')::timestamptz)";

static pg_class prepare(snapshot_store *s, const char *name, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQprepare(pg_session_conn(s->db), name, sql, 0, NULL);
	char what[64];
	pg_class c;

	snprintf(what, sizeof what, "preparing statement %s", name);
	c = pg_session_check(s->db, res, PGRES_COMMAND_OK, what, err, errlen);
	PQclear(res);
	return c;
}

/* Connected, with the statements prepared on this connection. */
static store_result connect_prepared(snapshot_store *s, char *err, size_t errlen)
{
	pg_class c = pg_session_connect(s->db, err, errlen);

	if (c != PG_OK)
		return to_store_result(c);
	if (!pg_session_fresh(s->db))
		return STORE_OK;
	/* Another server, or the same one restored: learn its layouts again. */
	layout_set_clear(s->layouts);
	c = prepare(s, "ingest", ingest_sql, err, errlen);
	if (c == PG_OK)
		c = prepare(s, "ingest_head", ingest_head_sql, err, errlen);
	if (c == PG_OK)
		c = prepare(s, "channel_layout", channel_layout_sql, err, errlen);
	if (c == PG_OK)
		c = prepare(s, "dead_letter", dead_letter_sql, err, errlen);
	if (c == PG_OK)
		c = prepare(s, "replay_fetch", replay_fetch_sql, err, errlen);
	if (c == PG_OK)
		c = prepare(s, "replay_failed", replay_failed_sql, err, errlen);
	if (c == PG_OK)
		c = prepare(s, "device_seen", device_seen_sql, err, errlen);
	if (c != PG_OK)
		pg_session_disconnect(s->db);  /* the next call prepares again */
	return to_store_result(c);
}

/* One prepared statement, connecting first; *res (to PQclear) is the
 * result when STORE_OK, NULL otherwise. */
static store_result exec_prepared(snapshot_store *s, const char *name, int n, const char *const *params,
                                  const int *lengths, const int *formats, const char *what, PGresult **res,
                                  char *err, size_t errlen)
{
	store_result r = connect_prepared(s, err, errlen);

	*res = NULL;
	if (r != STORE_OK)
		return r;
	*res = PQexecPrepared(pg_session_conn(s->db), name, n, params, lengths, formats, 0);
	r = to_store_result(pg_session_check(s->db, *res, PGRES_TUPLES_OK, what, err, errlen));
	if (r != STORE_OK) {
		PQclear(*res);
		*res = NULL;
	}
	return r;
}

int snapshot_store_connect(snapshot_store *s, char *err, size_t errlen)
{
	return connect_prepared(s, err, errlen) == STORE_OK ? 0 : -1;
}

int snapshot_store_check_ready(snapshot_store *s, char *err, size_t errlen)
{
	const db_role_spec *r = &db_role_snapshotd;
	pg_class c = pg_session_connect_retry(s->db, READY_WAIT_MS, err, errlen);

	if (c == PG_OK)
		c = pg_session_check_ready(s->db, r->program, SMS_SNAPSHOTD_SCHEMA_VERSION, r->needs, r->n_needs, err, errlen);
	if (c == PG_OK && connect_prepared(s, err, errlen) != STORE_OK)
		return -1;
	return c == PG_OK ? 0 : -1;
}

store_result snapshot_store_ensure_partitions(snapshot_store *s, char *err, size_t errlen)
{
	store_result r = connect_prepared(s, err, errlen);

	if (r != STORE_OK)
		return r;
	return to_store_result(pg_session_exec(s->db, "SELECT sms_ensure_partitions(1, 2)", PGRES_TUPLES_OK,
	                                       "creating partitions", err, errlen));
}

static long long get_ll(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? 0 : strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

static store_result read_receipt(const PGresult *res, store_receipt *rc)
{
	const char *outcome = PQgetvalue(res, 0, 0);

	rc->snapshot_id = get_ll(res, 1);
	snprintf(rc->first_topic, sizeof rc->first_topic, "%s", PQgetisnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2));
	rc->missing_from = get_ll(res, 3);
	rc->missing_to = get_ll(res, 4);
	if (strcmp(outcome, "stored") == 0)
		return STORE_OK;
	if (strcmp(outcome, "replay") == 0)
		return STORE_REPLAY;
	return STORE_DUPLICATE;
}

/* The parameters of the ingest statement for one snapshot. */
typedef struct {
	strbuf groups, channels, units, nums, txts;
	char seq[32], replay[32], signed_at[32];
	const char *params[18];
	int lengths[18], formats[18];
} ingest_params;

static void ingest_params_free(ingest_params *p)
{
	free(p->groups.buf); free(p->channels.buf); free(p->units.buf); free(p->nums.buf); free(p->txts.buf);
}

/* Parameters 0..8 of both ingest statements (sms_ingest_signed_snapshot,
 * sms_ingest_head): digest, topic, its three levels, device type,
 * taken_at, seq (written into seq), originator. */
static void snapshot_params(const char **params, int *lengths, int *formats, char *seq, size_t seqlen,
                            const unsigned char *digest, const char *topic, const snapshot_topic *t,
                            const snapshot *snap, const char *originator)
{
	snprintf(seq, seqlen, "%lld", snap->seq);
	params[0] = (const char *)digest;
	lengths[0] = 32;
	formats[0] = 1;
	params[1] = topic;
	params[2] = t->master;
	params[3] = t->account;
	params[4] = t->equipment;
	params[5] = snap->device_type;
	params[6] = snap->taken_at;
	params[7] = seq;
	params[8] = originator;
}

/* The signature's three parameters (SignedData, signer, signing time written
 * into signed_at), left NULL for an unsigned snapshot; -1 when the signing
 * time cannot be written. */
static int signature_params(const char **params, int *lengths, int *formats, char *signed_at, size_t len,
                            const store_signature *sig)
{
	struct tm tm;

	if (sig == NULL || sig->der == NULL)
		return 0;
	if (gmtime_r(&sig->signing_time, &tm) == NULL || strftime(signed_at, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	params[0] = (const char *)sig->der;
	lengths[0] = (int)sig->der_len;
	formats[0] = 1;
	params[1] = sig->signer;
	params[2] = signed_at;
	return 0;
}

/* STORE_OK, STORE_RETRY (out of memory) or STORE_REJECTED, err set. */
static store_result ingest_params_build(ingest_params *p, const unsigned char digest[32], const char *topic,
                                        const snapshot_topic *t, const snapshot *snap, const char *originator,
                                        const store_signature *sig, long long replay_of, char *err, size_t errlen)
{
	char num[40];
	size_t i;

	memset(p, 0, sizeof *p);
	sb_putc(&p->groups, '{'); sb_putc(&p->channels, '{'); sb_putc(&p->units, '{');
	sb_putc(&p->nums, '{'); sb_putc(&p->txts, '{');
	for (i = 0; i < snap->n_values; i++) {
		const snapshot_value *v = &snap->values[i];
		sb_array_elem(&p->groups, v->group);
		sb_array_elem(&p->channels, v->channel);
		sb_array_elem(&p->units, v->unit);
		if (v->is_text) {
			sb_array_elem(&p->nums, NULL);
			sb_array_elem(&p->txts, v->text);
		} else {
			snprintf(num, sizeof num, "%.17g", v->num);
			sb_array_elem(&p->nums, num);
			sb_array_elem(&p->txts, NULL);
		}
	}
	sb_putc(&p->groups, '}'); sb_putc(&p->channels, '}'); sb_putc(&p->units, '}');
	sb_putc(&p->nums, '}'); sb_putc(&p->txts, '}');
	if (p->groups.failed || p->channels.failed || p->units.failed || p->nums.failed || p->txts.failed) {
		snprintf(err, errlen, "out of memory building %zu values", snap->n_values);
		return STORE_RETRY;
	}
	snapshot_params(p->params, p->lengths, p->formats, p->seq, sizeof p->seq, digest, topic, t, snap, originator);
	snprintf(p->replay, sizeof p->replay, "%lld", replay_of);
	p->params[9] = p->groups.buf;
	p->params[10] = p->channels.buf;
	p->params[11] = p->units.buf;
	p->params[12] = p->nums.buf;
	p->params[13] = p->txts.buf;
	p->params[14] = replay_of > 0 ? p->replay : NULL;
	if (signature_params(p->params + 15, p->lengths + 15, p->formats + 15, p->signed_at, sizeof p->signed_at,
	                     sig) != 0) {
		snprintf(err, errlen, "storing snapshot: signing time out of range");
		return STORE_REJECTED;
	}
	return STORE_OK;
}

store_result snapshot_store_put(snapshot_store *s, const unsigned char digest[32], const char *topic,
                                const snapshot_topic *t, const snapshot *snap, const char *originator,
                                const store_signature *sig, long long replay_of, store_receipt *rc, char *err,
                                size_t errlen)
{
	ingest_params p;
	PGresult *res = NULL;
	store_result r;

	memset(rc, 0, sizeof *rc);
	r = ingest_params_build(&p, digest, topic, t, snap, originator, sig, replay_of, err, errlen);
	if (r == STORE_OK)
		r = exec_prepared(s, "ingest", 18, p.params, p.lengths, p.formats, "storing snapshot", &res, err, errlen);
	if (r == STORE_OK && PQntuples(res) != 1) {
		snprintf(err, errlen, "storing snapshot: sms_ingest_snapshot returned %d rows", PQntuples(res));
		r = STORE_SETUP;
	}
	if (r == STORE_OK)
		r = read_receipt(res, rc);
	PQclear(res);
	ingest_params_free(&p);
	return r;
}

static int exec_ok(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok;
}

/* ---- Group commit by COPY (sql/007_ingest_by_copy.sql) ---- */

/* How one snapshot of a batch goes, and what its head returned. */
typedef struct {
	unsigned char layout[LAYOUT_DIGEST_LEN];
	int by_copy;          /* sms_ingest_head + COPY; else the whole sms_ingest_signed_snapshot */
	int *ids;             /* channel ids of a snapshot stored by its head */
	long long taken_at_us;
} batch_slot;

/* The parameters of sms_ingest_head for one snapshot. */
typedef struct {
	char seq[32], n_values[16], signed_at[32];
	const char *params[14];
	int lengths[14], formats[14];
} head_params;

static int head_params_build(head_params *h, const store_item *it, const batch_slot *slot)
{
	memset(h, 0, sizeof *h);
	snapshot_params(h->params, h->lengths, h->formats, h->seq, sizeof h->seq, it->digest, it->topic, it->t,
	                it->snap, it->originator);
	snprintf(h->n_values, sizeof h->n_values, "%zu", it->snap->n_values);
	h->params[9] = h->n_values;
	h->params[10] = (const char *)slot->layout;
	h->lengths[10] = LAYOUT_DIGEST_LEN;
	h->formats[10] = 1;
	return signature_params(h->params + 11, h->lengths + 11, h->formats + 11, h->signed_at, sizeof h->signed_at,
	                        it->sig);
}

/* Records the snapshot's layout in its own transaction (resolving and
 * creating channels, checking units), so its heads can take the ids by
 * digest. Failing is not an error here: the snapshot then goes the whole
 * way through sms_ingest_signed_snapshot, which refuses it for the reason
 * this failed (or finds it a duplicate first). */
static void learn_layout(snapshot_store *s, store_item *it, const batch_slot *slot)
{
	ingest_params p;
	const char *params[5];
	int lengths[5] = { 0, LAYOUT_DIGEST_LEN, 0, 0, 0 }, formats[5] = { 0, 1, 0, 0, 0 };
	PGresult *res = NULL;

	if (ingest_params_build(&p, it->digest, it->topic, it->t, it->snap, it->originator, NULL, 0, it->err,
	                        sizeof it->err) != STORE_OK)
		goto out;
	params[0] = it->snap->device_type;
	params[1] = (const char *)slot->layout;
	params[2] = p.groups.buf;
	params[3] = p.channels.buf;
	params[4] = p.units.buf;
	if (exec_prepared(s, "channel_layout", 5, params, lengths, formats, "recording a channel layout", &res,
	                  it->err, sizeof it->err) == STORE_OK &&
	    PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		layout_set_add(s->layouts, it->snap->device_type, slot->layout);
out:
	PQclear(res);
	ingest_params_free(&p);
}

static void plan_item(snapshot_store *s, store_item *it, batch_slot *slot)
{
	memset(&it->rc, 0, sizeof it->rc);
	it->result = STORE_RETRY;
	if (snapshot_layout_digest(it->snap, slot->layout) != 0)
		return;
	if (!layout_set_has(s->layouts, it->snap->device_type, slot->layout))
		learn_layout(s, it, slot);
	slot->by_copy = layout_set_has(s->layouts, it->snap->device_type, slot->layout);
}

/* BEGIN, one statement per snapshot, and the sync, without waiting. */
static int send_batch(PGconn *c, store_item *items, const batch_slot *slots, size_t n)
{
	size_t i;
	int ok = PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1;

	for (i = 0; ok && i < n; i++) {
		store_item *it = &items[i];
		head_params h;
		ingest_params p;

		if (slots[i].by_copy) {
			ok = head_params_build(&h, it, &slots[i]) == 0 &&
			     PQsendQueryPrepared(c, "ingest_head", 14, h.params, h.lengths, h.formats, 0) == 1;
			continue;
		}
		ok = ingest_params_build(&p, it->digest, it->topic, it->t, it->snap, it->originator, it->sig, 0,
		                         it->err, sizeof it->err) == STORE_OK &&
		     PQsendQueryPrepared(c, "ingest", 18, p.params, p.lengths, p.formats, 0) == 1;
		ingest_params_free(&p);
	}
	return ok && PQpipelineSync(c) == 1;
}

/* The next result in the pipeline, of status want (and, but for the sync,
 * the end of its statement); NULL with the reason in why otherwise. */
static PGresult *next_result(PGconn *c, ExecStatusType want, char *why, size_t whylen)
{
	PGresult *res = PQgetResult(c), *end;

	if (res == NULL || PQresultStatus(res) != want) {
		snprintf(why, whylen, "%s", res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(c));
		why[strcspn(why, "\n")] = '\0';
		PQclear(res);
		return NULL;
	}
	if (want != PGRES_PIPELINE_SYNC && (end = PQgetResult(c)) != NULL) {
		snprintf(why, whylen, "more than one result for a statement");
		PQclear(end);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* "{1,2,3}": exactly n positive ids. */
static int parse_ids(const char *s, int *ids, size_t n)
{
	size_t i = 0;
	char *end;
	long v;

	if (*s++ != '{')
		return -1;
	while (i < n) {
		v = strtol(s, &end, 10);
		if (end == s || v <= 0 || v > 2147483647L)
			return -1;
		ids[i++] = (int)v;
		s = end;
		if (*s != ',')
			break;
		s++;
	}
	return i == n && s[0] == '}' && s[1] == '\0' ? 0 : -1;
}

static int read_item(const PGresult *res, store_item *it, batch_slot *slot)
{
	if (PQntuples(res) != 1)
		return 0;
	it->result = read_receipt(res, &it->rc);
	if (!slot->by_copy || it->result != STORE_OK)
		return 1;
	if (PQnfields(res) != 7 || PQgetisnull(res, 0, 5) || PQgetisnull(res, 0, 6) ||
	    (slot->ids = malloc(it->snap->n_values * sizeof *slot->ids)) == NULL ||
	    parse_ids(PQgetvalue(res, 0, 5), slot->ids, it->snap->n_values) != 0)
		return 0;
	slot->taken_at_us = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	return 1;
}

static int read_batch(PGconn *c, store_item *items, batch_slot *slots, size_t n, char *why, size_t whylen)
{
	PGresult *res;
	size_t i;
	int ok;

	if ((res = next_result(c, PGRES_COMMAND_OK, why, whylen)) == NULL)
		return 0;
	PQclear(res);
	for (i = 0; i < n; i++) {
		if ((res = next_result(c, PGRES_TUPLES_OK, why, whylen)) == NULL)
			return 0;
		ok = read_item(res, &items[i], &slots[i]);
		PQclear(res);
		if (!ok) {
			snprintf(why, whylen, "unexpected result for snapshot %zu of the batch", i + 1);
			return 0;
		}
	}
	if ((res = next_result(c, PGRES_PIPELINE_SYNC, why, whylen)) == NULL)
		return 0;
	PQclear(res);
	return 1;
}

/* After an error: read up to the sync (statements after the failed one
 * come back aborted), then leave pipeline mode. 0 if that failed too. */
static int pipeline_abandon(PGconn *c)
{
	PGresult *res;
	int nulls = 0;

	while (PQstatus(c) == CONNECTION_OK && nulls < 2) {
		if ((res = PQgetResult(c)) == NULL) {
			nulls++;
			continue;
		}
		nulls = 0;
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		PQclear(res);
	}
	return PQexitPipelineMode(c) == 1;
}

/* One COPY with the values of every snapshot a head stored; checks that
 * PostgreSQL took exactly that many rows. */
static int copy_values(PGconn *c, const store_item *items, const batch_slot *slots, size_t n, char *why,
                       size_t whylen)
{
	copy_rows rows;
	PGresult *res;
	size_t i;
	int sent;

	copy_rows_begin(&rows);
	for (i = 0; i < n; i++)
		if (slots[i].by_copy && items[i].result == STORE_OK)
			copy_rows_add(&rows, items[i].rc.snapshot_id, slots[i].taken_at_us, slots[i].ids, items[i].snap);
	copy_rows_end(&rows);
	if (rows.rows == 0) {
		copy_rows_free(&rows);
		return 1;
	}
	if (rows.failed || rows.len > 2147483647u) {
		snprintf(why, whylen, "%zu value rows do not fit in one COPY buffer", rows.rows);
		copy_rows_free(&rows);
		return 0;
	}
	res = PQexec(c, snapshot_copy_sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		snprintf(why, whylen, "%s", PQresultErrorMessage(res));
		PQclear(res);
		copy_rows_free(&rows);
		return 0;
	}
	PQclear(res);
	sent = PQputCopyData(c, (const char *)rows.buf, (int)rows.len) == 1;
	sent = PQputCopyEnd(c, sent ? NULL : "sms-snapshotd could not send the rows") == 1 && sent;
	res = PQgetResult(c);
	if (PQresultStatus(res) != PGRES_COMMAND_OK || strtoull(PQcmdTuples(res), NULL, 10) != rows.rows) {
		snprintf(why, whylen, "COPY of %zu value rows: %s", rows.rows,
		         PQresultStatus(res) == PGRES_COMMAND_OK ? PQcmdTuples(res) : PQresultErrorMessage(res));
		sent = 0;
	}
	PQclear(res);
	while ((res = PQgetResult(c)) != NULL)
		PQclear(res);
	copy_rows_free(&rows);
	return sent;
}

static int commit_ok(PGconn *c)
{
	PGresult *res = PQexec(c, "COMMIT");
	/* COMMIT of a failed transaction answers ROLLBACK. */
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0;

	PQclear(res);
	return ok;
}

/* The batch in one transaction: the heads pipelined in one round trip, the
 * values in one COPY. 1 committed (results in items), 0 nothing kept. */
static int put_batch_copy(snapshot_store *s, store_item *items, size_t n)
{
	batch_slot *slots = calloc(n, sizeof *slots);
	char why[256] = "";
	PGconn *c = NULL;
	int ok = 0;
	size_t i;

	if (slots == NULL || connect_prepared(s, why, sizeof why) != STORE_OK)
		goto out;
	for (i = 0; i < n; i++)
		plan_item(s, &items[i], &slots[i]);
	if ((c = pg_session_conn(s->db)) == NULL || PQenterPipelineMode(c) != 1)
		goto out;
	if (!send_batch(c, items, slots, n)) {
		snprintf(why, sizeof why, "sending the batch: %s", PQerrorMessage(c));
		why[strcspn(why, "\n")] = '\0';
		pg_session_disconnect(s->db);
		goto rollback;
	}
	if (!read_batch(c, items, slots, n, why, sizeof why)) {
		if (!pipeline_abandon(c))
			pg_session_disconnect(s->db);
		goto rollback;
	}
	if (PQexitPipelineMode(c) != 1 || !copy_values(c, items, slots, n, why, sizeof why) || !commit_ok(c))
		goto rollback;
	ok = 1;
	goto out;
rollback:
	if ((c = pg_session_conn(s->db)) != NULL && PQstatus(c) == CONNECTION_OK &&
	    PQtransactionStatus(c) != PQTRANS_IDLE && !exec_ok(c, "ROLLBACK"))
		pg_session_disconnect(s->db);
	/* A layout the database no longer has (restored?) must be learnt again. */
	layout_set_clear(s->layouts);
out:
	if (!ok)
		sms_log(LOG_LEVEL_DEBUG, "%zu snapshot(s) not stored together (%s): storing each on its own", n,
		        why[0] ? why : "no connection");
	for (i = 0; slots != NULL && i < n; i++)
		free(slots[i].ids);
	free(slots);
	return ok;
}

void snapshot_store_put_batch(snapshot_store *s, store_item *items, size_t n)
{
	size_t i;

	if (n > 0 && put_batch_copy(s, items, n))
		return;
	for (i = 0; i < n; i++) {
		store_item *it = &items[i];

		it->result = snapshot_store_put(s, it->digest, it->topic, it->t, it->snap, it->originator, it->sig, 0,
		                                &it->rc, it->err, sizeof it->err);
	}
}

store_result snapshot_store_dead_letter(snapshot_store *s, const unsigned char digest[32],
                                        const char *topic, const unsigned char *payload, size_t len,
                                        size_t keep, const char *reason, const char *detail,
                                        char *err, size_t errlen)
{
	char full[32];
	/* An empty message has no payload buffer; a NULL parameter would be SQL
	 * NULL, and an empty bytea is what it is. */
	const char *params[6] = { (const char *)digest, topic, payload != NULL ? (const char *)payload : "",
	                          full, reason, detail };
	int lengths[6] = { 32, 0, (int)(len < keep ? len : keep), 0, 0, 0 }, formats[6] = { 1, 0, 1, 0, 0, 0 };
	PGresult *res;
	store_result r;

	snprintf(full, sizeof full, "%zu", len);
	r = exec_prepared(s, "dead_letter", 6, params, lengths, formats, "recording dead letter", &res, err, errlen);
	if (r == STORE_OK)
		r = PQntuples(res) == 1 && PQgetisnull(res, 0, 0) ? STORE_DUPLICATE : STORE_OK;
	PQclear(res);
	return r;
}

static int copy_row(const PGresult *res, int row, store_dead_letter *d)
{
	size_t n = 0;
	unsigned char *p;

	d->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	d->topic = strdup(PQgetvalue(res, row, 1));
	p = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, 2), &n);
	if (p != NULL) {
		d->payload = malloc(n > 0 ? n : 1);
		if (d->payload != NULL)
			memcpy(d->payload, p, n);
		d->len = n;
		PQfreemem(p);
	}
	p = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, 3), &n);
	if (p != NULL && n == 32)
		memcpy(d->digest, p, 32);
	PQfreemem(p);
	return d->topic != NULL && d->payload != NULL && n == 32 ? 0 : -1;
}

store_result snapshot_store_replay_fetch(snapshot_store *s, int max, store_dead_letter **rows, size_t *n,
                                         char *err, size_t errlen)
{
	char maxs[16];
	const char *params[1] = { maxs };
	PGresult *res;
	store_result r;
	int i;

	*rows = NULL;
	*n = 0;
	snprintf(maxs, sizeof maxs, "%d", max);
	r = exec_prepared(s, "replay_fetch", 1, params, NULL, NULL, "reading dead letters to replay", &res,
	                  err, errlen);
	if (r != STORE_OK || PQntuples(res) == 0)
		goto out;
	*rows = calloc((size_t)PQntuples(res), sizeof **rows);
	if (*rows == NULL) {
		snprintf(err, errlen, "out of memory reading %d dead letters", PQntuples(res));
		r = STORE_RETRY;
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		(*n)++;
		if (copy_row(res, i, &(*rows)[i]) != 0) {
			snprintf(err, errlen, "out of memory reading dead letter %s", PQgetvalue(res, i, 0));
			snapshot_store_replay_free(*rows, *n);
			*rows = NULL;
			*n = 0;
			r = STORE_RETRY;
			goto out;
		}
	}
out:
	PQclear(res);
	return r;
}

void snapshot_store_replay_free(store_dead_letter *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].topic);
		free(rows[i].payload);
	}
	free(rows);
}

store_result snapshot_store_replay_failed(snapshot_store *s, long long id, const char *outcome,
                                          char *err, size_t errlen)
{
	char ids[32];
	const char *params[2] = { ids, outcome };
	PGresult *res;
	store_result r;

	snprintf(ids, sizeof ids, "%lld", id);
	r = exec_prepared(s, "replay_failed", 2, params, NULL, NULL, "recording replay outcome", &res, err, errlen);
	PQclear(res);
	return r;
}

store_result snapshot_store_device_seen(snapshot_store *s, const snapshot_topic *t, const char *serial,
                                        const char *issuer, const char *not_after, char *err, size_t errlen)
{
	const char *params[6] = { t->master, t->account, t->equipment, serial, issuer, not_after };
	PGresult *res = NULL;
	store_result r = exec_prepared(s, "device_seen", 6, params, NULL, NULL, "recording the device as seen", &res,
	                               err, errlen);

	PQclear(res);
	return r;
}
