/* PostgreSQL session and error classes; contract in pg_session.h. */
#include "common/pg_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECT_BACKOFF_MIN_MS 100
#define CONNECT_BACKOFF_MAX_MS 5000

struct pg_session {
	char *conninfo;
	char *application_name;
	PGconn *conn;
	int fresh;
};

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

pg_class pg_classify_sqlstate(const char *st)
{
	static const char *const transient[] = {
		"08",                               /* connection exception */
		"53",                               /* insufficient resources */
		"57P01", "57P02", "57P03", "57014", /* shutdown, crash, cannot connect now, canceled */
		"40001", "40P01", "40003",          /* serialization, deadlock, completion unknown */
		"55P03", "58",                      /* lock not available, system (I/O) error */
		"25006",                            /* read-only transaction: a standby after failover */
		"26000",                            /* prepared statement gone: reconnect re-prepares */
		"XX001", "XX002",                   /* corruption: not this message, keep it */
	};
	static const char *const setup[] = {
		"42",    /* privileges, undefined table/function/object, our SQL vs the schema */
		"3F",    /* invalid schema name */
		"3D",    /* invalid catalog (database) name */
		"28",    /* authorization */
		"0A",    /* feature not supported */
		"2F", "39", "25", "55", "57P04", "F0", "0L", "0P",
	};
	size_t i;

	if (st == NULL || strlen(st) != 5)
		return PG_TRANSIENT;
	if (strcmp(st, "00000") == 0)
		return PG_OK;
	for (i = 0; i < sizeof transient / sizeof *transient; i++)
		if (has_prefix(st, transient[i]))
			return PG_TRANSIENT;
	for (i = 0; i < sizeof setup / sizeof *setup; i++)
		if (has_prefix(st, setup[i]))
			return PG_SETUP;
	/* 22 data exception, 23 integrity, P0001, the schema's SMSxx: this data. */
	return PG_DATA;
}

const char *pg_class_name(pg_class c)
{
	switch (c) {
	case PG_OK: return "ok";
	case PG_TRANSIENT: return "transient";
	case PG_SETUP: return "setup";
	case PG_DATA: return "data";
	}
	return "?";
}

pg_session *pg_session_new(const char *conninfo, const char *application_name)
{
	pg_session *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->conninfo = strdup(conninfo);
	s->application_name = strdup(application_name);
	if (s->conninfo == NULL || s->application_name == NULL) {
		pg_session_free(s);
		return NULL;
	}
	return s;
}

void pg_session_free(pg_session *s)
{
	if (s == NULL)
		return;
	PQfinish(s->conn);
	free(s->conninfo);
	free(s->application_name);
	free(s);
}

void pg_session_disconnect(pg_session *s)
{
	PQfinish(s->conn);
	s->conn = NULL;
	s->fresh = 0;
}

PGconn *pg_session_conn(pg_session *s)
{
	return s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK ? s->conn : NULL;
}

int pg_session_fresh(pg_session *s)
{
	int f = s->fresh;

	s->fresh = 0;
	return f;
}

/* The server's reason from a libpq message: the text after the last
 * "FATAL:" (or the whole first line), without the trailing newline. */
static void server_reason(const char *msg, char *out, size_t outlen)
{
	const char *p = msg, *f;

	while ((f = strstr(p, "FATAL:")) != NULL)
		p = f + 6;
	while (*p == ' ')
		p++;
	snprintf(out, outlen, "%s", p);
	out[strcspn(out, "\n")] = '\0';
}

/* libpq gives no SQLSTATE for a failed start-up, so the class comes from the
 * server's (English, lc_messages is not ours to set before login) text.
 * Unknown texts count as transient: retried, and logged with the reason. */
static pg_class classify_connect_failure(const char *reason)
{
	static const char *const setup[] = {
		"authentication failed", "no pg_hba.conf entry", "does not exist", "not permitted to log in",
		"permission denied", "password", "certificate", "SSL", "too many connections for role",
	};
	size_t i;

	if (strstr(reason, "starting up") != NULL || strstr(reason, "shutting down") != NULL ||
	    strstr(reason, "recovery") != NULL)
		return PG_TRANSIENT;
	for (i = 0; i < sizeof setup / sizeof *setup; i++)
		if (strstr(reason, setup[i]) != NULL)
			return PG_SETUP;
	return PG_TRANSIENT;
}

