/*
 * sms-firmware rollout create | pause | resume | abort | status, and
 * device history. A rollout's devices are fixed when it is created: the
 * target resolves against the devices the snapshot service knows
 * (t_device), keeping only those whose device type the release is built
 * for (a single device target is taken as given: the device itself
 * refuses other hardware). Their order is shuffled once, so the first
 * phase is a random sample. sms-publisherd does the rest.
 */
#include "services/firmware/firmware_cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fw_load_error.h"
#include "common/ident_grammar.h"
#include "services/firmware/firmware_db.h"

static const char *const device_states[] = { "queued", "offered", "downloading", "verified", "installing",
	                                     "succeeded", "failed", "rejected", "timed_out", "aborted" };
#define N_STATES (sizeof device_states / sizeof device_states[0])
#define FIRST_FINAL 5   /* succeeded and after: the device is done */

/* ------------------------------------------------------------- targets */

typedef struct {
	const char *kind;       /* device, account, master, device_type */
	char value[200];
	char parts[3][72];
	int n_parts;
} target;

static int split_ids(const char *s, target *t, int want)
{
	const char *p = s, *slash;
	size_t len;

	t->n_parts = 0;
	for (;;) {
		slash = strchr(p, '/');
		len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (t->n_parts == want || !ident_valid(p, len))
			return -1;
		memcpy(t->parts[t->n_parts], p, len);
		t->parts[t->n_parts++][len] = '\0';
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return t->n_parts == want ? 0 : -1;
}

static int parse_target(const char *s, target *t)
{
	static const struct {
		const char *prefix, *kind;
		int parts;
	} kinds[] = { { "device:", "device", 3 }, { "account:", "account", 2 }, { "master:", "master", 1 },
		      { "type:", "device_type", 0 } };
	size_t i, n;

	if (s == NULL)
		return firmware_fail("--target is needed: device:MA/ACC/EQ, account:MA/ACC, master:MA or type:TYPE");
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		n = strlen(kinds[i].prefix);
		if (strncmp(s, kinds[i].prefix, n) != 0)
			continue;
		t->kind = kinds[i].kind;
		if (strlen(s + n) >= sizeof t->value)
			break;
		strcpy(t->value, s + n);
		if (kinds[i].parts == 0 ? !fw_hardware_valid(t->value) : split_ids(t->value, t, kinds[i].parts) != 0)
			break;
		return 0;
	}
	return firmware_fail("--target %s: device:MA/ACC/EQ, account:MA/ACC, master:MA or type:TYPE", s);
}

/* ------------------------------------------------------------- create */

typedef struct {
	int rate, abort_hundredths, has_abort, phases[FIRMWARE_MAX_PHASES];
	size_t n_phases;
	time_t deadline;
	int has_deadline;
} rollout_opts;

static int parse_rollout_opts(const firmware_opts *o, rollout_opts *r)
{
	memset(r, 0, sizeof *r);
	r->rate = 60;
	r->phases[0] = 100;
	r->n_phases = 1;
	if (o->rate != NULL && firmware_parse_rate(o->rate, &r->rate) != 0)
		return firmware_fail("--rate %s: N/min with N 1..1000000", o->rate);
	if (o->abort_failures != NULL) {
		if (firmware_parse_percent(o->abort_failures, &r->abort_hundredths) != 0)
			return firmware_fail("--abort-failures %s: a percentage 0..100 (e.g. 10%%)", o->abort_failures);
		r->has_abort = 1;
	}
	if (o->phases != NULL && firmware_parse_phases(o->phases, r->phases, &r->n_phases) != 0)
		return firmware_fail("--phase %s: ascending percentages ending at 100%% (e.g. 5%%,25%%,100%%)", o->phases);
	if (o->deadline != NULL) {
		if (firmware_parse_time(o->deadline, time(NULL), &r->deadline) != 0)
			return firmware_fail("--deadline %s: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or +N(s|m|h|d)", o->deadline);
		if (r->deadline <= time(NULL))
			return firmware_fail("--deadline %s is not in the future", o->deadline);
		r->has_deadline = 1;
	}
	return 0;
}

static const char insert_rollout[] =
	"INSERT INTO t_fw_rollout (release_id, target_kind, target, rate_per_min, phases, abort_failures, deadline)"
	" SELECT id, $2, $3, $4::int, $5::smallint[], $6::numeric / 100, to_timestamp($7::bigint)"
	"   FROM t_fw_release WHERE release = $1 RETURNING id";

/* The target's devices of the release's hardware, shuffled. $1 rollout,
 * $2 kind, $3..$5 the target's parts. */
