/* sms-firmware's database session; contract in firmware_db.h. */
#include "services/firmware/firmware_db.h"

#include <stdio.h>

#include "common/db_privileges.h"
#include "services/firmware/firmware_cli.h"

pg_session *firmware_db_open(const char *conninfo)
{
	const db_role_spec *r = &db_role_firmware;
	pg_session *db = pg_session_new(conninfo, "sms-firmware");
	char err[1024];

	if (db == NULL) {
		firmware_fail("out of memory");
		return NULL;
	}
	if (pg_session_connect(db, err, sizeof err) != PG_OK ||
	    pg_session_check_ready(db, r->program, SMS_FIRMWARE_SCHEMA_VERSION, r->needs, r->n_needs, err,
	                           sizeof err) != PG_OK) {
		firmware_fail("%s", err);
		pg_session_free(db);
		return NULL;
	}
	return db;
}

PGresult *firmware_db_query(pg_session *db, const char *what, ExecStatusType want, const char *sql, int n,
                            const char *const *params)
{
	PGresult *res = PQexecParams(pg_session_conn(db), sql, n, NULL, params, NULL, NULL, 0);
	char err[1024];

	if (pg_session_check(db, res, want, what, err, sizeof err) != PG_OK) {
		firmware_fail("%s", err);
		PQclear(res);
		return NULL;
	}
	return res;
}
