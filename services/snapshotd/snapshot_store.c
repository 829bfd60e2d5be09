/* PostgreSQL store for snapshots; contract in snapshot_store.h. */
#include "services/snapshotd/snapshot_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

struct snapshot_store {
	char *conninfo;
	char *application_name;
	PGconn *conn;
	int prepared;
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
	s->conninfo = strdup(conninfo);
	s->application_name = strdup(application_name);
	if (s->conninfo == NULL || s->application_name == NULL) {
		snapshot_store_free(s);
		return NULL;
	}
	return s;
}

void snapshot_store_free(snapshot_store *s)
{
	if (s == NULL)
		return;
	PQfinish(s->conn);
	free(s->conninfo);
	free(s->application_name);
	free(s);
}

static void copy_pg_error(PGconn *conn, const PGresult *res, const char *what, char *err, size_t errlen)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";

	if (msg == NULL || *msg == '\0')
		msg = PQerrorMessage(conn);
	snprintf(err, errlen, "%s: %s", what, msg);
	err[strcspn(err, "\n")] = '\0';
}

static void disconnect(snapshot_store *s)
{
	PQfinish(s->conn);
	s->conn = NULL;
	s->prepared = 0;
}

static const char ingest_sql[] =
	"SELECT outcome, snapshot_id FROM sms_ingest_snapshot("
	"$1, $2, $3, $4, $5, $6, $7::timestamptz, $8::bigint, $9, "
	"$10::text[], $11::text[], $12::text[], $13::float8[], $14::text[])";
static const char dead_letter_sql[] = "SELECT sms_dead_letter($1, $2, $3, $4, $5)";

static int prepare(snapshot_store *s, const char *name, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQprepare(s->conn, name, sql, 0, NULL);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		copy_pg_error(s->conn, res, "preparing statements", err, errlen);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

int snapshot_store_connect(snapshot_store *s, char *err, size_t errlen)
{
	const char *keys[] = { "dbname", "application_name", "client_encoding", NULL };
	const char *vals[] = { s->conninfo, s->application_name, "UTF8", NULL };
	PGresult *res;

	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK && s->prepared)
		return 0;
	disconnect(s);
	/* expand_dbname: the conninfo string is parsed as such; our keys add to it. */
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		copy_pg_error(s->conn, NULL, "connecting to PostgreSQL", err, errlen);
		disconnect(s);
		return -1;
	}
	res = PQexec(s->conn, "SELECT to_regprocedure('sms_ingest_snapshot(bytea,text,text,text,text,text,"
	                      "timestamptz,bigint,text,text[],text[],text[],double precision[],text[])') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		copy_pg_error(s->conn, res, "checking schema", err, errlen);
		PQclear(res);
		disconnect(s);
		return -1;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		snprintf(err, errlen, "database has no snapshot schema (run sms-db migrate or --migrate)");
		PQclear(res);
		disconnect(s);
		return -1;
	}
	PQclear(res);
	if (prepare(s, "ingest", ingest_sql, err, errlen) != 0 ||
	    prepare(s, "dead_letter", dead_letter_sql, err, errlen) != 0) {
		disconnect(s);
		return -1;
	}
	s->prepared = 1;
	return 0;
}

/* Transient: connection trouble, shutdown, serialization/deadlock, resources. */
static store_result classify(snapshot_store *s, const PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(s->conn) != CONNECTION_OK || state == NULL) {
		disconnect(s);
		return STORE_RETRY;
	}
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "40", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "57", 2) == 0 || strncmp(state, "58", 2) == 0 || strcmp(state, "55P03") == 0) {
		if (strncmp(state, "57", 2) == 0 || strncmp(state, "08", 2) == 0)
			disconnect(s);
		return STORE_RETRY;
	}
	return STORE_REJECTED;
}

store_result snapshot_store_ensure_partitions(snapshot_store *s, char *err, size_t errlen)
{
	PGresult *res;
	store_result r = STORE_OK;

	if (snapshot_store_connect(s, err, errlen) != 0)
		return STORE_RETRY;
	res = PQexec(s->conn, "SELECT sms_ensure_partitions(1, 2)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		copy_pg_error(s->conn, res, "creating partitions", err, errlen);
		r = classify(s, res);
	}
	PQclear(res);
	return r;
}