static const char insert_devices[] =
	"INSERT INTO t_fw_rollout_device (rollout_id, equipment, seq)"
	" SELECT $1::bigint, eq, (row_number() OVER (ORDER BY random()))::int - 1 FROM ("
	"   SELECT m.name || '/' || a.name || '/' || d.equipment AS eq"
	"     FROM t_device d JOIN t_account a ON a.id = d.account_id"
	"     JOIN t_master_account m ON m.id = a.master_account_id JOIN t_device_type t ON t.id = d.device_type_id"
	"     JOIN t_fw_rollout r ON r.id = $1::bigint JOIN t_fw_release rel ON rel.id = r.release_id"
	"    WHERE t.name = ANY (rel.hardware)"
	"      AND CASE $2 WHEN 'account' THEN m.name = $3 AND a.name = $4"
	"                  WHEN 'master' THEN m.name = $3"
	"                  ELSE t.name = $3 END) s";

static const char count_other_hardware[] =
	"SELECT count(*) FROM t_device d JOIN t_account a ON a.id = d.account_id"
	"  JOIN t_master_account m ON m.id = a.master_account_id JOIN t_device_type t ON t.id = d.device_type_id"
	"  JOIN t_fw_release rel ON rel.release = $4"
	" WHERE NOT (t.name = ANY (rel.hardware))"
	"   AND CASE $1 WHEN 'account' THEN m.name = $2 AND a.name = $3 WHEN 'master' THEN m.name = $2"
	"               ELSE t.name = $2 END";

static int release_check(pg_session *db, const char *release, const target *t)
{
	const char *p[2] = { release, t->value };
	PGresult *res = firmware_db_query(db, "reading the release", PGRES_TUPLES_OK,
	                                  "SELECT expires <= now(), $2 = ANY (hardware) FROM t_fw_release"
	                                  " WHERE release = $1", 2, p);
	int rc = 1;

	if (res == NULL)
		return 1;
	if (PQntuples(res) != 1)
		firmware_fail("no release %s (sms-firmware release list)", release);
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		firmware_fail("release %s has expired: devices would refuse it", release);
	else if (strcmp(t->kind, "device_type") == 0 && strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		firmware_fail("release %s is not built for device type %s", release, t->value);
	else
		rc = 0;
	PQclear(res);
	return rc;
}

static void phases_text(const rollout_opts *r, char *buf, size_t len, int pct)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < r->n_phases && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%d%s", i ? "," : "", r->phases[i], pct ? "%" : "");
}

