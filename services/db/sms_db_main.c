/*
 * sms-db: database administration for the SMS services.
 *
 *   sms-db migrate --conninfo C [--sql-dir D]   apply pending migrations
 *   sms-db version --conninfo C                 print the schema version
 *   sms-db roles --conninfo C [--snapshotd-role R] [--admin-role R] [--reader-role R]
 *                                               least-privilege group roles
 *   sms-db dead-letters list|replay|purge ...   inspect, replay, remove dead letters
 *   sms-db devices [--format table|csv|json] [--crl FILE...]   per device: last seen, snapshots, certificate
 *   sms-db retention --keep 24months [--dry-run]   drop what is older (whole partitions first)
 *
 * Grants come from common/db_privileges.c, the same lists the programs check
 * at start, so a role made here is exactly what its program needs.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "common/db_migrate.h"
#include "common/db_privileges.h"
#include "common/pg_session.h"
#include "common/version.h"
#include "services/db/db_devices.h"
#include "services/db/db_retention.h"

#ifndef SMS_SQL_DIR
#define SMS_SQL_DIR "/usr/local/share/sms/sql"
#endif

typedef struct {
	const char *conninfo, *sql_dir;
	const char *role[3];          /* snapshotd, admin, reader */
	const char *reason, *since;
	long long id, older_than_days;
	int limit;
	const char *format, *keep;
	const char *crls[DB_DEVICES_MAX_CRLS];
	size_t n_crls;
	int dry_run;
	db_keep keep_parsed;
} options;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sms-db migrate --conninfo CONNINFO [--sql-dir DIR]\n"
	        "       sms-db version --conninfo CONNINFO\n"
	        "       sms-db roles --conninfo CONNINFO [--snapshotd-role R] [--admin-role R] [--reader-role R]\n"
	        "       sms-db dead-letters list [--reason R] [--since TIME] [--limit N] --conninfo CONNINFO\n"
	        "       sms-db dead-letters replay (--id N | --reason R) --conninfo CONNINFO\n"
	        "       sms-db dead-letters purge (--id N | --older-than DAYS) --conninfo CONNINFO\n"
	        "       sms-db devices [--format table|csv|json] [--crl FILE]... --conninfo CONNINFO\n"
	        "       sms-db retention --keep N(months|days) [--dry-run] --conninfo CONNINFO\n"
	        "       sms-db --version\n"
	        "\n"
	        "  migrate       apply the pending sql/NNN_*.sql migrations, each in one\n"
	        "                transaction; running it again is a no-op\n"
	        "  version       print the highest applied schema version (0: empty)\n"
	        "  roles         create (or reset) NOLOGIN group roles holding exactly the\n"
	        "                privileges each program uses: sms_snapshotd (sms-snapshotd),\n"
	        "                sms_admin (sms-db dead-letters), sms_reader (reading snapshots);\n"
	        "                run as the schema owner; then CREATE ROLE x LOGIN IN ROLE sms_snapshotd\n"
	        "  dead-letters  list: id, received, topic, reason, length, truncated, replay state\n"
	        "                replay: mark for sms-snapshotd to ingest again (its normal path,\n"
	        "                exactly once); truncated dead letters cannot be replayed\n"
	        "                purge: delete (the message stays recorded as handled)\n"
	        "  devices       per device: first and last seen, last snapshot (taken_at), number\n"
	        "                of snapshots, the E2E certificate it last used (serial, notAfter)\n"
	        "                and, with --crl, whether a CRL revokes it (any role with SELECT\n"
	        "                on the snapshot tables, e.g. sms_reader)\n"
	        "  retention     drops the monthly partitions of t_snapshot_values that lie wholly\n"
	        "                before the cut-off (now minus --keep, months counted from the\n"
	        "                start of this month), then deletes older rows of the default\n"
	        "                partition and of t_snapshot in batches; --dry-run prints the\n"
	        "                same plan and changes nothing; run as the schema owner\n"
	        "\n"
	        "  --conninfo C  libpq connection string (\"host=... dbname=...\")\n"
	        "  --sql-dir D   migrations directory (default %s)\n"
	        "  --format F    devices: table (default), csv or json\n"
	        "  --crl FILE    devices: a PEM CRL file (repeatable); revoked = its issuer\n"
	        "                and the certificate's serial are listed\n"
	        "  --keep N      retention: Nmonths (whole months) or Ndays, e.g. 24months\n"
	        "  --dry-run     retention: print what would be dropped and deleted, change nothing\n"
	        "  --help        this text\n"
	        "  --version     print the version\n"
	        "\n" SMS_EXIT_CODES_HELP, SMS_SQL_DIR);
}