store_result snapshot_store_put(snapshot_store *s, const unsigned char digest[32], const char *topic,
                                const snapshot_topic *t, const snapshot *snap, const char *originator,
                                long long *snapshot_id, char *err, size_t errlen)
{
	strbuf groups = { 0 }, channels = { 0 }, units = { 0 }, nums = { 0 }, txts = { 0 };
	char seq[32], num[40];
	const char *params[14];
	int lengths[14] = { 32 }, formats[14] = { 1 };
	PGresult *res = NULL;
	store_result r = STORE_RETRY;
	size_t i;

	*snapshot_id = 0;
	if (snapshot_store_connect(s, err, errlen) != 0)
		return STORE_RETRY;
	sb_putc(&groups, '{'); sb_putc(&channels, '{'); sb_putc(&units, '{');
	sb_putc(&nums, '{'); sb_putc(&txts, '{');
	for (i = 0; i < snap->n_values; i++) {
		const snapshot_value *v = &snap->values[i];
		sb_array_elem(&groups, v->group);
		sb_array_elem(&channels, v->channel);
		sb_array_elem(&units, v->unit);
		if (v->is_text) {
			sb_array_elem(&nums, NULL);
			sb_array_elem(&txts, v->text);
		} else {
			snprintf(num, sizeof num, "%.17g", v->num);
			sb_array_elem(&nums, num);
			sb_array_elem(&txts, NULL);
		}
	}
	sb_putc(&groups, '}'); sb_putc(&channels, '}'); sb_putc(&units, '}');
	sb_putc(&nums, '}'); sb_putc(&txts, '}');
	if (groups.failed || channels.failed || units.failed || nums.failed || txts.failed) {
		snprintf(err, errlen, "out of memory building %zu values", snap->n_values);
		goto out;
	}
	snprintf(seq, sizeof seq, "%lld", snap->seq);
	params[0] = (const char *)digest;
	params[1] = topic;
	params[2] = t->master;
	params[3] = t->account;
	params[4] = t->equipment;
	params[5] = snap->device_type;
	params[6] = snap->taken_at;
	params[7] = seq;
	params[8] = originator;
	params[9] = groups.buf;
	params[10] = channels.buf;
	params[11] = units.buf;
	params[12] = nums.buf;
	params[13] = txts.buf;
	res = PQexecPrepared(s->conn, "ingest", 14, params, lengths, formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		copy_pg_error(s->conn, res, "storing snapshot", err, errlen);
		r = classify(s, res);
		goto out;
	}
	*snapshot_id = PQgetisnull(res, 0, 1) ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	r = strcmp(PQgetvalue(res, 0, 0), "stored") == 0 ? STORE_OK : STORE_DUPLICATE;
out:
	PQclear(res);
	free(groups.buf); free(channels.buf); free(units.buf); free(nums.buf); free(txts.buf);
	return r;
}

store_result snapshot_store_dead_letter(snapshot_store *s, const unsigned char digest[32],
                                        const char *topic, const unsigned char *payload, size_t len,
                                        const char *reason, const char *detail,
                                        char *err, size_t errlen)
{
	const char *params[5] = { (const char *)digest, topic, (const char *)payload, reason, detail };
	int lengths[5] = { 32, 0, (int)len, 0, 0 }, formats[5] = { 1, 0, 1, 0, 0 };
	PGresult *res;
	store_result r;

	if (snapshot_store_connect(s, err, errlen) != 0)
		return STORE_RETRY;
	res = PQexecPrepared(s->conn, "dead_letter", 5, params, lengths, formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		copy_pg_error(s->conn, res, "recording dead letter", err, errlen);
		r = classify(s, res);
		/* A dead letter the database refuses cannot be stored anywhere else. */
		PQclear(res);
		return r;
	}
	r = PQgetisnull(res, 0, 0) ? STORE_DUPLICATE : STORE_OK;
	PQclear(res);
	return r;
}