static int create_rows(pg_session *db, const char *release, const target *t, const rollout_opts *r, char *id,
                       size_t idlen, long *n_devices, long *n_other)
{
	char rate[16], phases[100], abort_pct[16], deadline[24];
	const char *p[7] = { release, t->kind, t->value, rate, phases, r->has_abort ? abort_pct : NULL,
		             r->has_deadline ? deadline : NULL };
	const char *d[5] = { NULL, t->kind, t->parts[0], t->parts[1], release };
	PGresult *res;

	snprintf(rate, sizeof rate, "%d", r->rate);
	phases[0] = '{';
	phases_text(r, phases + 1, sizeof phases - 2, 0);
	strcat(phases, "}");
	snprintf(abort_pct, sizeof abort_pct, "%d", r->abort_hundredths);
	snprintf(deadline, sizeof deadline, "%lld", (long long)r->deadline);
	if ((res = firmware_db_query(db, "creating the rollout", PGRES_TUPLES_OK, insert_rollout, 7, p)) == NULL)
		return 1;
	snprintf(id, idlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	d[0] = id;
	if (strcmp(t->kind, "device") == 0) {
		const char *one[2] = { id, t->value };
		res = firmware_db_query(db, "adding the device", PGRES_COMMAND_OK,
		                        "INSERT INTO t_fw_rollout_device (rollout_id, equipment, seq)"
		                        " VALUES ($1::bigint, $2, 0)", 2, one);
		*n_other = 0;
	} else {
		if (strcmp(t->kind, "device_type") == 0)
			d[2] = t->value;
		res = firmware_db_query(db, "adding the devices", PGRES_COMMAND_OK, insert_devices, 4, d);
		if (res != NULL) {
			PGresult *o = firmware_db_query(db, "counting other hardware", PGRES_TUPLES_OK, count_other_hardware,
			                                4, d + 1);
			*n_other = o != NULL ? atol(PQgetvalue(o, 0, 0)) : 0;
			PQclear(o);
		}
	}
	if (res == NULL)
		return 1;
	*n_devices = atol(PQcmdTuples(res));
	PQclear(res);
	if (*n_devices == 0)
		return firmware_fail("no device of the release's hardware matches --target %s:%s (devices are known once"
		                     " they sent a snapshot)", strcmp(t->kind, "device_type") == 0 ? "type" : t->kind,
		                     t->value);
	return 0;
}

int firmware_rollout_create(const firmware_opts *o, const char *release)
{
	char id[24], phases[100], err[512];
	rollout_opts r;
	long n = 0, other = 0;
	target t;
	pg_session *db;
	int rc = 1;

	memset(&t, 0, sizeof t);
	if (parse_target(o->target, &t) != 0 || parse_rollout_opts(o, &r) != 0)
		return 1;
	if ((db = firmware_db_open(o->conninfo)) == NULL)
		return 1;
	if (release_check(db, release, &t) != 0)
		goto out;
	if (pg_session_exec(db, "BEGIN", PGRES_COMMAND_OK, "BEGIN", err, sizeof err) != PG_OK) {
		firmware_fail("%s", err);
		goto out;
	}
	if (create_rows(db, release, &t, &r, id, sizeof id, &n, &other) != 0) {
		pg_session_exec(db, "ROLLBACK", PGRES_COMMAND_OK, "ROLLBACK", err, sizeof err);
		goto out;
	}
	if (pg_session_exec(db, "COMMIT", PGRES_COMMAND_OK, "COMMIT", err, sizeof err) != PG_OK) {
		firmware_fail("%s", err);
		goto out;
	}
	phases_text(&r, phases, sizeof phases, 1);
	printf("rollout %s: release %s to %ld device%s", id, release, n, n == 1 ? "" : "s");
	if (other > 0)
		printf(" (%ld of other hardware left out)", other);
	printf(", %d/min, phases %s", r.rate, phases);
	if (r.has_abort)
		printf(", abort at %d.%02d%% failures", r.abort_hundredths / 100, r.abort_hundredths % 100);
	printf("\n");
	rc = 0;
out:
	pg_session_free(db);
	return rc;
}

/* ------------------------------------------------ pause, resume, abort */

int firmware_rollout_control(const firmware_opts *o, const char *action, const char *id)
{
	static const struct {
		const char *action, *sql, *from;
	} acts[] = {
		{ "pause", "UPDATE t_fw_rollout SET state = 'paused' WHERE id = $1::bigint AND state = 'running'",
		  "running" },
		{ "resume", "UPDATE t_fw_rollout SET state = 'running' WHERE id = $1::bigint AND state = 'paused'",
		  "paused" },
		{ "abort", "UPDATE t_fw_rollout SET state = 'aborted', end_reason = 'operator', finished_at = now()"
		           " WHERE id = $1::bigint AND state IN ('running', 'paused')", "running or paused" },
	};
	const char *p[1] = { id };
	pg_session *db;
	PGresult *res;
	size_t i;
	int rc = 1;

	for (i = 0; i < sizeof acts / sizeof acts[0] && strcmp(acts[i].action, action) != 0; i++)
		;
	if (id[0] < '1' || id[0] > '9' || strspn(id, "0123456789") != strlen(id) || strlen(id) > 18)
		return firmware_fail("rollout %s: ID is a rollout number", action);
	if ((db = firmware_db_open(o->conninfo)) == NULL)
		return 1;
	if ((res = firmware_db_query(db, action, PGRES_COMMAND_OK, acts[i].sql, 1, p)) != NULL) {
		if (strcmp(PQcmdTuples(res), "1") == 0) {
			printf("rollout %s: %s\n", id, strcmp(action, "pause") == 0    ? "paused"
			                               : strcmp(action, "resume") == 0 ? "running"
			                                                               : "aborted");
			rc = 0;
		} else {
			firmware_fail("rollout %s: no such rollout, or it is not %s", id, acts[i].from);
		}
	}
	PQclear(res);
	pg_session_free(db);
	return rc;
}

/* --------------------------------------------------------------- status */

static const char status_sql[] =
	"SELECT r.id, rel.release, r.target_kind || ':' || r.target, r.state, coalesce(r.end_reason, ''),"
	"       r.phase, array_to_string(r.phases, '%,') || '%', r.rate_per_min,"
	"       coalesce(r.abort_failures::text || '%', '-'),"
	"       coalesce(to_char(r.deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'),"
	"       to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	"  FROM t_fw_rollout r JOIN t_fw_release rel ON rel.id = r.release_id WHERE r.id = $1::bigint";

static void bar(long part, long total, int width)
{
	int fill = total > 0 ? (int)(part * width / total) : 0, i;

	putchar('[');
	for (i = 0; i < width; i++)
		putchar(i < fill ? '#' : '.');
	putchar(']');
}

/* 1: the rollout will not change any more. */
static int print_status(pg_session *db, const char *id, int *over)
{
	const char *p[1] = { id };
	PGresult *r = firmware_db_query(db, "reading the rollout", PGRES_TUPLES_OK, status_sql, 1, p), *c;
	long counts[N_STATES] = { 0 }, total = 0, done = 0;
	size_t i;
	int k;

	if (r == NULL)
		return 1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return firmware_fail("no rollout %s", id);
	}
	c = firmware_db_query(db, "counting devices", PGRES_TUPLES_OK,
	                      "SELECT state, count(*) FROM t_fw_rollout_device WHERE rollout_id = $1::bigint GROUP BY state",
	                      1, p);
	if (c == NULL) {
		PQclear(r);
		return 1;
	}
	for (k = 0; k < PQntuples(c); k++)
		for (i = 0; i < N_STATES; i++)
			if (strcmp(PQgetvalue(c, k, 0), device_states[i]) == 0) {
				counts[i] = atol(PQgetvalue(c, k, 1));
				total += counts[i];
				if (i >= FIRST_FINAL)
					done += counts[i];
			}
	printf("rollout %s  release %s  target %s\n", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
	printf("state %s%s%s%s  phase %s of %s  rate %s/min  abort at %s  deadline %s  created %s\n",
	       PQgetvalue(r, 0, 3), *PQgetvalue(r, 0, 4) ? " (" : "", PQgetvalue(r, 0, 4), *PQgetvalue(r, 0, 4) ? ")" : "",
	       PQgetvalue(r, 0, 5), PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 7), PQgetvalue(r, 0, 8), PQgetvalue(r, 0, 9),
	       PQgetvalue(r, 0, 10));
	printf("%-12s %8s\n", "state", "devices");
	for (i = 0; i < N_STATES; i++) {
		printf("%-12s %8ld ", device_states[i], counts[i]);
		bar(counts[i], total, 40);
		putchar('\n');
	}
	printf("%-12s %8ld\nprogress ", "total", total);
	bar(done, total, 50);
	printf(" %ld/%ld done (%ld%%)\n", done, total, total ? done * 100 / total : 100);
	*over = (strcmp(PQgetvalue(r, 0, 3), "finished") == 0 || strcmp(PQgetvalue(r, 0, 3), "aborted") == 0) &&
	        done == total;
	PQclear(r);
	PQclear(c);
	return 0;
}

