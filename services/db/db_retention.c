/* sms-db retention; contract in db_retention.h. */
#include "services/db/db_retention.h"

#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

int db_keep_parse(const char *s, db_keep *out, char *err, size_t errlen)
{
	char *end;
	long n = strtol(s, &end, 10);

	while (*end == ' ')
		end++;
	if (end == s || n < 1 || n > 1200) {
		snprintf(err, errlen, "--keep %s: expected a count 1..1200 and months or days, like 24months", s);
		return -1;
	}
	out->n = (int)n;
	if (strcmp(end, "months") == 0 || strcmp(end, "month") == 0)
		out->months = 1;
	else if (strcmp(end, "days") == 0 || strcmp(end, "day") == 0 || strcmp(end, "d") == 0)
		out->months = 0;
	else {
		snprintf(err, errlen, "--keep %s: the unit must be months or days, like 24months", s);
		return -1;
	}
	return 0;
}

static const char cutoff_sql[] =
	"SELECT to_char(CASE WHEN $2::boolean"
	"   THEN (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => $1::int)) AT TIME ZONE 'UTC'"
	"   ELSE now() - make_interval(days => $1::int) END AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

/* Monthly partitions whose upper bound is at or before the cut-off. */
static const char partitions_sql[] =
	"SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
	" WHERE i.inhparent = 't_snapshot_values'::regclass AND c.relname ~ '^t_snapshot_values_[0-9]{6}$'"
	"   AND (to_date(right(c.relname, 6), 'YYYYMM')::timestamp + interval '1 month') AT TIME ZONE 'UTC'"
	"       <= $1::timestamptz"
	" ORDER BY c.relname";

static const char count_sql[] =
	"SELECT (SELECT count(*) FROM t_snapshot_values_default WHERE taken_at < $1::timestamptz),"
	"       (SELECT count(*) FROM t_snapshot WHERE taken_at < $1::timestamptz)";

static const char delete_values_sql[] =
	"WITH d AS (DELETE FROM t_snapshot_values_default WHERE ctid IN"
	"  (SELECT ctid FROM t_snapshot_values_default WHERE taken_at < $1::timestamptz LIMIT " DB_RETENTION_BATCH_S ")"
	"  RETURNING 1) SELECT count(*) FROM d";

/* One batch of snapshots: the references to them go first, in the same transaction. */
static const char pick_snapshots_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS sms_retention_batch (id bigint PRIMARY KEY) ON COMMIT DELETE ROWS";
static const char fill_batch_sql[] =
	"INSERT INTO sms_retention_batch SELECT id FROM t_snapshot WHERE taken_at < $1::timestamptz LIMIT " DB_RETENTION_BATCH_S;
static const char unref_log_sql[] =
	"UPDATE t_ingest_log SET snapshot_id = NULL WHERE snapshot_id IN (SELECT id FROM sms_retention_batch)";
static const char unref_dl_sql[] =
	"UPDATE t_dead_letter SET replay_snapshot_id = NULL"
	" WHERE replay_snapshot_id IN (SELECT id FROM sms_retention_batch)";
static const char delete_snapshots_sql[] =
	"WITH d AS (DELETE FROM t_snapshot WHERE id IN (SELECT id FROM sms_retention_batch) RETURNING 1)"
	" SELECT count(*) FROM d";

/* A one-parameter statement; its first value into *n when n is not NULL. */
static pg_class exec1(pg_session *db, const char *sql, const char *p1, ExecStatusType want, const char *what,
                      long long *n, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(pg_session_conn(db), sql, p1 != NULL, NULL, &p1, NULL, NULL, 0);
	pg_class c = pg_session_check(db, res, want, what, err, errlen);

	if (c == PG_OK && n != NULL)
		*n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return c;
}

static pg_class drop_partition(pg_session *db, const char *name, char *err, size_t errlen)
{
	PGconn *conn = pg_session_conn(db);
	char *ident = PQescapeIdentifier(conn, name, strlen(name));
	char sql[256], what[160];
	pg_class c;

	if (ident == NULL) {
		snprintf(err, errlen, "quoting %s failed", name);
		return PG_SETUP;
	}
	snprintf(sql, sizeof sql, "DROP TABLE %s", ident);
	snprintf(what, sizeof what, "dropping partition %s", name);
	PQfreemem(ident);
	return c = pg_session_exec(db, sql, PGRES_COMMAND_OK, what, err, errlen);
}