static pg_class run_migrate(pg_session *db, const options *o, char *err, size_t errlen)
{
	PGconn *conn = pg_session_conn(db);
	int n = db_migrate(conn, o->sql_dir, err, errlen);

	if (n < 0)
		return PG_SETUP;
	printf("sms-db: %d migration%s applied, schema version %d\n", n, n == 1 ? "" : "s",
	       db_schema_version(conn, err, errlen));
	return PG_OK;
}

static pg_class run_version(pg_session *db, char *err, size_t errlen)
{
	int n = db_schema_version(pg_session_conn(db), err, errlen);

	if (n < 0)
		return PG_SETUP;
	printf("%d\n", n);
	return PG_OK;
}

/* Role names are ours to choose: keep them plain so no quoting can go wrong. */
static int valid_role_name(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > 63 || !(name[0] >= 'a' && name[0] <= 'z'))
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return 0;
	return 1;
}

/* The statement granting need to role; object names come from
 * db_privileges.c (ours), the role name is checked by valid_role_name. */
static int grant_sql(const pg_need *need, const char *role, const char *schema, char *sql, size_t len)
{
	int n;

	if (strcmp(need->privilege, "EXECUTE") == 0)
		n = snprintf(sql, len, "GRANT EXECUTE ON FUNCTION %s.%s TO %s", schema, need->object, role);
	else if (need->column != NULL)
		n = snprintf(sql, len, "GRANT %s (%s) ON TABLE %s.%s TO %s", need->privilege, need->column, schema,
		             need->object, role);
	else
		n = snprintf(sql, len, "GRANT %s ON TABLE %s.%s TO %s", need->privilege, schema, need->object, role);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

typedef struct {
	const db_role_spec *spec;
	const char *name;
	const char *schema;   /* quoted identifier */
} role_job;

static pg_class exec_fmt(pg_session *s, const char *what, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static pg_class exec_fmt(pg_session *s, const char *what, char *err, size_t errlen, const char *fmt, ...)
{
	char sql[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof sql) {
		snprintf(err, errlen, "%s: statement too long", what);
		return PG_SETUP;
	}
	return pg_session_exec(s, sql, PGRES_COMMAND_OK, what, err, errlen);
}

/* CREATE ROLE if missing, revoke whatever it held in the schema, grant the
 * list: afterwards the role holds exactly the list. */
static pg_class make_role(pg_session *s, void *arg, char *err, size_t errlen)
{
	const role_job *job = arg;
	char sql[1024], what[200];
	pg_class c;
	size_t i;

	snprintf(what, sizeof what, "creating role %s", job->name);
	c = exec_fmt(s, what, err, errlen, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') "
	             "THEN CREATE ROLE %s NOLOGIN; END IF; END $$", job->name, job->name);
	if (c == PG_OK)
		c = exec_fmt(s, what, err, errlen, "REVOKE ALL ON ALL TABLES IN SCHEMA %s FROM %s", job->schema, job->name);
	if (c == PG_OK)
		c = exec_fmt(s, what, err, errlen, "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %s FROM %s", job->schema,
		             job->name);
	for (i = 0; c == PG_OK && i < job->spec->n_needs; i++) {
		const pg_need *need = &job->spec->needs[i];
		snprintf(what, sizeof what, "granting %s on %s to %s", need->privilege, need->object, job->name);
		if (grant_sql(need, job->name, job->schema, sql, sizeof sql) != 0) {
			snprintf(err, errlen, "%s: statement too long", what);
			return PG_SETUP;
		}
		c = pg_session_exec(s, sql, PGRES_COMMAND_OK, what, err, errlen);
	}
	return c;
}

/* A GRANT by someone who may not grant is only a WARNING: check the role
 * really holds its list. */
static pg_class verify_role(pg_session *db, const role_job *job, char *err, size_t errlen)
{
	char *missing = NULL;
	pg_class c = pg_session_missing(db, job->name, job->spec->needs, job->spec->n_needs, &missing, err, errlen);

	if (c == PG_OK && *missing != '\0') {
		snprintf(err, errlen, "role %s did not get its grants (run sms-db roles as the owner of the schema); "
		         "it lacks %s", job->name, missing);
		c = PG_SETUP;
	}
	free(missing);
	return c;
}

/* The schema the migrations created the tables in, as a quoted identifier. */
static char *current_schema_ident(pg_session *db, char *err, size_t errlen)
{
	PGconn *conn = pg_session_conn(db);
	PGresult *res = PQexec(conn, "SELECT current_schema()");
	char *q = NULL;

	if (pg_session_check(db, res, PGRES_TUPLES_OK, "reading current_schema()", err, errlen) == PG_OK) {
		if (PQgetisnull(res, 0, 0))
			snprintf(err, errlen, "no current schema (search_path is empty)");
		else if ((q = PQescapeIdentifier(conn, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)))) == NULL)
			snprintf(err, errlen, "quoting the schema name failed");
	}
	PQclear(res);
	return q;
}