int firmware_rollout_status(const firmware_opts *o, const char *id)
{
	pg_session *db;
	int rc, over = 0, tty = isatty(STDOUT_FILENO);

	if (id[0] < '1' || id[0] > '9' || strspn(id, "0123456789") != strlen(id) || strlen(id) > 18)
		return firmware_fail("rollout status: ID is a rollout number");
	if ((db = firmware_db_open(o->conninfo)) == NULL)
		return 1;
	for (;;) {
		if (o->watch > 0 && tty)
			printf("\033[H\033[2J");
		rc = print_status(db, id, &over);
		fflush(stdout);
		if (rc != 0 || o->watch == 0 || over)
			break;
		printf("\n");
		sleep((unsigned)o->watch);
	}
	pg_session_free(db);
	return rc;
}

/* --------------------------------------------------------------- history */

int firmware_device_history(const firmware_opts *o, const char *equipment)
{
	static const char sql[] =
		"SELECT to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), t.rollout_id, rel.release,"
		"       coalesce(t.from_state, '-'), t.to_state, coalesce(t.code::text, ''), coalesce(t.detail, '')"
		"  FROM t_fw_transition t JOIN t_fw_rollout r ON r.id = t.rollout_id"
		"  JOIN t_fw_release rel ON rel.id = r.release_id WHERE t.equipment = $1 ORDER BY t.id";
	const char *p[1] = { equipment };
	target t;
	pg_session *db;
	PGresult *res;
	const char *name;
	int i, rc = 1;

	if (split_ids(equipment, &t, 3) != 0)
		return firmware_fail("device history: EQ is MA/ACC/EQ");
	if ((db = firmware_db_open(o->conninfo)) == NULL)
		return 1;
	if ((res = firmware_db_query(db, "reading the history", PGRES_TUPLES_OK, sql, 1, p)) != NULL) {
		printf("%-25s %7s %-28s %-12s %-12s %s\n", "at", "rollout", "release", "from", "to", "code / detail");
		for (i = 0; i < PQntuples(res); i++) {
			name = *PQgetvalue(res, i, 5) ? fw_load_error_name(atoi(PQgetvalue(res, i, 5))) : NULL;
			printf("%-25s %7s %-28s %-12s %-12s %s%s%s%s%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			       PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), name ? name : "",
			       name ? " (" : "", name ? PQgetvalue(res, i, 5) : "", name ? ") " : "", PQgetvalue(res, i, 6));
		}
		if (PQntuples(res) == 0)
			printf("(no firmware history for %s)\n", equipment);
		rc = 0;
	}
	PQclear(res);
	pg_session_free(db);
	return rc;
}