pg_class pg_session_connect(pg_session *s, char *err, size_t errlen)
{
	const char *keys[] = { "dbname", "application_name", "client_encoding", NULL };
	const char *vals[] = { s->conninfo, s->application_name, "UTF8", NULL };
	char reason[400];
	pg_class c;

	if (pg_session_conn(s) != NULL)
		return PG_OK;
	pg_session_disconnect(s);
	/* expand_dbname: the conninfo string is parsed as such; our keys add to it. */
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (s->conn == NULL) {
		snprintf(err, errlen, "database: out of memory connecting");
		return PG_TRANSIENT;
	}
	if (PQstatus(s->conn) == CONNECTION_OK) {
		s->fresh = 1;
		return PG_OK;
	}
	server_reason(PQerrorMessage(s->conn), reason, sizeof reason);
	c = classify_connect_failure(reason);
	/* PQuser/PQhost/PQport/PQdb are what libpq used: the password is never among them. */
	snprintf(err, errlen, "database: %s (user=%s host=%s port=%s dbname=%s)", reason,
	         PQuser(s->conn) ? PQuser(s->conn) : "?", PQhost(s->conn) ? PQhost(s->conn) : "?",
	         PQport(s->conn) ? PQport(s->conn) : "?", PQdb(s->conn) ? PQdb(s->conn) : "?");
	pg_session_disconnect(s);
	return c;
}

pg_class pg_session_connect_retry(pg_session *s, long max_wait_ms, char *err, size_t errlen)
{
	long waited = 0, backoff = CONNECT_BACKOFF_MIN_MS;
	struct timespec ts;
	pg_class c;

	for (;;) {
		c = pg_session_connect(s, err, errlen);
		if (c != PG_TRANSIENT || waited >= max_wait_ms)
			return c;
		ts.tv_sec = backoff / 1000;
		ts.tv_nsec = (backoff % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		waited += backoff;
		backoff = backoff * 2 > CONNECT_BACKOFF_MAX_MS ? CONNECT_BACKOFF_MAX_MS : backoff * 2;
	}
}

pg_class pg_session_check(pg_session *s, const PGresult *res, ExecStatusType want, const char *what,
                          char *err, size_t errlen)
{
	const char *state = NULL, *msg = "";
	pg_class c;

	if (res != NULL && PQresultStatus(res) == want)
		return PG_OK;
	if (res != NULL && PQresultStatus(res) != PGRES_FATAL_ERROR && PQresultStatus(res) != PGRES_NONFATAL_ERROR &&
	    PQresultStatus(res) != PGRES_BAD_RESPONSE) {
		/* The server did what we asked, but not what we expected: our SQL
		 * does not fit the schema. */
		snprintf(err, errlen, "%s: unexpected result %s, wanted %s", what, PQresStatus(PQresultStatus(res)),
		         PQresStatus(want));
		return PG_SETUP;
	}
	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorMessage(res);
	}
	if ((msg == NULL || *msg == '\0') && s->conn != NULL)
		msg = PQerrorMessage(s->conn);
	if (msg == NULL || *msg == '\0')
		msg = res != NULL ? PQresStatus(PQresultStatus(res)) : "no result";
	snprintf(err, errlen, "%s: %s", what, msg);
	err[strcspn(err, "\n")] = '\0';
	if (state != NULL) {
		size_t n = strlen(err);
		snprintf(err + n, errlen > n ? errlen - n : 0, " (SQLSTATE %s)", state);
	}
	c = pg_classify_sqlstate(state);
	if (c == PG_OK)  /* "00000" on an error result: nothing sensible to retry */
		c = PG_SETUP;
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK || state == NULL ||
	    has_prefix(state, "08") || has_prefix(state, "57P") || strcmp(state, "26000") == 0)
		pg_session_disconnect(s);
	return c;
}

pg_class pg_session_exec(pg_session *s, const char *sql, ExecStatusType want, const char *what,
                         char *err, size_t errlen)
{
	PGresult *res;
	pg_class c;

	c = pg_session_connect(s, err, errlen);
	if (c != PG_OK)
		return c;
	res = PQexec(s->conn, sql);
	c = pg_session_check(s, res, want, what, err, errlen);
	PQclear(res);
	return c;
}

pg_class pg_session_transaction(pg_session *s, pg_txn_fn fn, void *arg, char *err, size_t errlen)
{
	pg_class c;

	c = pg_session_exec(s, "BEGIN", PGRES_COMMAND_OK, "BEGIN", err, errlen);
	if (c != PG_OK)
		return c;
	c = fn(s, arg, err, errlen);
	if (c == PG_OK)
		c = pg_session_exec(s, "COMMIT", PGRES_COMMAND_OK, "COMMIT", err, errlen);
	if (c != PG_OK && pg_session_conn(s) != NULL)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	return c;
}

/* "SELECT on t", "UPDATE (c) on t", "EXECUTE on f(...)" for every need role
 * $4 (NULL: the current user) lacks, comma-separated; missing objects count
 * as lacking. */
