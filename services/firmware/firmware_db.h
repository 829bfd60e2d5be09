/*
 * sms-firmware's database session: connect (libpq's environment when the
 * conninfo is empty), check the schema version and the sms_firmware
 * privileges (common/db_privileges), and a few typed helpers over
 * PQexecParams (text parameters). One line on stderr on every failure.
 */
#ifndef SMS_FIRMWARE_DB_H
#define SMS_FIRMWARE_DB_H

#include <libpq-fe.h>

#include "common/pg_session.h"

/* A ready session, or NULL after one line on stderr. */
pg_session *firmware_db_open(const char *conninfo);
/* Runs sql with n text params; the result when it has status want, else
 * NULL after one line "sms-firmware: what: ..." on stderr. */
PGresult *firmware_db_query(pg_session *db, const char *what, ExecStatusType want, const char *sql, int n,
                            const char *const *params);

#endif
