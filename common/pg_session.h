/*
 * A PostgreSQL session for the SMS programs (libpq), and what its errors
 * mean for the caller:
 *
 *   PG_TRANSIENT  the database is unreachable or asked us to try again
 *                 (class 08, 57P01-57P03, 53, 40001/40P01, 55P03, ...):
 *                 nothing happened, retry later;
 *   PG_SETUP      the deployment is wrong (privileges, missing objects,
 *                 authentication, schema version): never the fault of the
 *                 data at hand, retry after someone fixes it, say so loudly;
 *   PG_DATA       the database refused this data (classes 22, 23, the
 *                 schema's own SMSxx codes): keep it elsewhere.
 *
 * Error texts are one line, carry the SQLSTATE and never the password.
 * One session per thread (a PGconn is not shared).
 */
#ifndef SMS_PG_SESSION_H
#define SMS_PG_SESSION_H

#include <stddef.h>
#include <libpq-fe.h>

typedef enum { PG_OK = 0, PG_TRANSIENT, PG_SETUP, PG_DATA } pg_class;

/* Pure: the class of a SQLSTATE (NULL or malformed: PG_TRANSIENT, the
 * connection broke before the server said anything). */
pg_class pg_classify_sqlstate(const char *sqlstate);
const char *pg_class_name(pg_class c);

typedef struct pg_session pg_session;

pg_session *pg_session_new(const char *conninfo, const char *application_name);
void pg_session_free(pg_session *s);

/* Connects unless connected. PG_SETUP for authentication, unknown role or
 * database, refused TLS; PG_TRANSIENT otherwise. err names user, host, port
 * and database (not the conninfo string, which may hold a password). */
pg_class pg_session_connect(pg_session *s, char *err, size_t errlen);
/* As pg_session_connect, retrying PG_TRANSIENT with backoff for up to
 * max_wait_ms. */
pg_class pg_session_connect_retry(pg_session *s, long max_wait_ms, char *err, size_t errlen);
void pg_session_disconnect(pg_session *s);
/* NULL when not connected. */
PGconn *pg_session_conn(pg_session *s);
/* 1 once after every new connection (prepare statements then). */
int pg_session_fresh(pg_session *s);

/* Checks res (which it does not free) for want; otherwise "what: message
 * (SQLSTATE x)" in err and its class. Drops the connection when it broke. */
pg_class pg_session_check(pg_session *s, const PGresult *res, ExecStatusType want, const char *what,
                          char *err, size_t errlen);
/* Runs sql (no parameters) expecting want; the result is freed. */
pg_class pg_session_exec(pg_session *s, const char *sql, ExecStatusType want, const char *what,
                         char *err, size_t errlen);

/* BEGIN; fn; COMMIT, or ROLLBACK when fn (or COMMIT) fails. */
typedef pg_class (*pg_txn_fn)(pg_session *s, void *arg, char *err, size_t errlen);
pg_class pg_session_transaction(pg_session *s, pg_txn_fn fn, void *arg, char *err, size_t errlen);

/* One privilege a program needs: privilege on a table (column: NULL) or
 * one of its columns, or EXECUTE on a function given by its signature. */
typedef struct {
	const char *privilege;  /* SELECT, INSERT, UPDATE, DELETE, EXECUTE */
	const char *object;     /* "t_snapshot", "sms_dead_letter(bytea,text)" */
	const char *column;
} pg_need;

/* What role (NULL: the current user) lacks of needs, as "INSERT on t, ..."
 * in *missing ("" when nothing; malloc'd, free it). Connected sessions only. */
pg_class pg_session_missing(pg_session *s, const char *role, const pg_need *needs, size_t n_needs,
                            char **missing, char *err, size_t errlen);

/* The database is ready for a program: schema version >= min_version and
 * the current user holds every need. PG_SETUP with one line naming what is
 * missing ("missing INSERT on t_ingest_log, EXECUTE on f(...)"). */
pg_class pg_session_check_ready(pg_session *s, const char *program, int min_version,
                                const pg_need *needs, size_t n_needs, char *err, size_t errlen);

#endif