static const char missing_sql[] =
	"SELECT string_agg(CASE WHEN c IS NULL THEN p || ' on ' || o ELSE p || ' (' || c || ') on ' || o END,"
	"                  ', ' ORDER BY i)"
	"  FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS n(p, o, c, i),"
	"       coalesce($4::name, current_user) AS r(who)"
	" WHERE NOT coalesce(CASE WHEN p = 'EXECUTE' THEN has_function_privilege(who, to_regprocedure(o), p)"
	"                         WHEN c IS NULL THEN has_table_privilege(who, to_regclass(o), p)"
	"                         WHEN NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass(o)"
	"                                            AND a.attname = c AND NOT a.attisdropped) THEN false"
	"                         ELSE has_column_privilege(who, to_regclass(o), c, p) END, false)";

/* A PostgreSQL array literal of n strings (NULL elements allowed). */
static char *array_literal(const pg_need *needs, size_t n, int field)
{
	size_t cap = 3, i, len = 0;
	char *buf;
	const char *v, *p;

	for (i = 0; i < n; i++) {
		v = field == 0 ? needs[i].privilege : field == 1 ? needs[i].object : needs[i].column;
		cap += v != NULL ? 2 * strlen(v) + 4 : 5;
	}
	buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	buf[len++] = '{';
	for (i = 0; i < n; i++) {
		v = field == 0 ? needs[i].privilege : field == 1 ? needs[i].object : needs[i].column;
		if (i > 0)
			buf[len++] = ',';
		if (v == NULL) {
			memcpy(buf + len, "NULL", 4);
			len += 4;
			continue;
		}
		buf[len++] = '"';
		for (p = v; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf[len++] = '\\';
			buf[len++] = *p;
		}
		buf[len++] = '"';
	}
	buf[len++] = '}';
	buf[len] = '\0';
	return buf;
}

/* The schema version into *version; PG_OK, or the error (e.g. no SELECT
 * on schema_migrations) in err. */
static pg_class read_version(pg_session *s, int *version, char *err, size_t errlen)
{
	PGresult *res;
	pg_class c;

	res = PQexec(s->conn, "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0"
	                      " ELSE (SELECT coalesce(max(version), 0) FROM schema_migrations) END");
	c = pg_session_check(s, res, PGRES_TUPLES_OK, "reading the schema version", err, errlen);
	if (c == PG_OK)
		*version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return c;
}

pg_class pg_session_missing(pg_session *s, const char *role, const pg_need *needs, size_t n_needs,
                            char **missing, char *err, size_t errlen)
{
	char *arrays[3] = { NULL, NULL, NULL };
	const char *params[4] = { NULL, NULL, NULL, role };
	PGresult *res = NULL;
	pg_class c = PG_OK;
	int i;

	*missing = NULL;
	for (i = 0; i < 3; i++) {
		arrays[i] = array_literal(needs, n_needs, i);
		if (arrays[i] == NULL) {
			snprintf(err, errlen, "out of memory checking %zu privileges", n_needs);
			c = PG_TRANSIENT;
			goto out;
		}
	}
	for (i = 0; i < 3; i++)
		params[i] = arrays[i];
	res = PQexecParams(s->conn, missing_sql, 4, NULL, params, NULL, NULL, 0);
	c = pg_session_check(s, res, PGRES_TUPLES_OK, "checking privileges", err, errlen);
	if (c != PG_OK)
		goto out;
	*missing = strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	if (*missing == NULL) {
		snprintf(err, errlen, "out of memory checking %zu privileges", n_needs);
		c = PG_TRANSIENT;
	}
out:
	PQclear(res);
	for (i = 0; i < 3; i++)
		free(arrays[i]);
	return c;
}

pg_class pg_session_check_ready(pg_session *s, const char *program, int min_version,
                                const pg_need *needs, size_t n_needs, char *err, size_t errlen)
{
	char verr[400];
	char *missing = NULL;
	int version = -1;
	pg_class c, vc;

	c = pg_session_connect(s, err, errlen);
	if (c != PG_OK)
		return c;
	/* Version first in the verdict (an old schema lacks the new objects
	 * anyway), but read it after the privileges: without SELECT on
	 * schema_migrations the privilege line is the one that helps. */
	c = pg_session_missing(s, NULL, needs, n_needs, &missing, err, errlen);
	if (c != PG_OK)
		return c;
	vc = read_version(s, &version, verr, sizeof verr);
	if (vc == PG_OK && version < min_version) {
		snprintf(err, errlen, "database %s is at schema version %d, %s needs %d: run sms-db migrate",
		         PQdb(s->conn), version, program, min_version);
		c = PG_SETUP;
	} else if (*missing != '\0') {
		snprintf(err, errlen, "database role %s lacks what %s needs: %s (sms-db roles creates a role "
		         "holding exactly these; GRANT it to %s)", PQuser(s->conn), program, missing, PQuser(s->conn));
		c = PG_SETUP;
	} else if (vc != PG_OK) {
		snprintf(err, errlen, "%s", verr);
		c = vc;
	}
	free(missing);
	return c;
}