static pg_class delete_values(pg_session *db, const char *cutoff, long long *total, char *err, size_t errlen)
{
	long long n;
	pg_class c;

	*total = 0;
	do {
		c = exec1(db, delete_values_sql, cutoff, PGRES_TUPLES_OK, "deleting old values of the default partition",
		          &n, err, errlen);
		if (c == PG_OK)
			*total += n;
	} while (c == PG_OK && n > 0);
	return c;
}

typedef struct {
	const char *cutoff;
	long long n;
} snapshot_batch;

static pg_class delete_snapshot_batch(pg_session *db, void *arg, char *err, size_t errlen)
{
	snapshot_batch *b = arg;
	pg_class c = exec1(db, pick_snapshots_sql, NULL, PGRES_COMMAND_OK, "retention batch table", NULL, err, errlen);

	if (c == PG_OK)
		c = exec1(db, fill_batch_sql, b->cutoff, PGRES_COMMAND_OK, "choosing old snapshots", NULL, err, errlen);
	if (c == PG_OK)
		c = exec1(db, unref_log_sql, NULL, PGRES_COMMAND_OK, "unlinking the ingest log", NULL, err, errlen);
	if (c == PG_OK)
		c = exec1(db, unref_dl_sql, NULL, PGRES_COMMAND_OK, "unlinking replayed dead letters", NULL, err, errlen);
	if (c == PG_OK)
		c = exec1(db, delete_snapshots_sql, NULL, PGRES_TUPLES_OK, "deleting old snapshots", &b->n, err, errlen);
	return c;
}

static pg_class delete_snapshots(pg_session *db, const char *cutoff, long long *total, char *err, size_t errlen)
{
	snapshot_batch b = { cutoff, 0 };
	pg_class c;

	*total = 0;
	do {
		c = pg_session_transaction(db, delete_snapshot_batch, &b, err, errlen);
		if (c == PG_OK)
			*total += b.n;
	} while (c == PG_OK && b.n > 0);
	return c;
}

pg_class db_retention_run(pg_session *db, const db_keep *keep, int dry_run, FILE *out, char *err, size_t errlen)
{
	char nbuf[16], cutoff[40];
	const char *params[2] = { nbuf, keep->months ? "true" : "false" };
	PGresult *res, *parts = NULL;
	long long old_values = 0, old_snapshots = 0, done;
	pg_class c;
	int i;

	snprintf(nbuf, sizeof nbuf, "%d", keep->n);
	res = PQexecParams(pg_session_conn(db), cutoff_sql, 2, NULL, params, NULL, NULL, 0);
	c = pg_session_check(db, res, PGRES_TUPLES_OK, "computing the cut-off", err, errlen);
	if (c == PG_OK)
		snprintf(cutoff, sizeof cutoff, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (c != PG_OK)
		return c;
	params[0] = cutoff;
	parts = PQexecParams(pg_session_conn(db), partitions_sql, 1, NULL, params, NULL, NULL, 0);
	c = pg_session_check(db, parts, PGRES_TUPLES_OK, "listing partitions", err, errlen);
	if (c != PG_OK)
		goto out;
	res = PQexecParams(pg_session_conn(db), count_sql, 1, NULL, params, NULL, NULL, 0);
	c = pg_session_check(db, res, PGRES_TUPLES_OK, "counting old rows", err, errlen);
	if (c == PG_OK) {
		old_values = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		old_snapshots = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	if (c != PG_OK)
		goto out;
	fprintf(out, "sms-db: retention keeps %d %s: everything taken before %s goes%s\n", keep->n,
	        keep->months ? "month(s)" : "day(s)", cutoff, dry_run ? " (dry run: nothing is changed)" : "");
	for (i = 0; i < PQntuples(parts); i++)
		fprintf(out, "sms-db: %s partition %s\n", dry_run ? "would drop" : "dropping", PQgetvalue(parts, i, 0));
	fprintf(out, "sms-db: %s %lld value row(s) of t_snapshot_values_default and %lld snapshot(s) of t_snapshot "
	        "(batches of %d)\n", dry_run ? "would delete" : "deleting", old_values, old_snapshots, DB_RETENTION_BATCH);
	if (dry_run)
		goto out;
	for (i = 0; c == PG_OK && i < PQntuples(parts); i++)
		c = drop_partition(db, PQgetvalue(parts, i, 0), err, errlen);
	if (c == PG_OK)
		c = delete_values(db, cutoff, &done, err, errlen);
	if (c == PG_OK)
		c = delete_snapshots(db, cutoff, &done, err, errlen);
	if (c == PG_OK)
		fprintf(out, "sms-db: retention done: %d partition(s) dropped, %lld snapshot(s) deleted\n", PQntuples(parts),
		        done);
out:
	PQclear(parts);
	return c;
}