static pg_class run_roles(pg_session *db, const options *o, char *err, size_t errlen)
{
	const db_role_spec *specs[] = { &db_role_snapshotd, &db_role_admin, &db_role_reader, &db_role_firmware,
		                        &db_role_publisherd };
	const int n_specs = (int)(sizeof specs / sizeof specs[0]);
	role_job job;
	pg_class c = PG_OK;
	char *schema;
	int i;

	for (i = 0; i < 3; i++) {
		if (o->role[i] != NULL && !valid_role_name(o->role[i])) {
			snprintf(err, errlen, "role name '%.64s': use 1..63 of a-z, 0-9, _ (starting with a letter)",
			         o->role[i]);
			return PG_SETUP;
		}
	}
	schema = current_schema_ident(db, err, errlen);
	if (schema == NULL)
		return PG_SETUP;
	job.schema = schema;
	for (i = 0; i < n_specs && c == PG_OK; i++) {
		job.spec = specs[i];
		job.name = i < 3 && o->role[i] != NULL ? o->role[i] : specs[i]->role;
		c = pg_session_transaction(db, make_role, &job, err, errlen);
		if (c == PG_OK)
			c = verify_role(db, &job, err, errlen);
		if (c == PG_OK)
			printf("sms-db: role %s: %zu privileges, exactly what %s uses\n", job.name, specs[i]->n_needs,
			       specs[i]->program);
	}
	PQfreemem(schema);
	if (c != PG_OK)
		return c;
	printf("sms-db: these are NOLOGIN group roles; give each program or person a login of its own:\n"
	       "  CREATE ROLE snapshotd LOGIN PASSWORD '...' IN ROLE %s;\n"
	       "  CREATE ROLE ops_alice LOGIN PASSWORD '...' IN ROLE %s;\n",
	       o->role[0] != NULL ? o->role[0] : db_role_snapshotd.role,
	       o->role[1] != NULL ? o->role[1] : db_role_admin.role);
	return PG_OK;
}

/* --- dead letters */

static const char list_sql[] =
	"SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), topic, reason,"
	"       payload_length, CASE WHEN truncated THEN 'yes' ELSE 'no' END,"
	"       CASE WHEN replayed_at IS NOT NULL THEN 'replayed: snapshot ' || coalesce(replay_snapshot_id::text, '?')"
	"            WHEN replay_requested_at IS NOT NULL THEN 'requested'"
	"            WHEN replay_outcome IS NOT NULL THEN 'refused: ' || replay_outcome ELSE '' END"
	"  FROM t_dead_letter"
	" WHERE ($1::text IS NULL OR reason = $1) AND ($2::timestamptz IS NULL OR received_at >= $2)"
	" ORDER BY id LIMIT $3::int";

static pg_class dl_list(pg_session *db, const options *o, char *err, size_t errlen)
{
	char limit[16];
	const char *params[3] = { o->reason, o->since, limit };
	PGresult *res;
	pg_class c;
	int i;

	snprintf(limit, sizeof limit, "%d", o->limit);
	res = PQexecParams(pg_session_conn(db), list_sql, 3, NULL, params, NULL, NULL, 0);
	c = pg_session_check(db, res, PGRES_TUPLES_OK, "listing dead letters", err, errlen);
	if (c == PG_OK) {
		printf("%-8s %-20s %-40s %-20s %10s %-9s %s\n", "id", "received_at", "topic", "reason", "length",
		       "truncated", "replay");
		for (i = 0; i < PQntuples(res); i++)
			printf("%-8s %-20s %-40s %-20s %10s %-9s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			       PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
			       PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
	}
	PQclear(res);
	return c;
}

/* Runs a one-row statement with an id or reason filter; *count from column 0
 * and *other from column 1 (may be NULL). */
static pg_class exec_counts(pg_session *db, const char *sql, const char *what, const char *p1, const char *p2,
                            long long *count, long long *other, char *err, size_t errlen)
{
	const char *params[2] = { p1, p2 };
	PGresult *res = PQexecParams(pg_session_conn(db), sql, 2, NULL, params, NULL, NULL, 0);
	pg_class c = pg_session_check(db, res, PGRES_TUPLES_OK, what, err, errlen);

	if (c == PG_OK) {
		*count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		if (other != NULL)
			*other = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	return c;
}

static pg_class dl_replay(pg_session *db, const options *o, char *err, size_t errlen)
{
	static const char sql[] =
		"WITH sel AS (SELECT id, truncated FROM t_dead_letter"
		"              WHERE (id = $1::bigint OR reason = $2) AND replayed_at IS NULL),"
		"     upd AS (UPDATE t_dead_letter d SET replay_requested_at = now() FROM sel"
		"              WHERE d.id = sel.id AND NOT sel.truncated RETURNING d.id)"
		" SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM sel WHERE truncated)";
	char id[32];
	long long marked = 0, truncated = 0;
	pg_class c;

	snprintf(id, sizeof id, "%lld", o->id);
	c = exec_counts(db, sql, "marking dead letters for replay", o->id > 0 ? id : NULL, o->reason, &marked,
	                &truncated, err, errlen);
	if (c != PG_OK)
		return c;
	printf("sms-db: %lld dead letter(s) marked for replay; sms-snapshotd ingests them within its "
	       "database.replay_interval (see dead-letters list)\n", marked);
	if (truncated > 0)
		printf("sms-db: %lld truncated dead letter(s) cannot be replayed: only a prefix of the payload was "
		       "kept (limits.dead_letter_max_bytes); the device must send them again\n", truncated);
	return PG_OK;
}

static pg_class dl_purge(pg_session *db, const options *o, char *err, size_t errlen)
{
	static const char sql[] =
		"WITH del AS (DELETE FROM t_dead_letter"
		"              WHERE id = $1::bigint OR received_at < now() - make_interval(days => $2::int)"
		"              RETURNING id)"
		" SELECT count(*) FROM del";
	char id[32], days[32];
	long long n = 0;
	pg_class c;

	snprintf(id, sizeof id, "%lld", o->id);
	snprintf(days, sizeof days, "%lld", o->older_than_days);
	c = exec_counts(db, sql, "purging dead letters", o->id > 0 ? id : NULL,
	                o->older_than_days >= 0 ? days : NULL, &n, NULL, err, errlen);
	if (c == PG_OK)
		printf("sms-db: %lld dead letter(s) purged\n", n);
	return c;
}

static pg_class run_dead_letters(pg_session *db, const char *sub, const options *o, char *err, size_t errlen)
{
	const db_role_spec *r = &db_role_admin;
	pg_class c = pg_session_check_ready(db, "sms-db dead-letters", SMS_SCHEMA_VERSION, r->needs, r->n_needs,
	                                    err, errlen);

	if (c != PG_OK)
		return c;
	if (strcmp(sub, "list") == 0)
		return dl_list(db, o, err, errlen);
	if (strcmp(sub, "replay") == 0)
		return dl_replay(db, o, err, errlen);
	return dl_purge(db, o, err, errlen);
}

static pg_class run_devices(pg_session *db, const options *o, char *err, size_t errlen)
{
	const db_role_spec *r = &db_role_reader;
	pg_class c = pg_session_check_ready(db, "sms-db devices", SMS_SCHEMA_VERSION, r->needs, r->n_needs, err,
	                                    errlen);
	db_devices_format f = DB_DEVICES_TABLE;

	if (c != PG_OK)
		return c;
	if (o->format != NULL && strcmp(o->format, "csv") == 0)
		f = DB_DEVICES_CSV;
	else if (o->format != NULL && strcmp(o->format, "json") == 0)
		f = DB_DEVICES_JSON;
	return db_devices_print(db, f, o->crls, o->n_crls, stdout, err, errlen);
}

static pg_class run_retention(pg_session *db, const options *o, char *err, size_t errlen)
{
	return db_retention_run(db, &o->keep_parsed, o->dry_run, stdout, err, errlen);
}

/* 0 when the command line makes sense; otherwise a message on stderr and 2. */
static int check_command(const char *cmd, const char *sub, const options *o)
{
	if (strcmp(cmd, "retention") == 0 && (sub != NULL || o->keep == NULL)) {
		fprintf(stderr, "sms-db: retention needs --keep N(months|days); see --help\n");
		return 2;
	}
	if (strcmp(cmd, "devices") == 0 && o->format != NULL && strcmp(o->format, "table") != 0 &&
	    strcmp(o->format, "csv") != 0 && strcmp(o->format, "json") != 0) {
		fprintf(stderr, "sms-db: --format must be table, csv or json\n");
		return 2;
	}
	if (strcmp(cmd, "dead-letters") != 0) {
		if (sub != NULL || (strcmp(cmd, "migrate") != 0 && strcmp(cmd, "version") != 0 &&
		                    strcmp(cmd, "roles") != 0 && strcmp(cmd, "devices") != 0 &&
		                    strcmp(cmd, "retention") != 0)) {
			fprintf(stderr, "sms-db: unknown command '%s'; see --help\n", cmd);
			return 2;
		}
		return 0;
	}
	if (sub == NULL || (strcmp(sub, "list") != 0 && strcmp(sub, "replay") != 0 && strcmp(sub, "purge") != 0)) {
		fprintf(stderr, "sms-db: dead-letters needs list, replay or purge; see --help\n");
		return 2;
	}
	if (strcmp(sub, "replay") == 0 && (o->id > 0) == (o->reason != NULL)) {
		fprintf(stderr, "sms-db: dead-letters replay needs exactly one of --id N, --reason R\n");
		return 2;
	}
	if (strcmp(sub, "purge") == 0 && (o->id > 0) == (o->older_than_days >= 0)) {
		fprintf(stderr, "sms-db: dead-letters purge needs exactly one of --id N, --older-than DAYS\n");
		return 2;
	}
	return 0;
}

static int number_arg(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "conninfo", required_argument, NULL, 'c' },
		{ "sql-dir", required_argument, NULL, 'd' },
		{ "snapshotd-role", required_argument, NULL, 's' },
		{ "admin-role", required_argument, NULL, 'a' },
		{ "reader-role", required_argument, NULL, 'r' },
		{ "reason", required_argument, NULL, 'R' },
		{ "since", required_argument, NULL, 'S' },
		{ "limit", required_argument, NULL, 'l' },
		{ "id", required_argument, NULL, 'i' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'F' },
		{ "crl", required_argument, NULL, 'L' },
		{ "keep", required_argument, NULL, 'k' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	options o = { .sql_dir = SMS_SQL_DIR, .limit = 100, .older_than_days = -1 };
	const char *cmd, *sub;
	char err[1024];
	pg_session *db = NULL;
	pg_class c;
	long long v, hi;
	int opt, rc = 1;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'F': o.format = optarg; break;
		case 'k': o.keep = optarg; break;
		case 'n': o.dry_run = 1; break;
		case 'L':
			if (o.n_crls == DB_DEVICES_MAX_CRLS) {
				fprintf(stderr, "sms-db: at most %d --crl files\n", DB_DEVICES_MAX_CRLS);
				return 2;
			}
			o.crls[o.n_crls++] = optarg;
			break;
		case 'V': sms_print_version(stdout, "sms-db"); return 0;
		case 'c': o.conninfo = optarg; break;
		case 'd': o.sql_dir = optarg; break;
		case 's': o.role[0] = optarg; break;
		case 'a': o.role[1] = optarg; break;
		case 'r': o.role[2] = optarg; break;
		case 'R': o.reason = optarg; break;
		case 'S': o.since = optarg; break;
		case 'l':
		case 'i':
		case 'o':
			hi = opt == 'l' ? 1000000 : opt == 'o' ? 100000 : 1LL << 62;
			if (number_arg(optarg, opt == 'o' ? 0 : 1, hi, &v) != 0) {
				fprintf(stderr, "sms-db: --%s %s is not a valid number\n",
				        opt == 'l' ? "limit" : opt == 'i' ? "id" : "older-than", optarg);
				return 2;
			}
			if (opt == 'l')
				o.limit = (int)v;
			else if (opt == 'i')
				o.id = v;
			else
				o.older_than_days = v;
			break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "sms-db: unknown option or missing argument '%s'; see --help\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1 && optind != argc - 2) {
		fprintf(stderr, "sms-db: expected one command (migrate, version, roles, dead-letters, devices, "
		        "retention); see --help\n");
		return 2;
	}
	cmd = argv[optind];
	sub = optind == argc - 2 ? argv[optind + 1] : NULL;
	if (check_command(cmd, sub, &o) != 0)
		return 2;
	if (strcmp(cmd, "retention") == 0 && db_keep_parse(o.keep, &o.keep_parsed, err, sizeof err) != 0) {
		fprintf(stderr, "sms-db: %s\n", err);
		return 2;
	}
	if (o.conninfo == NULL) {
		fprintf(stderr, "sms-db: --conninfo is required\n");
		return 2;
	}
	db = pg_session_new(o.conninfo, "sms-db");
	if (db == NULL) {
		fprintf(stderr, "sms-db: out of memory\n");
		return 1;
	}
	c = pg_session_connect(db, err, sizeof err);
	if (c == PG_OK)
		c = pg_session_exec(db, "SET client_min_messages = warning", PGRES_COMMAND_OK, "setting client_min_messages",
		                    err, sizeof err);
	if (c == PG_OK) {
		if (strcmp(cmd, "migrate") == 0)
			c = run_migrate(db, &o, err, sizeof err);
		else if (strcmp(cmd, "version") == 0)
			c = run_version(db, err, sizeof err);
		else if (strcmp(cmd, "roles") == 0)
			c = run_roles(db, &o, err, sizeof err);
		else if (strcmp(cmd, "devices") == 0)
			c = run_devices(db, &o, err, sizeof err);
		else if (strcmp(cmd, "retention") == 0)
			c = run_retention(db, &o, err, sizeof err);
		else
			c = run_dead_letters(db, sub, &o, err, sizeof err);
	}
	if (c != PG_OK)
		fprintf(stderr, "sms-db: %s\n", err);
	else
		rc = 0;
	pg_session_free(db);
	return rc;
}
